"""Packages that must be refused with InvalidPackage, and the progress callback."""

import zipfile
from itertools import pairwise

import pytest

from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from tests.parsers.zipbuild import GENERAL, encode, package, write_zip

ROWS = {GENERAL: [("1", "2024-05-01 12:00:00", "hi")]}


def refuse(path, **options) -> InvalidPackage:
    with pytest.raises(InvalidPackage) as caught:
        analyze_package(path, package_id="x", **options)
    assert caught.value.code == "INVALID_PACKAGE"
    assert caught.value.message and "alice" not in caught.value.message
    return caught.value


def test_not_a_zip(tmp_path):
    path = tmp_path / "p.zip"
    path.write_bytes(b"this is not a zip file at all")
    refuse(path)


def test_truncated_zip(tmp_path):
    path = write_zip(tmp_path / "p.zip", package("C", messages=ROWS))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refuse(path)


def test_corrupt_member_data(tmp_path):
    path = tmp_path / "p.zip"
    files = package("C", messages=ROWS)
    files["messages/c" + GENERAL + "/messages.json"] = b"[" + b'{"a": 1},\n' * 2000 + b"]"
    write_zip(path, files)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("messages/c" + GENERAL + "/messages.json")
    start = info.header_offset + 30 + len(info.filename) + 10
    data[start : start + 20] = b"\x00" * 20
    path.write_bytes(bytes(data))
    refuse(path)


def test_no_package_content(tmp_path):
    refuse(write_zip(tmp_path / "p.zip", {"readme.txt": "hello", "photos/cat.png": b"\x89PNG"}))


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/passwd", "a/../../b.json", "C:/x.json", "a\\..\\b"]
)
def test_unsafe_entry_names(tmp_path, name):
    files = package("C", messages=ROWS)
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, content in files.items():
            archive.writestr(entry, encode(content))
        archive.writestr(zipfile.ZipInfo(name), b"x")
    refuse(path)


def test_nul_in_entry_name(tmp_path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, content in package("C", messages=ROWS).items():
            archive.writestr(entry, encode(content))
        archive.writestr("evilXname.txt", b"x")
    path.write_bytes(path.read_bytes().replace(b"evilXname", b"evil\x00name"))
    refuse(path)


def test_too_many_entries(tmp_path):
    path = write_zip(tmp_path / "p.zip", package("C", messages=ROWS))
    refuse(path, limits=ParseLimits(max_entries=3))


def test_declared_total_over_cap(tmp_path):
    path = write_zip(tmp_path / "p.zip", package("C", messages=ROWS))
    refuse(path, limits=ParseLimits(max_total_uncompressed=100))


def test_ratio_over_max(tmp_path):
    files = package("C", messages=ROWS)
    files["activity/analytics/events-2024-00000-of-00001.json"] = b"\n" * (2 * 1024 * 1024)
    refuse(write_zip(tmp_path / "p.zip", files))


def test_user_json_not_an_object(tmp_path):
    refuse(write_zip(tmp_path / "p.zip", package("C", messages=ROWS, user=[1, 2])))
    files = package("C", messages=ROWS)
    files["account/user.json"] = b"{not json"
    refuse(write_zip(tmp_path / "q.zip", files))


def test_oversized_user_json_is_skipped_not_fatal(tmp_path):
    path = write_zip(tmp_path / "p.zip", package("C", messages=ROWS))
    analysis = analyze_package(path, package_id="x", limits=ParseLimits(max_json_file_bytes=10))
    assert analysis.about["owner"] is None
    assert analysis.about["read"]["skipped"]["by_reason"]["file_too_large"] >= 1


def test_progress_reported_and_abort_propagates(tmp_path):
    files = package("C", messages=ROWS)
    lines = (f'{{"event_type":"x","n":"{i * 7919 % 1000003:x}{i}"}}\n' for i in range(60000))
    files["activity/analytics/events-2024-00000-of-00001.json"] = "".join(lines)
    path = write_zip(tmp_path / "p.zip", files)
    calls = []
    analyze_package(path, package_id="x", limits=ParseLimits(progress_every_bytes=100_000),
                    on_progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    total = calls[-1][1]
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) >= 3 and all(b[0] >= a[0] for a, b in pairwise(calls))

    class Stop(ConnectionError):
        pass

    def stop(done, total):
        if done > 0:
            raise Stop()

    with pytest.raises(Stop):
        analyze_package(
            path, package_id="x", limits=ParseLimits(progress_every_bytes=100_000), on_progress=stop
        )
