"""Streaming readers for messages.json (layouts C, D) and messages.csv (layouts A, B)."""

import codecs
import csv
import io
import json
import re

# _count_elements: Counter's own C counting loop, private and so not in typeshed
from collections import Counter, _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import Any

import orjson

from parsers.instants import HOUR_KEYS, HOUR_STARTS, MAX_CACHED_HOURS, hour_start, parse_instant
from parsers.streams import Skipped, iter_lines

_SEPARATORS = " \t\r\n,[]"
_HOUR_PREFIX = itemgetter(slice(0, 13))
_TENTH = itemgetter(10)
# The ":MM:SS" of a "YYYY-MM-DD HH:MM:SS" stamp, and every one parse_instant accepts (a leap
# second, ":60", goes one by one): a stamp counted by its hour's prefix is one parse_instant
# accepts in that hour, whether the hour was seen before or not.
_CLOCK = itemgetter(slice(13, 19))
_CLOCKS = frozenset(f":{minute:02d}:{second:02d}" for minute in range(60) for second in range(60))
# Cap on a package's hour numbers: past it, new hours are counted one message at a time.
MAX_HOUR_NUMBERS = 250_000
_SURROGATE = re.compile("[\udc80-\udcff]")
# The "YYYY-MM-DD HH" of a stamp counted by its prefix, in ASCII digits (its date and hour are
# checked by hour_start): such stamps sort as their instants do, so bounds are kept as texts.
_PLAIN_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}")


