"""Types of the messages' hour prefixes in C (_stamps.c, built with the project)."""

def plain_stamps(
    messages: list, hour_numbers: dict[str, int], /
) -> tuple[list[str], set[str], str, str] | None:
    """(hour prefixes, those not in hour_numbers, lowest stamp, highest stamp), or None."""
