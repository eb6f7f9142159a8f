"""Lines on which the C loop, the Python loop and the exact reader once disagreed."""

import io
import random

import pytest

import parsers.activity.scan as scan
from parsers import instants
from parsers.activity.exact import read_activity
from parsers.activity.rules import SourceTally
from parsers.streams import Skipped

PATHS = ("native", "python", "exact")


def tally_with(path: str, data: bytes, max_line: int = 1 << 20):
    """(tally, skipped, lines) of one reading path, from cold hour caches."""
    instants.clear_caches()
    saved = scan._linescan
    if path == "python":
        scan._linescan = None
    try:
        tally, skipped = SourceTally(), Skipped()
        reader = read_activity if path == "exact" else scan.read_activity_fast
        lines = reader(io.BufferedReader(io.BytesIO(data)), tally, skipped, max_line)
    finally:
        scan._linescan = saved
    return dict(tally.__dict__), dict(skipped.by_reason), lines


def on_every_path(data: bytes, max_line: int = 1 << 20):
    """The one result of all three paths (the test fails when they differ)."""
    results = {path: tally_with(path, data, max_line) for path in PATHS}
    assert results["native"] == results["python"] == results["exact"]
    return results["exact"]


def test_a_brace_inside_a_flat_line_is_invalid_json_on_every_path():
    line = (
        b'{"event_type":"app_opened","os"}:null,'
        b'"timestamp":"\\"2024-03-01T15:10:00.000Z\\"","day":"3"}\n'
    )
    tally, skipped, _lines = on_every_path(line)
    assert skipped == {"invalid_json": 1} and not tally["events"]


# Found by test_c_loop_matches_the_python_loop_on_mangled_lines: a tab in the first line sent
# every counted line of the buffer to the exact path in Python, not in C.
TAB_ELSEWHERE = (
    b'\t{"event_type":"join_call","timestamp":"\\"2024-03-01T13:00:00.000Z\\"",'
    b'"timestamp":null,"d":"3"}\n'
    b'{"event_type":"app_opened","os"}:null,"timestamp":"\\"2024-03-01T15:10:00.000Z\\"",'
    b'"day":"3"}\n'
    b'{"event_type":"send_message","c":"\xc3\xa9","timestamp":"\\"2024-03-03T10:00:00.000Z\\"",'
    b'"day":"3"}\n'
    b'{"event_type":"app_opened","os":"Linux","os":"iOS",'
    b'"timestamp":"\\"2024-03-01T15:00:00.000Z\\"","day":"3"}\n'
)


def test_a_tab_in_one_line_changes_nothing_for_the_others():
    tally, skipped, lines = on_every_path(TAB_ELSEWHERE)
    assert lines == 4 and skipped == {"invalid_timestamp": 1, "invalid_json": 1}
    assert tally["app_opens"] == {(19783, "iOS"): 1}


@pytest.mark.parametrize("stamp", ["2024-02-29T23:59:60.000Z", "2024-02-29T12:59:60.500Z"])
def test_a_leap_second_counts_on_the_day_the_exact_reader_gives(stamp):
    line = f'{{"event_type":"send_message","timestamp":"\\"{stamp}\\"","day":"3"}}\n'
    tally, _skipped, _lines = on_every_path(line.encode())
    seconds = instants.parse_instant(stamp)
    assert tally["events"]["send_message"] == {int(seconds // 86400): 1}


def test_the_fast_paths_give_the_instants_parse_instant_gives():
    rng = random.Random(5)
    stamps = [
        f"20{rng.randint(15, 30)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}T"
        f"{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}."
        f"{rng.randint(0, 999):03}Z"
        for _ in range(400)
    ] + ["2024-02-29T23:59:59.999Z", "2015-01-01T00:00:00.000Z", "2024-12-31T23:00:00.001Z"]
    for key in ("timestamp", "client_track_timestamp"):  # the event's instant, a field's
        data = b"".join(
            f'{{"event_type":"session_start","timestamp":"\\"2024-03-02T13:00:00.250Z\\"",'
            f'"{key}":"\\"{stamp}\\""}}\n'.encode()
            for stamp in stamps
        )
        tally = on_every_path(data)[0]
        assert [entry[0] for entry in tally["sessions"]] == [
            instants.parse_instant(stamp) for stamp in stamps
        ]
