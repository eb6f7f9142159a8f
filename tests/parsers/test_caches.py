"""Every cache of the parsers is bounded: by a size cap, and to one package at a time."""

import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import parsers.activity.day_counts as day_counts
import parsers.activity.scan as scan
from parsers import instants
from parsers.activity.rules import TEXT, SourceTally, rulebook
from parsers.sources import messages
from parsers.sources.messages import MessageSink
from parsers.streams import Skipped
from tests.parsers.zipbuild import GENERAL, analyze, package

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cold_caches():
    """Each test starts and ends with empty process-wide caches."""
    instants.clear_caches()
    yield
    instants.clear_caches()


def hour_texts(count: int, separator: str = " ") -> list[str]:
    """count timestamps, each in an hour of its own, as "YYYY-MM-DD HH:MM:SS" texts."""
    return [
        (START + timedelta(hours=n, minutes=30)).strftime(f"%Y-%m-%d{separator}%H:%M:%S")
        for n in range(count)
    ]


def seconds_of(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_the_hour_start_cache_is_emptied_when_full(monkeypatch):
    monkeypatch.setattr(instants, "MAX_CACHED_HOURS", 10)
    texts = hour_texts(35)
    for _ in range(2):  # the second pass meets both cached and evicted hours
        assert [instants.parse_instant(text) for text in texts] == list(map(seconds_of, texts))
        assert 0 < len(instants.HOUR_STARTS) <= 10


def test_the_day_number_cache_is_emptied_when_full(monkeypatch):
    monkeypatch.setattr(instants, "MAX_CACHED_DAYS", 5)
    texts = [(START + timedelta(days=n)).strftime("%Y-%m-%dT12:00:00Z") for n in range(20)]
    for _ in range(2):
        seconds = [instants.parse_instant(text) for text in texts]
        assert seconds == [START.timestamp() + 43200 + 86400 * n for n in range(20)]
        assert 0 < len(instants._DAY_NUMBERS) <= 5


def test_an_analysis_starts_from_empty_caches_and_leaves_them_empty(tmp_path):
    # A wrong entry left by anything before must not be used: 10:15 would be counted at hour 0.
    instants.HOUR_STARTS["2024-01-01 10"] = 0
    files = package("C", messages={GENERAL: [("1", "2024-01-01 10:15:00", "hi")]})
    _, views = analyze(tmp_path, files)
    assert views["stats:lifetime"]["messages"]["per_hour"][10] == 1
    assert views["overview"]["last_message_at"] == "2024-01-01T10:15:00Z"
    assert not instants.HOUR_STARTS and not instants._DAY_NUMBERS and not instants.HOUR_KEYS


def test_the_message_counts_hour_keys_are_shared_and_capped(monkeypatch):
    monkeypatch.setattr(messages, "MAX_CACHED_HOURS", 3)
    lines = "\n".join(f'{{"Timestamp":"{text}"}}' for text in hour_texts(10)).encode() + b"\n"
    counters = [Counter(), Counter()]
    with instants.fresh_caches():
        for counts in counters:  # two channels of one package
            assert MessageSink(counts, Skipped()).add_lines(lines, len(lines)) == len(lines)
        assert len(instants.HOUR_KEYS) == 3
        shared = [key for key in counters[0] if key in instants.HOUR_KEYS]
        assert len(shared) == 3 and all(instants.HOUR_KEYS[key] is key for key in shared), (
            "the same objects"
        )
    assert (
        counters[0]
        == counters[1]
        == Counter({int(seconds_of(text)) // 3600: 1 for text in hour_texts(10)})
    )


def test_a_package_reads_the_same_whatever_was_read_before(tmp_path):
    # The first message of an hour is parsed exactly (with its fraction), later ones by the
    # hour cache (to the second): with caches kept across packages the result would change.
    files = package("A", messages={GENERAL: [("1", "2024-01-01 10:00:00.500000+00:00", "hi")]})
    first, _ = analyze(tmp_path, files)
    again, _ = analyze(tmp_path, files)
    assert first.package_date == again.package_date == START + timedelta(hours=10, seconds=0.5)


def test_message_hour_numbers_are_shared_by_one_package_and_capped(monkeypatch):
    monkeypatch.setattr(messages, "MAX_HOUR_NUMBERS", 3)
    texts = hour_texts(10)
    batch = [{"Timestamp": text} for text in texts for _ in range(3)]
    shared: dict[str, int] = {}
    counts = [Counter(), Counter()]
    for channel in counts:  # two channels of one package
        sink = MessageSink(channel, Skipped(), shared)
        sink.add_objects(batch)
        sink.add_objects(batch)
        sink.finish()
        assert sink.records == 60
    expected = Counter({int(seconds_of(text)) // 3600: 6 for text in texts})
    assert counts == [expected, expected]
    assert len(shared) == 3
    assert MessageSink(Counter(), Skipped()).hour_numbers is not shared  # one per package


def test_the_hour_numbers_of_activity_day_counts_are_capped(monkeypatch):
    monkeypatch.setattr(day_counts, "_MAX_HOUR_NUMBERS", 4)
    counts = day_counts.DayCounts(SourceTally(), rulebook())
    prefixes = [text[:13].encode() for text in hour_texts(12, "T")]
    for _ in range(2):
        hours = [counts.hour_of(prefix) for prefix in prefixes]
        assert hours == [int(START.timestamp()) // 3600 + n for n in range(12)]
        assert len(counts.hour_numbers) == 4


def test_the_hour_numbers_filled_by_either_loop_are_capped(monkeypatch, scan_loop):
    monkeypatch.setattr(day_counts, "_MAX_HOUR_NUMBERS", 4)
    lines = [
        b'{"event_type":"app_opened","os":"a","timestamp":"\\"%s.000Z\\""}\n' % text.encode()
        for text in hour_texts(12, "T")
    ]
    tally = SourceTally()
    scanner = scan.ActivityScanner(tally, Skipped(), 1 << 20)
    assert scanner.read(io.BufferedReader(io.BytesIO(b"".join(lines)))) == 12
    assert len(scanner.day_counts.hour_numbers) == 4
    assert sum(tally.events["app_opened"].values()) == 12


def test_the_field_values_read_by_the_fast_paths_are_capped(monkeypatch, scan_loop):
    monkeypatch.setattr(day_counts, "_MAX_VALUES", 4)
    stamp = "2024-01-01T10:00:00.000Z"
    lines = [
        b'{"event_type":"%s","channel_id":"%d","guild_id":null,'
        b'"client_track_timestamp":"\\"%s\\"","timestamp":"\\"%s\\""}\n'
        % (kind.encode(), n, stamp.encode(), stamp.encode())
        for n in range(10)
        for kind in ("join_voice_channel", "leave_voice_channel")
    ]
    tally = SourceTally()
    scanner = scan.ActivityScanner(tally, Skipped(), 1 << 20)
    assert scanner.read(io.BufferedReader(io.BytesIO(b"".join(lines)))) == 20
    assert 0 < len(scanner.day_counts.known[TEXT]) <= 4
    assert [(entry[1], entry[2]) for entry in tally.voice] == [
        (joined, str(n)) for n in range(10) for joined in (True, False)
    ]


def test_the_scanner_remembers_a_bounded_number_of_uncounted_names(monkeypatch, scan_loop):
    counted = len(rulebook().by_type)
    monkeypatch.setattr(scan, "_MAX_NAMES", counted + 5)
    lines = [f'{{"event_type":"made_up_{n}","x":1}}\n'.encode() for n in range(50)]
    scanner = scan.ActivityScanner(SourceTally(), Skipped(), 1 << 20)
    assert scanner.read(io.BufferedReader(io.BytesIO(b"".join(lines * 2)))) == 100
    assert len(scanner.names) == counted + 5
    assert not scanner.tally.events and not scanner.skipped.by_reason


@settings(max_examples=1500, deadline=None)
@given(
    st.text("0123456789:.TZ+- {x", min_size=0, max_size=6),
    st.integers(0, 10),
    st.sampled_from(["2024-03-02T14:", "2024-03-02 14:"]),
    st.text("0123456789:.TZ+- {x", min_size=0, max_size=12),
)
def test_an_hour_seen_before_never_changes_what_an_instant_reads(middle, cut, prefix, tail):
    text = prefix + "07:09.250Z"[:cut] + middle + tail
    instants.clear_caches()
    cold = instants.parse_instant(text)  # the full parse
    instants.clear_caches()
    instants.hour_start(prefix[:13])  # the hour seen before, as a fast path leaves it
    assert instants.parse_instant(text) == cold


@settings(max_examples=1500, deadline=None)
@given(
    st.text("0123456789:. +x", min_size=0, max_size=10),
    st.integers(0, 9),
    st.sampled_from(["", "+00:00", ".5+00:00"]),
)
def test_a_message_counts_as_parse_instant_reads_it_whether_its_hour_is_known(middle, cut, tail):
    stamp = "2024-03-02 14:" + "07:09"[:cut] + middle + tail
    instants.clear_caches()
    cold = MessageSink(Counter(), Skipped())
    cold.add(stamp)  # no hour known: parse_instant decides
    instants.hour_start("2024-03-02 14")
    warm = MessageSink(Counter(), Skipped(), {"2024-03-02 14": 473352})
    warm.add(stamp)
    assert (warm.counts, warm.first, warm.last) == (cold.counts, cold.first, cold.last)
