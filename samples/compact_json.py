"""JSON text as Discord's exports (and orjson) write it, with the standard library only.

Compact separators, non-ASCII kept as UTF-8, control characters escaped: for strings, lists,
dicts, ints, bools and None the bytes are the same as orjson.dumps gives.
"""

import json

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compact(value: object) -> str:
    """Return the compact JSON text of a value."""
    return _COMPACT.encode(value)


def compact_bytes(value: object) -> bytes:
    """Return the compact JSON text of a value as UTF-8 bytes."""
    return _COMPACT.encode(value).encode()


def indented_bytes(value: object) -> bytes:
    """Return the value as UTF-8 JSON indented by two spaces, keys sorted."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode()
