"""Readers of the account, channel and message files of a package."""
