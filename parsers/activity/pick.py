"""Pick one source folder per event family and pair voice joins/leaves and session starts/ends."""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from parsers.activity.rules import Rulebook, SourceTally, rulebook
from parsers.archive.package_map import ACTIVITY_SOURCES

native: ModuleType | None
try:  # the pairing loops in C (_pairs.c): built by `make venv`
    from parsers.activity import _pairs as native
except ImportError:  # pragma: no cover - a checkout where the extension was not built
    native = None

MAX_STAY_SECONDS = 24 * 3600
VoiceEvents = list[tuple[float, bool, str, str | None]]  # (instant, joined, channel, server)


@dataclass
class ActivityTotals:
    """The counted activity, each family taken from its chosen source."""

    sources: dict[str, str] = field(default_factory=dict)  # event type -> folder it came from
    events: dict[str, Counter[int]] = field(default_factory=dict)
    app_opens: Counter[tuple[int, str]] = field(default_factory=Counter)
    session_starts: Counter[tuple[int, str]] = field(default_factory=Counter)
    session_minutes: Counter[tuple[int, str]] = field(default_factory=Counter)
    voice: dict[str, Counter[int]] = field(default_factory=dict)
    voice_guild: dict[str, str | None] = field(default_factory=dict)
    # Each paired stay, as counted above: (channel id, start, end, counted seconds).
    voice_stays: list[tuple[str, float, float, float]] = field(default_factory=list)
    # Each paired session, as counted above: (start, end, counted seconds, os).
    session_spans: list[tuple[float, float, float, str]] = field(default_factory=list)
    reactions: Counter[tuple[int, str, str | None, str | None]] = field(default_factory=Counter)
    guilds_joined: Counter[tuple[int, str]] = field(default_factory=Counter)
    applications: Counter[tuple[int, str | None, str]] = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None


def pick_sources(tallies: dict[str, SourceTally]) -> ActivityTotals:
    """Per family, use the first of analytics, modeling, reporting, tns that has an event."""
    totals, book = ActivityTotals(), rulebook()
    for family, event_types in book.families.items():
        source = next(
            (
                name
                for name in ACTIVITY_SOURCES
                if name in tallies and family in tallies[name].families()
            ),
            None,
        )
        if source is None:
            continue
        for event_type in event_types:
            if tallies[source].events.get(event_type):
                totals.sources[event_type] = source
        _take(totals, tallies[source], family, book)
    return totals


def _take(totals: ActivityTotals, tally: SourceTally, family: str, book: Rulebook) -> None:
    """Take one family from its source: its day counts, bounds and its rules' entries."""
    targets: dict[str, bool] = {}  # SourceTally attribute -> listed
    for event_type in book.families[family]:
        if tally.events.get(event_type):
            totals.events[event_type] = tally.events[event_type]
        targets.update((into.target, into.listed) for into in book.by_type[event_type].into)
    low, high = tally.bounds[family]
    totals.first = low if totals.first is None else min(totals.first, low)
    totals.last = high if totals.last is None else max(totals.last, high)
    for target, listed in targets.items():
        if listed:
            PAIRINGS[target](totals, getattr(tally, target))
        else:
            getattr(totals, target).update(getattr(tally, target))


def _paired_in_c(loop: str, *args: Any) -> bool:
    """`_pairs.<loop>(*args)`, True when done; False where the caller's Python loop must run:
    the extension is not built, or an event is of another shape (TypeError, raised by the C
    loop before it counts anything)."""
    if native is None:
        return False
    try:
        getattr(native, loop)(*args)
    except TypeError:
        return False
    return True


def _pair_sessions(totals: ActivityTotals, events: list[tuple[float, bool, str]]) -> None:
    """Count each session start per day and OS, and pair each OS's starts and ends; in C
    (`_pairs.c`) unless an event is of another shape than the C loop checks for."""
    if not _paired_in_c(
        "pair_sessions", events, MAX_STAY_SECONDS, totals.session_starts,
        totals.session_minutes, totals.session_spans,
    ):  # fmt: skip
        pair_sessions_py(totals, events)


def pair_sessions_py(totals: ActivityTotals, events: list[tuple[float, bool, str]]) -> None:
    """`_pair_sessions` in Python: the reference of its C twin, and the fallback."""
    by_os: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for seconds, started, os_name in events:
        by_os[os_name].append((seconds, started))
        if started:
            totals.session_starts[(int(seconds // 86400), os_name)] += 1
    for os_name, moments in by_os.items():
        for start, end, seconds in _pairs(moments):
            totals.session_minutes[(int(start // 86400), os_name)] += seconds / 60.0
            totals.session_spans.append((start, end, seconds, os_name))


def _pair_voice(totals: ActivityTotals, events: VoiceEvents) -> None:
    """Note each channel's server and pair its joins and leaves; in C (`_pairs.c`)
    unless an event is of another shape than the C loop checks for."""
    if not _paired_in_c(
        "pair_voice", events, MAX_STAY_SECONDS, totals.voice_guild, totals.voice,
        totals.voice_stays, Counter,
    ):  # fmt: skip
        pair_voice_py(totals, events)


def pair_voice_py(totals: ActivityTotals, events: VoiceEvents) -> None:
    """`_pair_voice` in Python: the reference of its C twin, and the fallback."""
    by_channel: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for seconds, joined, channel_id, guild_id in events:
        by_channel[channel_id].append((seconds, joined))
        if guild_id is not None or channel_id not in totals.voice_guild:
            totals.voice_guild[channel_id] = guild_id
    for channel_id, moments in by_channel.items():
        minutes: Counter[int] = Counter()
        for start, end, seconds in _pairs(moments):
            minutes[int(start // 86400)] += seconds / 60.0
            totals.voice_stays.append((channel_id, start, end, seconds))
        if minutes:
            totals.voice[channel_id] = minutes


# How the per-event entries of each listed target become totals (rules.RULES lists them).
PAIRINGS: dict[str, Callable[[ActivityTotals, list[Any]], None]] = {
    "sessions": _pair_sessions,
    "voice": _pair_voice,
}


def _pairs(moments: list[tuple[float, bool]]):
    """Yield (start, end, seconds) for each start followed by an end, in time order, the
    seconds capped at 24 h."""
    # (seconds, is_start) pairs: at equal instants an end (False) sorts before a start, so
    # back-to-back stays pair correctly.
    moments.sort()
    opened: float | None = None
    for seconds, is_start in moments:
        if is_start:
            opened = seconds  # a start with no end counts nothing
        elif opened is not None:
            yield opened, seconds, min(seconds - opened, MAX_STAY_SECONDS)
            opened = None
