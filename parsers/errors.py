"""Errors raised by the package parsers."""


class InvalidPackage(Exception):
    """The file is not a Discord data package that can be read safely."""

    code = "INVALID_PACKAGE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # The message is a human sentence that never quotes package content.
        self.message = message
