"""Types of the messages' hour prefixes in C (_stamps.c, built with the project)."""

def plain_stamps(
    messages: list, hour_numbers: dict[str, int], /
) -> tuple[list[str], set[str], str, str] | None:
    """(hour prefixes, those not in hour_numbers, lowest stamp, highest stamp), or None."""

def number_hours(
    fresh: set[str],
    hour_numbers: dict[str, int],
    max_numbers: int,
    hour_starts: dict[str, int],
    max_starts: int,
    /,
) -> list[str]:
    """Number the new hour prefixes C reads; the list of the others."""

def line_stamps(
    buffer: bytes, stop: int, counts: dict[int, int], hour_keys: dict[int, int], max_keys: int, /
) -> tuple[int, int, str | None, str | None]:
    """(taken, records, lowest stamp, highest stamp) of the leading usual lines of buffer[:stop]."""
