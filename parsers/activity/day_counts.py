"""Count usual-shape activity lines without decoding them: the fast paths' plans and counts.

A counted line of the usual shape (one flat object of compact JSON, its last timestamp
`"\\"YYYY-MM-DDTHH:MM:SS.fffZ\\""`, its fields plain strings or null; see raw_fields.py) is
read with the plan its rule gets here: in Python (`DayCounts.add`) or in C (`native_plans`,
_linescan.c). A line of a per-event rule is kept as (event type, hour, its instant, raw fields)
in `pending` and folded by `drain` before the scanner reads any line exactly, so entries keep the
file's order on every path; any other is counted under (event type, day, raw fields) and
folded by `flush`, each distinct key once, with its count. Each distinct hour prefix is parsed
once; bounds are the min/max of the stamp texts, parsed at flush. The C loop reads an instant
field whose hour it reads itself into its seconds (a float among the raw texts). A line that does
not fit returns False: the caller takes the exact path. Both folds go through each rule's fold of
raw texts (`raw_folds`): `rules.fold`'s steps written out from the table for the rule, with the
reading of each raw field in place, one Python call per event or key.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from parsers.activity.raw_fields import (
    READERS,
    Unsure,
    event_stamp,
    stamp_seconds,
    stamp_shaped,
    usual_end,
)
from parsers.activity.rules import (
    INSTANT,
    Kind,
    Rule,
    Rulebook,
    SourceTally,
    widen_bounds,
    written_fold,
)
from parsers.instants import hour_start, parse_instant

_MAX_HOUR_NUMBERS = 500_000  # cap on the hour cache (a hostile file may invent many prefixes)
_MAX_VALUES = 100_000  # cap on the cache of field values read (ids and names repeat)


class FastPlan(NamedTuple):
    """How the Python loop reads a rule's lines: per event or counted, and each field."""

    per_event: bool
    fields: tuple  # (b'"key":', reader of its raw value) per field of the rule


def _pattern(name: str) -> bytes:
    return f'"{name}":'.encode()


def fast_plans(book: Rulebook) -> dict[str, FastPlan]:
    """The Python loop's plan of every rule whose field kinds it reads."""
    return {
        rule.event_type: FastPlan(
            rule.per_event,
            tuple((_pattern(spec.name), READERS[spec.kind.name]) for spec in rule.fields),
        )
        for rule in book.rules
        if all(spec.kind.name in READERS for spec in rule.fields)
    }


def native_plans(
    book: Rulebook,
) -> dict[str, tuple[int, tuple[tuple[bytes, int | None], ...]]]:
    """The C loop's plans: event type -> (per event, ((b'"key":', kind code), ...)).

    Every kind code is an int: the type says `int | None` only because mypy cannot see that the
    filter below leaves out the rules with a None code.

    A rule with a field kind the C loop cannot read gets none: the C loop leaves its lines to
    the Python loop, which reads them or sends them to the exact path.
    """
    return {
        rule.event_type: (
            int(rule.per_event),
            tuple((_pattern(spec.name), spec.kind.native) for spec in rule.fields),
        )
        for rule in book.rules
        if all(spec.kind.native is not None for spec in rule.fields)
    }


