"""The activity rules, written once: which events count, what they read, what they add.

RULES is the one table. Every reading path is derived from it: the exact reader (exact.py)
dispatches on it, the Python fast loop and the C loop get their plans from it (day_counts.py),
and what an event adds to a tally is `fold`, read from the table by the exact reader and, written
out per rule from the same table (`written_fold`, `day_counts.raw_folds`), by the fast paths'
per-event and counted lines.
"""

import keyword
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

from parsers.instants import parse_instant


def text_field(value: object) -> str | None:
    """Return an event field as text; None for absent, empty, null or the string "null"."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().strip('"')
    return None if text in ("", "null", "None") else text


@dataclass(frozen=True, eq=False)  # each kind is itself (a key of the fast paths' caches)
class Kind:
    """How a field is read: one function for the decoded value and for the raw text alike."""

    name: str
    read: Callable[[object], object]
    native: int | None  # its code in the C loop (_linescan.c); None: the C loop cannot read it
    repeats: bool = True  # values recur (ids, names): the fast paths read each one once


TEXT = Kind("text", text_field, 0)  # a string or null: its text
# A timestamp: UTC seconds; absent or unusable: the event's own instant.
INSTANT = Kind("instant", parse_instant, 1, repeats=False)


@dataclass(frozen=True)
class Field:
    """A field an event is read for."""

    name: str
    kind: Kind = TEXT
    default: object = None  # what an absent, null or empty text counts as
    skip: tuple = ()  # values for which the event adds no entry (it still counts)


@dataclass(frozen=True)
class Into:
    """The entry an event adds to one SourceTally attribute."""

    target: str
    entry: tuple  # "day", "seconds" or a field's name, else a constant; one part: a bare value
    listed: bool = False  # one entry appended per event (a list), else counted (a Counter)


def counted(target: str, *entry) -> Into:
    """An entry counted per distinct value: SourceTally.<target>[entry] += 1."""
    return Into(target, entry)


def listed(target: str, *entry) -> Into:
    """An entry kept per event, in file order: SourceTally.<target>.append(entry)."""
    return Into(target, entry, listed=True)


class Layout(NamedTuple):
    """A rule made ready for fold: each entry is taken from a row [day, seconds, *values,
    *constants] by an itemgetter."""

    kinds: tuple  # the Kind of each field
    fills: tuple  # (instant, default, skip) of each field
    constants: tuple
    takes: tuple  # (target, entry getter, listed) of each Into


def _layout(rule: "Rule") -> Layout:
    constants = tuple(
        part for into in rule.into for part in into.entry if not isinstance(part, str)
    )
    at = {"day": 0, "seconds": 1, **{spec.name: 2 + k for k, spec in enumerate(rule.fields)}}
    takes, next_constant = [], 2 + len(rule.fields)
    for into in rule.into:
        indexes = []
        for part in into.entry:
            if isinstance(part, str):
                indexes.append(at[part])
            else:
                indexes.append(next_constant)
                next_constant += 1
        takes.append((into.target, itemgetter(*indexes), into.listed))
    return Layout(
        tuple(spec.kind for spec in rule.fields),
        tuple((spec.kind is INSTANT, spec.default, spec.skip) for spec in rule.fields),
        constants,
        tuple(takes),
    )


def written_fold(
    rule: "Rule", arguments: str, head: list[str], reads: list[str], env: dict
) -> Callable[..., None]:
    """A fold of this one rule written out and compiled: `head` (lines) binds `day`, `seconds`
    and `count` from the `arguments`, `reads` binds `v0, v1, ...` to the values of the rule's
    fields (Kind.read of each, None when absent), with the names it uses in `env`. Then, as in
    `fold`, the day is counted, each absent field filled, a skipped value ends the fold, and the
    entries are added. The reads are written only for a rule with entries."""
    env.update({"Counter": Counter, "EVENT": rule.event_type})
    body = [
        *head,
        "days = tally.events.get(EVENT)",
        "if days is None:",
        "    days = tally.events[EVENT] = Counter()",
        "days[day] += count",
    ]
    if rule.into:
        body += (reads if rule.fields else []) + _fill_lines(rule, env) + _entry_lines(rule, env)
    source = f"def fold_rule({arguments}):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<fold of {rule.event_type}>", "exec"), env)  # source: the table only
    written = env["fold_rule"]
    written.source = source  # shown by tests and when debugging
    return written


def _fill_lines(rule: "Rule", env: dict) -> list[str]:
    """Each absent value v0, v1, ... filled; a skipped one ends the fold."""
    lines = []
    for k, spec in enumerate(rule.fields):
        env[f"D{k}"], env[f"S{k}"] = spec.default, spec.skip
        if spec.kind is INSTANT:
            lines.append(f"if v{k} is None: v{k} = seconds")
        elif spec.default is not None:
            lines.append(f"if v{k} is None: v{k} = D{k}")
        if spec.skip:
            lines.append(f"if v{k} in S{k}: return")
    return lines


def _entry_lines(rule: "Rule", env: dict) -> list[str]:
    """Add each entry to its tally attribute: appended when listed, else counted."""
    names = {"day": "day", "seconds": "seconds"}
    names.update({spec.name: f"v{k}" for k, spec in enumerate(rule.fields)})
    lines = []
    for into in rule.into:
        parts = []
        for part in into.entry:
            if isinstance(part, str):  # a name the rule does not read: KeyError, as in _layout
                parts.append(names[part])
            else:  # a constant
                parts.append(f"C{len(env)}")
                env[parts[-1]] = part
        entry = parts[0] if len(parts) == 1 else f"({', '.join(parts)},)"
        lines.append(
            f"tally.{into.target}" + (f".append({entry})" if into.listed else f"[{entry}] += count")
        )
    return lines


@dataclass(frozen=True)
class Rule:
    """One counted event type: its family, the fields it reads and the entries it adds."""

    event_type: str
    family: str = ""  # one source folder is picked per family (pick.py); "" is its own type
    fields: tuple[Field, ...] = ()
    into: tuple[Into, ...] = ()
    layout: Layout = field(init=False, repr=False, compare=False)  # made from the above

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.event_type)
        for into in self.into:  # `written_fold` writes each as `tally.<target>`
            if not into.target.isidentifier() or keyword.iskeyword(into.target):
                raise ValueError(f"not an attribute name: {into.target!r}")
        object.__setattr__(self, "layout", _layout(self))

    @property
    def per_event(self) -> bool:
        """Its events are folded one by one (a listed entry or an instant needs each one)."""
        return any(into.listed for into in self.into) or any(
            spec.kind is INSTANT for spec in self.fields
        )


OS = Field("os", default="unknown")
# The client's clock: one client's starts and ends stay in order (the server's stamps lag).
TRACK = Field("client_track_timestamp", INSTANT)
VOICE = (Field("channel_id", skip=(None,)), Field("guild_id"), TRACK)
APPLICATION = Field("application_id", skip=(None, "-1"))
PER_DAY_ONLY = (
    "notification_clicked", "email_opened", "login_successful", "app_crashed",
    "captcha_served", "user_avatar_updated", "remote_auth_login",
    "oauth2_authorize_accepted", "voice_message_recorded", "message_reported",
    "premium_upsell_viewed",
)  # fmt: skip

# Every event also counts per (event type, day) in SourceTally.events and stretches its family's
# bounds; an event's instant is its timestamp, else its client_track_timestamp (exact.py).
RULES: tuple[Rule, ...] = (
    Rule("app_opened", fields=(OS,), into=(counted("app_opens", "day", "os"),)),
    Rule(
        "session_start", "sessions", (OS, TRACK),
        (listed("sessions", "client_track_timestamp", True, "os"),),
    ),
    Rule(
        "session_end", "sessions", (OS, TRACK),
        (listed("sessions", "client_track_timestamp", False, "os"),),
    ),
    Rule(
        "join_voice_channel", "voice", VOICE,
        (listed("voice", "client_track_timestamp", True, "channel_id", "guild_id"),),
    ),
    Rule(
        "leave_voice_channel", "voice", VOICE,
        (listed("voice", "client_track_timestamp", False, "channel_id", "guild_id"),),
    ),
    Rule("join_call"),
    Rule("start_call"),
    Rule(
        "guild_joined",
        fields=(Field("guild_id", default=""),),
        into=(counted("guilds_joined", "day", "guild_id"),),
    ),
    Rule(
        "add_reaction",
        fields=(Field("emoji_name", default="unknown"), Field("emoji_id"), Field("channel_id")),
        into=(counted("reactions", "day", "emoji_name", "emoji_id", "channel_id"),),
    ),
    Rule("message_edited"),
    Rule("message_deleted"),
    Rule("send_message"),
    Rule(
        "application_command_used",
        fields=(APPLICATION, Field("guild_id")),
        into=(counted("applications", "day", "guild_id", "application_id"),),
    ),
    Rule("slash_command_used"),
    *(Rule(name) for name in PER_DAY_ONLY),
)  # fmt: skip


class Rulebook:
    """A table of rules and the lookups every path makes in it."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.by_type = {rule.event_type: rule for rule in rules}
        self.families: dict[str, tuple[str, ...]] = {}  # family -> its event types, table order
        for rule in rules:
            self.families[rule.family] = (*self.families.get(rule.family, ()), rule.event_type)


