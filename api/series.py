"""Per-day series as served: zero-filled lists, whichever form the view stored them in.

The worker stores a mostly-zero series as `{"days": n, "zero": 0, "gaps": [gap, value, ...]}`:
for each non-zero day in order, the number of zero days before it, then its value (see
`parsers/aggregate/series.py` and docs/statistics.md); any other series as its zero-filled list,
as every series was before. Only the period that is served is expanded.
"""

from __future__ import annotations

SERIES_SECTIONS = ("messages", "voice")


def zero_filled(series: list | dict) -> list:
    """The zero-filled list of a stored per-day series (a list is already one)."""
    if isinstance(series, list):
        return series
    filled = [series["zero"]] * series["days"]
    pairs = iter(series["gaps"])
    day = -1
    for gap, value in zip(pairs, pairs, strict=True):
        day += gap + 1
        filled[day] = value
    return filled


def served_period(figures: dict) -> dict:
    """A period's figures with their per-day series zero-filled, changed in place and returned."""
    for section in SERIES_SECTIONS:
        block = figures.get(section)
        if isinstance(block, dict) and "per_day" in block:
            block["per_day"] = zero_filled(block["per_day"])
    return figures
