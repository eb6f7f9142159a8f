"""Loosely typed values of the account and channel JSON files, read one way everywhere."""


def json_text(value: object) -> str | None:
    """Return a scalar as text; None for null, booleans, objects, arrays and the empty string."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text or None
