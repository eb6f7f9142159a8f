"""Per-day series as the views store them: the zero-filled list, or only its non-zero days.

Served series are always zero-filled (`api/series.py` expands the stored form on read). A
mostly-zero series is stored as `{"days": n, "zero": 0, "gaps": [gap, value, gap, value, ...]}`:
for each non-zero day in order, the number of zero days before it (since the previous non-zero
day, or the period's start), then its value. Building, sealing and storing it costs what its
non-zero days cost, not what its period's length does: a channel with 40 active days in 8 years
costs 40 pairs, not 2,920 numbers; gaps (small, repeating) also compress better than offsets.
"""

from parsers.aggregate.native import in_c

# Stored sparse when fewer than one day in SPARSE_BELOW counts; denser series stay lists, which
# are then about as small and cost the API nothing to serve.
SPARSE_BELOW = 4


def stored_series(
    start: int | None,
    days: int,
    zero: int | float,
    active: list[int],
    values: list,
    sparse: bool = True,
) -> list | dict:
    """Return a period's series as stored, from its non-zero days (day numbers, ascending).

    With `sparse` False it is always the zero-filled list: the package-wide views (four of
    them, whatever the package's shape) are stored as served, so the API sends their sealed
    text without parsing it.
    """
    if not active and sparse and days:  # a period without activity: most of a big package's
        return {"days": days, "zero": zero, "gaps": []}
    origin = start or 0  # None only for a period of no days
    if not sparse or len(active) * SPARSE_BELOW >= days:
        series = [zero] * days
        for day, value in zip(active, values, strict=True):
            series[day - origin] = value
        return series
    return {"days": days, "zero": zero, "gaps": sparse_gaps(active, values, origin)}


def sparse_gaps(active: list[int], values: list, origin: int) -> list:
    """[gap, value, gap, value, ...] of the active days from `origin` (in C when built)."""
    gaps = in_c("sparse_gaps", active, values, origin)
    return python_gaps(active, values, origin) if gaps is None else gaps


def python_gaps(active: list[int], values: list, origin: int) -> list:
    """sparse_gaps in Python (the C loop's reference)."""
    flat = [0] * (2 * len(active))
    previous_days = [origin - 1, *active]  # one longer: its last day follows nothing
    flat[::2] = [day - previous - 1 for day, previous in zip(active, previous_days, strict=False)]
    flat[1::2] = values
    return flat
