"""Types of the voice and session pairing in C (_pairs.c, built with the project)."""

from collections.abc import Callable

def pair_voice(
    events: list,
    cap: int,
    voice_guild: dict,
    voice: dict,
    stays: list,
    counter_type: Callable[[], dict],
    /,
) -> None:
    """`pick._pair_voice`: TypeError, before anything is counted, for an odd event."""

def pair_sessions(events: list, cap: int, starts: dict, minutes: dict, spans: list, /) -> None:
    """`pick._pair_sessions`: TypeError, before anything is counted, for an odd event."""