class MessageSink:
    """Counts the messages of one channel per UTC hour (hours since the epoch).

    hour_numbers maps "YYYY-MM-DD HH" prefixes validated as parse_instant would to their numbers;
    the sinks of one package share it (the reader makes one per package), and entries are never
    removed while a sink holds counts under them.
    """

    def __init__(
        self, counts: Counter[int], skipped: Skipped, hour_numbers: dict[str, int] | None = None
    ) -> None:
        self.counts = counts
        self.skipped = skipped
        self.hour_numbers = {} if hour_numbers is None else hour_numbers
        self.records = 0
        # Fast-path bounds kept as the stamps' texts, "YYYY-MM-DD HH:MM:SS" and any fraction and
        # "+00:00" after it, all ASCII (they sort like instants).
        self._low = "~"
        self._high = ""
        self._first: float | None = None
        self._last: float | None = None
        self._pending: Counter[str] = Counter()  # hour prefix -> messages, see add_objects

    def add(self, timestamp: object) -> None:
        """Count one message by its Timestamp value (empty contents count too)."""
        self.records += 1
        if (
            type(timestamp) is str
            and timestamp[10:11] == " "
            and timestamp.isascii()  # texts then sort as instants (bounds)
            and _counted_by_hour(timestamp)
        ):
            start = HOUR_STARTS.get(timestamp[:13])
            if start is not None:
                self.counts[start // 3600] += 1
                # The whole stamp, its fraction kept: the bounds are the instants parse_instant
                # reads, whether this hour was known before or not (after the clock, "+" sorts
                # before "." and the digits, so such texts still sort as their instants).
                if timestamp < self._low:
                    self._low = timestamp
                if timestamp > self._high:
                    self._high = timestamp
                return
        seconds = parse_instant(timestamp)
        if seconds is None:
            self.skipped.add("invalid_timestamp")
            return
        self.counts[int(seconds // 3600)] += 1
        if self._first is None or seconds < self._first:
            self._first = seconds
        if self._last is None or seconds > self._last:
            self._last = seconds

    @property
    def first(self) -> float | None:
        """Return the oldest message instant seen."""
        values = [self._first, parse_instant(self._low) if self._high else None]
        return min((value for value in values if value is not None), default=None)

    @property
    def last(self) -> float | None:
        """Return the newest message instant seen."""
        values = [self._last, parse_instant(self._high) if self._high else None]
        return max((value for value in values if value is not None), default=None)

    def add_object(self, message: object) -> None:
        """Count one decoded message object."""
        if not isinstance(message, dict):
            self.records += 1
            self.skipped.add("invalid_message")
            return
        timestamp = message.get("Timestamp")
        if timestamp is None:
            timestamp = message.get("timestamp")
        if timestamp is None:
            self.records += 1
            self.skipped.add("no_timestamp")
            return
        self.add(timestamp)

    def add_objects(self, messages: list) -> None:
        """Count decoded messages exactly as add_object would, one at a time, in this order.

        When every message is an object with a plain "YYYY-MM-DD HH:MM:SS" Timestamp, they are
        counted per hour prefix (folded into counts by finish()); otherwise one by one.
        """
        scanned = plain_stamps(messages, self.hour_numbers)
        if scanned is None:
            for message in messages:
                self.add_object(message)
            return
        prefixes, fresh, low, high = scanned
        if fresh:
            fresh = _learn_hours(fresh, self.hour_numbers)
        if fresh:
            stamps: list[str] = [message["Timestamp"] for message in messages]  # all plain
            for stamp in [stamp for stamp in stamps if stamp[:13] in fresh]:
                self.add(stamp)  # an hour not learnt: exactly, in order
            stamps = [stamp for stamp in stamps if stamp[:13] not in fresh]
            if not stamps:
                return
            prefixes = list(map(_HOUR_PREFIX, stamps))
            low, high = min(stamps), max(stamps)
        self.records += len(prefixes)
        _count_elements(self._pending, prefixes)
        if low < self._low:
            self._low = low
        if high > self._high:
            self._high = high

    def add_lines(self, buffer: bytes, stop: int) -> int:
        """Count the leading lines of buffer[:stop] while each is a message of the usual shape,
        without decoding them (`_stamps.line_stamps`: one flat object whose single "Timestamp"
        is a plain stamp of an hour C reads), as add() would count their Timestamps; return
        where the first line it did not take starts (`stop` when it took them all, 0 where the
        C pass is not built). The caller decodes the rest."""
        if line_stamps is None:
            return 0
        taken, records, low, high = line_stamps(
            buffer, stop, self.counts, HOUR_KEYS, MAX_CACHED_HOURS
        )
        if records:
            assert low is not None and high is not None  # the stamps of those messages
            self.records += records
            self._low = min(self._low, low)
            self._high = max(self._high, high)
        return taken

    def finish(self) -> None:
        """Fold the hour prefixes counted by add_objects into counts."""
        pending, self._pending = self._pending, Counter()
        numbers = map(self.hour_numbers.__getitem__, pending.keys())
        hours = dict(zip(numbers, pending.values(), strict=True))  # one prefix per hour (ASCII)
        self.counts.update(hours)  # a plain dict update when counts is still empty


def _learn_hours(new: set[str], hour_numbers: dict[str, int]) -> set[str]:
    """Number the new hour prefixes that can be counted in bulk; return the others.

    A new hour is numbered when its prefix is in ASCII digits and each of its stamps here is
    one parse_instant accepts (then counting them one by one would have numbered it at the first
    and counted them all): add_objects hands only stamps whose ":MM:SS" parse_instant accepts,
    so that is the case of every stamp of an hour whose prefix hour_start takes. Any other
    hour's stamps (digits of other scripts, which parse_instant reads, included) are counted one
    by one, in order, as add() does.
    """
    left = number_hours(new, hour_numbers, MAX_HOUR_NUMBERS, HOUR_STARTS, MAX_CACHED_HOURS)
    number_hours_py(left, hour_numbers, MAX_HOUR_NUMBERS)
    return new.difference(hour_numbers)


def number_hours_py(new, hour_numbers: dict[str, int], max_numbers: int, *_) -> list[str]:
    """Number each prefix of `new` that is "YYYY-MM-DD HH" in ASCII digits and that hour_start
    takes (which remembers its start in instants.HOUR_STARTS), while hour_numbers holds fewer
    than max_numbers; return [] (nothing left). The reference of `_stamps.number_hours`, its C
    twin, which numbers the prefixes it reads and leaves the others to this one; the C twin's
    last two arguments (the starts' cache and its cap) are instants' own here, hence ignored."""
    for prefix in new:
        if not _PLAIN_HOUR.fullmatch(prefix):
            continue
        start = HOUR_STARTS.get(prefix)
        if start is None:
            start = hour_start(prefix)
        if start is not None and len(hour_numbers) < max_numbers:
            hour_numbers[prefix] = start // 3600
    return []


def plain_stamps_py(messages: list, hour_numbers: dict[str, int]):
    """(hour prefixes, the set of those not in hour_numbers, lowest stamp, highest stamp) when
    every message is a dict whose Timestamp is a str of 19 characters, a space at index 10 and a
    clock parse_instant accepts; else None. The reference of `_stamps.plain_stamps`, its C twin,
    and the fallback where it is not built."""
    if type(messages) is not list or not messages:
        return None  # counted one by one: the same counts
    try:
        found: list[Any] = list(map(dict.get, messages, repeat("Timestamp")))
    except TypeError:  # not all objects
        return None
    if (
        set(map(type, found)) != {str}
        or set(map(len, found)) != {19}
        or set(map(_TENTH, found)) != {" "}
        or not _CLOCKS.issuperset(map(_CLOCK, found))
    ):
        return None
    prefixes = list(map(_HOUR_PREFIX, found))
    return prefixes, set(prefixes).difference(hour_numbers), min(found), max(found)


plain_stamps: Callable[[list, dict[str, int]], Any]
number_hours: Callable[..., list[str]]
line_stamps: Callable[..., tuple[int, int, str | None, str | None]] | None
try:
    from parsers.sources._stamps import line_stamps, number_hours, plain_stamps
except ImportError:  # pragma: no cover - a checkout where the extension was not built
    plain_stamps, number_hours, line_stamps = plain_stamps_py, number_hours_py, None


def _counted_by_hour(timestamp: str) -> bool:
    """A "YYYY-MM-DD HH:MM:SS" stamp, alone or with a fraction and "+00:00", whose clock
    parse_instant accepts (a leap second excepted): in a known hour, counted by its prefix, as
    parse_instant would count it."""
    if len(timestamp) < 19:
        return False
    if len(timestamp) != 19:
        if not timestamp.endswith("+00:00"):
            return False
        fraction = timestamp[19:-6]
        if fraction and not (fraction[:1] == "." and fraction[1:].isdecimal()):
            return False
    return _CLOCK(timestamp) in _CLOCKS


def read_messages_json(stream, sink: MessageSink, max_line_bytes: int) -> None:
    """Stream a messages.json array: one object per line fast, other shapes by a bounded scanner."""
    scanner = _Scanner(sink, max_line_bytes)
    loads, add_object, decode_error = orjson.loads, sink.add_object, orjson.JSONDecodeError
    for line in iter_lines(stream, max_line_bytes):
        if line is None:
            scanner.reset("too_long")
            continue
        body = line.strip(b" \t\r\n,[]")
        if not body:
            continue
        if body[0] == 0x7B:  # "{": a new object starts, whatever was pending is broken
            if scanner.buffer:
                scanner.reset("invalid_json")
            if body[-1] == 0x7D:
                try:
                    add_object(loads(body))
                    continue
                except decode_error:
                    pass  # several objects on a line, huge ints, bad JSON: the scanner decides
        scanner.feed(line)
    scanner.finish()


class _Scanner:
    """Decodes JSON objects across any line breaks with raw_decode over a bounded buffer."""

    def __init__(self, sink: MessageSink, max_bytes: int) -> None:
        self.sink = sink
        self.max_bytes = max_bytes
        self.buffer = ""
        self.decoder = json.JSONDecoder()
        self.utf8 = codecs.getincrementaldecoder("utf-8")()

    def reset(self, reason: str | None) -> None:
        """Drop the pending text, counting it as skipped for a reason."""
        if reason is not None:
            self.sink.records += 1
            self.sink.skipped.add(reason)
        self.buffer = ""
        self.utf8.reset()

    def feed(self, data: bytes) -> None:
        """Add raw bytes and decode every complete object they finish."""
        try:
            self.buffer += self.utf8.decode(data)
        except UnicodeDecodeError:
            self.reset("invalid_utf8")
            return
        self._drain()
        if len(self.buffer) > self.max_bytes:
            self.reset("too_long")

    def _drain(self) -> None:
        text, position = self.buffer, 0
        while True:
            while position < len(text) and text[position] in _SEPARATORS:
                position += 1
            if position >= len(text):
                break
            if text[position] != "{":
                # Junk between objects: skip to the next object start.
                following = text.find("{", position)
                self.sink.records += 1
                self.sink.skipped.add("invalid_json")
                position = len(text) if following < 0 else following
                continue
            try:
                message, position = self.decoder.raw_decode(text, position)
            except json.JSONDecodeError:
                break  # incomplete: wait for more lines
            self.sink.add_object(message)
        self.buffer = text[position:]

    def finish(self) -> None:
        """Decode what is left at the end of the file; anything incomplete is invalid."""
        self._drain()
        if self.buffer.strip(_SEPARATORS):
            self.reset("invalid_json")


def read_messages_csv(stream, sink: MessageSink, max_line_bytes: int) -> None:
    """Stream a messages.csv with the csv module (CRLF, multi-line quoted contents, "" quotes)."""
    csv.field_size_limit(max_line_bytes)
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(_bounded_lines(text, max_line_bytes, sink))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return
    columns = [name.strip().lstrip("\ufeff").lower() for name in header]
    at = columns.index("timestamp") if "timestamp" in columns else 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            sink.records += 1
            sink.skipped.add("too_long")
            continue
        if row:
            _csv_row(row, at, sink)
    text.detach()


def _bounded_lines(text: io.TextIOWrapper, limit: int, sink: MessageSink):
    """Yield the text's lines; a line over the limit is drained in chunks, counted and dropped."""
    readline = text.readline
    while True:
        line = readline(limit + 1)
        if not line:
            return
        if len(line) > limit and line[-1] not in "\r\n":
            while (rest := readline(1 << 20)) and rest[-1] not in "\r\n":
                pass
            sink.records += 1
            sink.skipped.add("too_long")
            continue
        yield line


def _csv_row(row: list[str], at: int, sink: MessageSink) -> None:
    if len(row) <= at:
        sink.records += 1
        sink.skipped.add("invalid_row")
    elif any(_SURROGATE.search(field) for field in row):
        sink.records += 1
        sink.skipped.add("invalid_utf8")  # undecodable bytes were kept as surrogates
    else:
        sink.add(row[at])
