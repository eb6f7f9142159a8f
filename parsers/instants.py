"""Fast parsing of the timestamps found in packages into UTC seconds and day numbers."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Discord's own epoch: an earlier instant in a package is a placeholder or garbage.
MIN_SECONDS = 1_420_070_400
_FAST = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]00:?00)?")
_UTC_TAILS = frozenset({"", "Z", "+00:00"})
# Caches of validated parses. They only save work (a missing entry means a full parse), so they
# are emptied when full and around each analysis (fresh_caches): a long-running worker holds at
# most one package's worth, and a package's figures never depend on the packages before it.
MAX_CACHED_DAYS = 20_000  # 55 years of dates
MAX_CACHED_HOURS = 250_000  # 14 years of hours in both spellings ("T" and " ")
# "YYYY-MM-DD" -> day number
_DAY_NUMBERS: dict[str, int] = {}
# "YYYY-MM-DD HH" (or with T) -> seconds at the start of that hour.
HOUR_STARTS: dict[str, int] = {}
# An hour's number -> the one int object of that value the package's message counts are keyed
# by (each channel's counter would otherwise hold an object of its own per hour: heavy, 10 MB).
HOUR_KEYS: dict[int, int] = {}


def clear_caches() -> None:
    """Empty the caches of validated dates and hours."""
    _DAY_NUMBERS.clear()
    HOUR_STARTS.clear()
    HOUR_KEYS.clear()


@contextmanager
def fresh_caches() -> Iterator[None]:
    """Run one analysis from empty caches, and empty them again when it ends."""
    clear_caches()
    try:
        yield
    finally:
        clear_caches()


def parse_instant(value: object) -> float | None:
    """Return UTC seconds since the epoch for a package timestamp, or None when unusable."""
    if isinstance(value, str):
        text = value.strip('"') if value[:1] == '"' else value
        seconds = _cached(text)
        if seconds is not None:
            return seconds
        text = text.strip().strip('"').strip()
        if not text or text == "null":
            return None
        match = _FAST.fullmatch(text)
        if match is not None:
            return _from_match(text, match)
        return _slow(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_number(float(value))
    return None


_HOUR_PREFIX = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d)")


def hour_start(prefix: str) -> int | None:
    """UTC seconds at the start of the hour "YYYY-MM-DD HH" (or with T); None when unusable.

    What parse_instant gives for that hour's first second, and remembered as parse_instant
    remembers it, without parsing a whole instant: a package with years of history has tens of
    thousands of distinct hours.
    """
    start = HOUR_STARTS.get(prefix)
    if start is not None:
        return start
    match = _HOUR_PREFIX.fullmatch(prefix)
    if match is None:
        return None
    day = _day_number(prefix)
    hour = int(match[4])
    if day is None or hour > 23 or day * 86400 < MIN_SECONDS:
        return None
    start = day * 86400 + hour * 3600
    _remember_hour(prefix, start)
    return start


def _day_number(text: str) -> int | None:
    """The day number of the date `text` starts with (its digits matched already), cached;
    None when there is no such date."""
    key = text[:10]
    day = _DAY_NUMBERS.get(key)
    if day is None:
        try:
            day = date(int(key[:4]), int(key[5:7]), int(key[8:10])).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return None
        if len(_DAY_NUMBERS) >= MAX_CACHED_DAYS:
            _DAY_NUMBERS.clear()
        _DAY_NUMBERS[key] = day
    return day


def _remember_hour(prefix: str, start: int) -> None:
    """Remember a validated hour prefix's start (HOUR_STARTS, emptied when full)."""
    if len(HOUR_STARTS) >= MAX_CACHED_HOURS:
        HOUR_STARTS.clear()
    HOUR_STARTS[prefix] = start


def _cached(text: str) -> float | None:
    """The common shapes, in an hour already seen: no regex, no date arithmetic. Only what the
    full parse accepts, with its value: anything else is None here, and the full parse decides
    (so a figure never depends on which hours were seen before)."""
    start = HOUR_STARTS.get(text[:13])
    if start is None or text[13:14] != ":" or text[16:17] != ":":
        return None
    tail = text[19:]
    if (
        tail
        and tail not in _UTC_TAILS
        and not (tail[0] == "." and (tail[-1] == "Z" or tail.endswith("+00:00")))
    ):
        return None
    minute, second = text[14:16], text[17:19]
    if (
        len(second) != 2
        or not (minute.isdecimal() and second.isdecimal())
        or minute > "59"
        or second > "60"
    ):
        return None
    seconds = start + int(minute) * 60 + int(second)
    if tail[:1] != ".":
        return float(seconds)
    digits = tail[1:-1] if tail[-1] == "Z" else tail[1:].removesuffix("+00:00")
    if not digits.isdecimal():
        return None
    return seconds + int(digits) / 10 ** len(digits)


def _from_match(text: str, match: re.Match[str]) -> float | None:
    day = _day_number(text)
    if day is None:
        return None
    hour, minute, second = int(match[4]), int(match[5]), int(match[6])
    if hour > 23 or minute > 59 or second > 60 or day * 86400 < MIN_SECONDS:
        return None
    seconds = day * 86400 + hour * 3600 + minute * 60 + second
    _remember_hour(text[:13], day * 86400 + hour * 3600)
    fraction = match[7]
    return seconds + float(fraction) if fraction else float(seconds)


def _slow(text: str) -> float | None:
    if text.replace(".", "", 1).isdecimal():  # not isdigit: "²" is a digit float() refuses
        return _from_number(float(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return seconds if seconds >= MIN_SECONDS else None


def _from_number(number: float) -> float | None:
    # Epoch numbers: milliseconds when too large to be seconds.
    if number > 1e11:
        number /= 1000.0
    return number if number >= MIN_SECONDS else None


def day_of(seconds: float) -> int:
    """Return the UTC day number (days since 1970-01-01) of an instant."""
    return int(seconds // 86400)


def day_to_iso(day: int) -> str:
    """Return the YYYY-MM-DD text of a day number."""
    return date.fromordinal(day + _EPOCH_ORDINAL).isoformat()


def iso_to_day(text: str) -> int:
    """Return the day number of a YYYY-MM-DD text."""
    return date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL


def instant_to_iso(seconds: float) -> str:
    """Return the ISO-8601 UTC text (second precision, Z suffix) of an instant."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(seconds // 1))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def instant_to_datetime(seconds: float) -> datetime:
    """Return an aware UTC datetime for an instant."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