_BOOKS: list[Rulebook] = []


def rulebook() -> Rulebook:
    """The rulebook of RULES as it is now (a test may replace the table)."""
    if not _BOOKS or _BOOKS[0].rules is not RULES:
        _BOOKS[:] = [Rulebook(RULES)]
    return _BOOKS[0]


@dataclass
class SourceTally:
    """Everything counted from one source folder (analytics, modeling, reporting or tns)."""

    events: dict[str, Counter[int]] = field(default_factory=dict)
    app_opens: Counter[tuple[int, str]] = field(default_factory=Counter)
    sessions: list[tuple[float, bool, str]] = field(default_factory=list)
    voice: list[tuple[float, bool, str, str | None]] = field(default_factory=list)
    reactions: Counter[tuple[int, str, str | None, str | None]] = field(default_factory=Counter)
    guilds_joined: Counter[tuple[int, str]] = field(default_factory=Counter)
    # (day, guild id, application id) of each command; none without an application or for "-1"
    applications: Counter[tuple[int, str | None, str]] = field(default_factory=Counter)
    bounds: dict[str, list[float]] = field(default_factory=dict)  # family -> [first, last]

    def families(self) -> set[str]:
        """Return the families with at least one event in this source."""
        by_type = rulebook().by_type
        return {by_type[event].family for event, days in self.events.items() if days}


