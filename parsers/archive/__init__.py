"""The zip itself: safety checks, where each kind of file lives, the layout, the inflater."""
