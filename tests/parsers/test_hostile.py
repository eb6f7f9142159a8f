"""Hostile packages: each ends as InvalidPackage or as skipped and counted lines, in bounded time
and memory (issue: hostile input, crashes and outages)."""

import struct
import time
import tracemalloc
import zipfile

import pytest

from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from tests.parsers.zipbuild import GENERAL, OWNER, analyze, event, package, write_zip

ROWS = {GENERAL: [("1", "2024-05-01 12:00:00", "hi")]}
NO_RATIO_LIMIT = ParseLimits(max_ratio=1e9)


def refuse(path, **options) -> None:
    with pytest.raises(InvalidPackage) as caught:
        analyze_package(path, package_id="x", **options)
    assert caught.value.code == "INVALID_PACKAGE"


def test_overlapping_entries_are_refused_before_inflating(tmp_path):
    path = write_zip(tmp_path / "p.zip", package("C", messages=ROWS))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    second = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, second + 42, 0)  # its data now starts where the first's does
    path.write_bytes(bytes(data))
    refuse(path)


def test_a_zip_bomb_is_refused_by_its_declared_ratio(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Activity/analytics/events-2024-00000-of-00001.json", b"\0" * 50_000_000)
    started = time.monotonic()
    refuse(path)
    assert time.monotonic() - started < 2


def test_a_100_mb_line_is_skipped_and_counted_in_bounded_memory(tmp_path):
    files = package("C", messages=ROWS)
    files["activity/analytics/events-2024-00000-of-00001.json"] = (
        b'{"event_type":"app_opened","x":"'
        + b"x" * 100_000_000
        + b'"}\n'
        + b'{"event_type":"app_opened","os":"Linux","timestamp":"\\"2024-05-01T10:00:00Z\\""}\n'
    )
    path = write_zip(tmp_path / "p.zip", files)
    del files
    tracemalloc.start()
    try:
        limits = ParseLimits(max_ratio=1e9, max_line_bytes=1 << 20)
        views = dict(analyze_package(path, package_id="x", limits=limits).views())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 25_000_000  # the line is 100 MB, the limit 1 MiB: never held whole
    about = views["about"]
    assert about["read"]["skipped"]["by_reason"]["too_long"] == 1
    assert views["stats:lifetime"]["app_opens"]["total"] == 1


def test_deeply_nested_json_lines_are_skipped(tmp_path):
    nested = b'{"event_type":"app_opened","os":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    files = package(
        "C",
        messages=ROWS,
        events={"analytics": [nested, event("app_opened", "2024-05-01T10:00:00Z", os="Linux")]},
    )
    _, views = analyze(tmp_path, files)
    assert views["about"]["read"]["skipped"]["total"] >= 1
    assert views["stats:lifetime"]["app_opens"]["total"] == 1


def test_deeply_nested_user_json_does_not_crash(tmp_path):
    files = package("C", messages=ROWS, user=None)
    files["account/user.json"] = b"[" * 200_000 + b"]" * 200_000
    try:
        _, views = analyze(tmp_path, files)
    except InvalidPackage:
        return  # refusing it is fine too
    assert views["overview"]["messages"] == 1


def test_invalid_utf8_lines_are_skipped_and_counted(tmp_path):
    bad = b'{"event_type":"app_opened","os":"\xff\xfe","timestamp":"2024-05-01T10:00:00Z"}'
    files = package("C", events={"analytics": [bad]})
    files[f"messages/c{GENERAL}/messages.json"] = (
        b'[\n{"ID": 1, "Timestamp": "2024-05-01 12:00:00", "Contents": "\xc3\x28"},\n'
        b'{"ID": 2, "Timestamp": "2024-05-01 12:01:00", "Contents": "ok"}\n]'
    )
    _, views = analyze(tmp_path, files)
    skipped = views["about"]["read"]["skipped"]
    assert skipped["total"] >= 1
    assert views["overview"]["messages"] in (1, 2)  # the bad line is skipped or kept, never fatal


@pytest.mark.parametrize("content", [b"[]", b'"just a string"', b"42", b"null", b"{"])
def test_a_user_json_that_is_not_an_object_is_refused(tmp_path, content):
    files = package("C", messages=ROWS)
    files["account/user.json"] = content
    refuse(write_zip(tmp_path / "p.zip", files))


def test_owner_id_never_appears_in_error_messages(tmp_path):
    path = tmp_path / "p.zip"
    path.write_bytes(b"PK\x03\x04" + OWNER.encode() + b"\0" * 100)
    with pytest.raises(InvalidPackage) as caught:
        analyze_package(path, package_id="x")
    assert OWNER not in caught.value.message