def fold(
    tally: SourceTally, rule: Rule, day: int, seconds: float | None, values, count: int = 1
) -> None:
    """Add `count` events of a rule on `day` whose fields read `values` (Kind.read of each).

    The exact reader counts through here, per event; the fast paths through the same steps
    written out for the rule with the reading of its raw fields (`day_counts.raw_folds`), per
    event for a per-event rule (`seconds` then set) and per distinct (day, raw fields) with a
    count otherwise.
    """
    days = tally.events.get(rule.event_type)
    if days is None:
        days = tally.events[rule.event_type] = Counter()
    days[day] += count
    layout = rule.layout
    if not layout.takes:
        return
    row = [day, seconds]
    append = row.append
    for (instant, default, skip), value in zip(layout.fills, values, strict=False):  # one each
        if value is None:
            value = seconds if instant else default
        if value in skip:
            return
        append(value)
    row += layout.constants
    for target, entry_of, listed in layout.takes:
        if listed:
            getattr(tally, target).append(entry_of(row))
        else:
            getattr(tally, target)[entry_of(row)] += count


def widen_bounds(bounds: dict, key, value) -> None:
    """Stretch the [first, last] pair of `key` in `bounds` to include `value`."""
    pair = bounds.get(key)
    if pair is None:
        bounds[key] = [value, value]
    elif value < pair[0]:
        pair[0] = value
    elif value > pair[1]:
        pair[1] = value
