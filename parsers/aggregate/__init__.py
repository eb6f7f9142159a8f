"""What a package adds up to: its data, its channels, servers and people, and its periods."""