class DayCounts:
    """Fast-path counts of one tally per (event type, day, fields), folded in by flush()."""

    def __init__(self, tally: SourceTally, book: Rulebook) -> None:
        self.tally = tally
        self.book = book
        self.plans = fast_plans(book)
        self.counts: dict[tuple, int] = {}
        self.bounds: dict[str, list[bytes]] = {}  # event type -> [lowest, highest] text
        self.hour_numbers: dict[bytes, int | None] = {}  # hour prefix -> number, None if unusable
        self.max_hour_numbers = _MAX_HOUR_NUMBERS
        # Kind -> {raw text: value} for each kind whose values recur (ids, names)
        self.known: dict[Kind, dict] = {
            kind: {None: None} for rule in book.rules for kind in rule.layout.kinds if kind.repeats
        }
        self.folds = raw_folds(book)
        self.pending: list[tuple] = []  # (event type, hour, instant, *raw fields) per event

    def add(self, buffer: bytes, pos: int, end: int, event_type: str, shape: int) -> bool:
        """Count the line buffer[pos:end] (no newline) if it has the usual shape.

        shape is buffer_shape(buffer): what the whole buffer may hold.
        """
        plan = self.plans.get(event_type)
        if plan is None:
            return False
        end = usual_end(buffer, pos, end, shape)
        stamp = None if end < 0 else event_stamp(buffer, pos, end)
        if stamp is None:
            return False
        hour = self.hour_numbers.get(stamp[:13], -1)
        if hour == -1:
            hour = self.hour_of(stamp[:13])
        if hour is None:
            return False
        try:
            raws = [read(buffer, pos, end, key) for key, read in plan.fields]
        except Unsure:
            return False
        if plan.per_event:
            self.pending.append((event_type, hour, stamp_seconds(stamp, hour), *raws))
        else:
            key = (event_type, hour // 24, *raws)
            self.counts[key] = self.counts.get(key, 0) + 1
        self._widen(event_type, stamp)
        return True

    def _widen(self, event_type: str, stamp: bytes) -> None:
        """widen_bounds on the stamp's text (fixed width, so it sorts like the instant)."""
        bounds = self.bounds.get(event_type)
        if bounds is None:
            self.bounds[event_type] = [stamp, stamp]
        elif stamp < bounds[0]:
            bounds[0] = stamp
        elif stamp > bounds[1]:
            bounds[1] = stamp

    def drain(self) -> None:
        """Fold the pending per-event lines into the tally, in file order."""
        tally, folds, known, learn, instant = (
            self.tally, self.folds, self.known, self.learn, self.instant
        )  # fmt: skip
        for entry in self.pending:
            folds[entry[0]](tally, entry, known, learn, instant)
        self.pending.clear()

    def learn(self, kind: Kind, raw: bytes) -> object:
        """Kind.read of a raw text not yet in `known` (ids and names recur: each is read once)."""
        known = self.known[kind]
        if len(known) >= _MAX_VALUES:
            known.clear()
            known[None] = None
        value = known[raw] = kind.read(raw.decode())
        return value

    def instant(self, raw: bytes | None) -> object:
        """INSTANT.read of a raw text (None when absent); a stamp of the usual shape from its
        hour's number (each hour parsed once)."""
        if raw is None:
            return None
        if len(raw) != 24 or not stamp_shaped(raw):
            return INSTANT.read(raw.decode())
        hour = self.hour_numbers.get(raw[:13], -1)
        if hour == -1:
            hour = self.hour_of(raw[:13])
        return None if hour is None else stamp_seconds(raw, hour)

    def hour_of(self, prefix: bytes) -> int | None:
        """The hour number of a YYYY-MM-DDTHH prefix (None if unusable), cached."""
        seconds = None
        if prefix.isascii() and len(prefix) == 13:
            seconds = hour_start(prefix.decode())
        hour = None if seconds is None else seconds // 3600
        if len(self.hour_numbers) < self.max_hour_numbers:
            self.hour_numbers[prefix] = hour
        return hour

    def flush(self) -> None:
        """Fold everything counted into the tally, each distinct key once, and reset."""
        self.drain()
        tally, folds, known, learn, instant = (
            self.tally, self.folds, self.known, self.learn, self.instant
        )  # fmt: skip
        for key, count in self.counts.items():
            folds[key[0]](tally, key, count, known, learn, instant)
        by_type = self.book.by_type
        for event_type, texts in self.bounds.items():
            for text in texts:
                seconds = parse_instant(text.decode())
                if seconds is not None:  # always, for a validated text
                    widen_bounds(self.tally.bounds, by_type[event_type].family, seconds)
        self.counts.clear()
        self.bounds.clear()


_MISSING = object()


@lru_cache(maxsize=4)  # one rulebook at a time (a test may replace the table)
def raw_folds(book: Rulebook) -> dict[str, Callable[..., None]]:
    """Each rule's fold of a fast-path line, written out (`rules.written_fold`).

    A per-event rule's takes a pending entry (event type, hour, its instant, *raw fields); a
    counted rule's a key (event type, day, *raw fields) and its count. Each reads its raw field
    texts as `Kind.read` would, through the caches of `DayCounts`: `known[kind]` (raw text ->
    value) and `learn` for a text of a recurring kind, `instant` for an instant the C loop
    did not read (it leaves a float), `Kind.read` for any other.
    """
    return {rule.event_type: _raw_fold(rule) for rule in book.rules}


def _raw_fold(rule: Rule) -> Callable[..., None]:
    raws = "".join(f", r{k}" for k in range(len(rule.fields)))
    if rule.per_event:
        arguments = "tally, entry, known, learn, instant"
        head = [f"_, hour, seconds{raws} = entry", "day = hour // 24", "count = 1"]
    else:
        arguments = "tally, key, count, known, learn, instant"
        head = [f"_, day{raws} = key", "seconds = None"]
    env: dict[str, object] = {"MISSING": _MISSING}
    reads, cache_of = [], {}  # Kind -> the local name of its cache
    for k, kind in enumerate(rule.layout.kinds):
        env[f"K{k}"] = kind
        if kind is INSTANT:
            reads.append(f"v{k} = r{k} if r{k}.__class__ is float else instant(r{k})")
        elif kind.repeats:
            if kind not in cache_of:
                cache_of[kind] = f"known{k}"
                reads.append(f"known{k} = known[K{k}]")
            reads.append(f"v{k} = {cache_of[kind]}.get(r{k}, MISSING)")
            reads.append(f"if v{k} is MISSING: v{k} = learn(K{k}, r{k})")
        else:
            reads.append(f"v{k} = None if r{k} is None else K{k}.read(r{k}.decode())")
    return written_fold(rule, arguments, head, reads, env)
