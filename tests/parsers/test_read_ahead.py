"""A zip read ahead of its run (`parsers.ahead.read_ahead`): opened, checked and mapped, its
activity process begun, then taken by the `analyze_package` of the same zip and limits, and
nothing of it left once the block ends, whether a run took it or not."""

import os
import zipfile
from pathlib import Path

import pytest

import parsers.ahead as ahead_module
from parsers.activity.child import SPARE
from parsers.ahead import read_ahead
from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from tests.parsers.test_parsers_activity_fast import big_package
from tests.parsers.test_parsers_inflater import children
from tests.parsers.zipbuild import view_texts

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")

IN_CHILD = ParseLimits(activity_process_min_bytes=0)


@pytest.fixture
def no_process_left():
    """The test leaves no process of its own behind (the suite's own servers may run)."""
    before = set(children(os.getpid()))
    yield
    assert set(children(os.getpid())) <= before


def held():
    """What the block holds for its run, if anything."""
    return ahead_module._AHEAD._ahead


def test_the_run_of_the_zip_takes_it_with_its_activity_already_read(tmp_path, no_process_left):
    path = big_package(tmp_path, 300)
    alone = view_texts(analyze_package(path, package_id="x").views())
    with read_ahead(path, IN_CHILD):
        ahead = held()
        assert ahead is not None and ahead.child is not None and ahead.child._job is not None
        analysis = analyze_package(path, package_id="x", limits=IN_CHILD)
        assert held() is None, "taken by the run"
        assert ahead.child._result is not None, "the process begun ahead read the activity"
        assert ahead.archive.fp is None, "the run closed the zip"
    assert view_texts(analysis.views()) == alone


def test_a_zip_with_little_activity_is_mapped_ahead_without_a_process(tmp_path, no_process_left):
    path = big_package(tmp_path, 300)
    with zipfile.ZipFile(path, "a") as archive:  # big enough for a spare to be started
        archive.writestr("padding.bin", os.urandom(5 << 20), zipfile.ZIP_STORED)
    with read_ahead(path, ParseLimits(activity_process_min_bytes=64 << 20)):
        ahead = held()
        assert ahead is not None and ahead.child is None
        assert SPARE._process is None, "no spare left waiting through the run"
        analysis = analyze_package(path, package_id="x", limits=ahead.limits)
        assert held() is None and ahead.archive.fp is None
    assert analysis.about["read"]["lines"]["activity"] > 0


@pytest.mark.parametrize("other", ["zip", "limits"])
def test_a_run_of_another_zip_or_limits_ends_it(tmp_path, no_process_left, other):
    path = big_package(tmp_path, 300)
    (tmp_path / "b").mkdir()
    second = big_package(tmp_path / "b", 100) if other == "zip" else path
    limits = IN_CHILD if other == "zip" else ParseLimits(activity_process_min_bytes=1)
    expected = view_texts(analyze_package(second, package_id="y").views())
    with read_ahead(path, IN_CHILD):
        ahead = held()
        assert ahead is not None and ahead.child is not None
        analysis = analyze_package(second, package_id="y", limits=limits)
        assert held() is None and ahead.archive.fp is None
        assert ahead.child._process.poll() is not None, "the process read ahead is ended"
    assert view_texts(analysis.views()) == expected


def test_leaving_the_block_without_a_run_ends_it(tmp_path, no_process_left):
    with read_ahead(big_package(tmp_path, 300), IN_CHILD):
        ahead = held()
        assert ahead is not None and ahead.child is not None
    assert held() is None and ahead.archive.fp is None
    assert ahead.child._process.poll() is not None


def test_an_unreadable_zip_is_left_for_the_run_to_report(tmp_path, no_process_left):
    path = tmp_path / "junk.zip"
    path.write_bytes(os.urandom(3 << 20))  # big enough for a process to be started ahead
    with read_ahead(path, IN_CHILD):
        assert held() is None
        with pytest.raises(InvalidPackage, match="not a readable zip"):
            analyze_package(path, package_id="x", limits=IN_CHILD)


def test_the_activity_process_has_its_shards_before_the_whole_directory_is_checked(
    tmp_path, no_process_left, monkeypatch, started
):
    path = big_package(tmp_path, 300)
    checked: list[tuple[int, bool]] = []  # (entries checked, a process begun by then)
    real_check = ahead_module.check_entries

    def check(infos, limits):
        checked.append((len(infos), any(process.begun for process in started)))
        real_check(infos, limits)

    monkeypatch.setattr(ahead_module, "check_entries", check)
    with read_ahead(path, IN_CHILD):
        ahead = held()
        assert ahead is not None and ahead.child is not None and ahead.child.begun
        shards = len(ahead.found.activity)
    with zipfile.ZipFile(path) as archive:
        entries = len(archive.infolist())
    assert 0 < shards < entries
    assert checked == [(shards, False), (entries, True)], "the shards alone first"


def test_a_zip_the_whole_check_refuses_ends_the_process_begun_ahead(
    tmp_path, no_process_left, started
):
    path = big_package(tmp_path, 300)
    with zipfile.ZipFile(path) as archive:
        entries = len(archive.infolist())
    limits = ParseLimits(activity_process_min_bytes=0, max_entries=entries - 1)
    with read_ahead(path, limits):
        assert held() is None, "left for the run to report"
        assert len(started) == 1 and started[0].begun, "it had its shards"
        assert started[0]._process.poll() is not None, "then it was ended"
        with pytest.raises(InvalidPackage, match="more entries"):
            analyze_package(path, package_id="x", limits=limits)


def test_a_run_without_read_ahead_begins_its_process_before_mapping(
    tmp_path, no_process_left, monkeypatch, started
):
    path = big_package(tmp_path, 300)
    begun_when_mapped: list[bool] = []
    real_map = ahead_module.map_package

    def map_package(infos):
        begun_when_mapped.append(any(process.begun for process in started))
        return real_map(infos)

    monkeypatch.setattr(ahead_module, "map_package", map_package)
    analysis = analyze_package(path, package_id="x", limits=IN_CHILD)
    assert begun_when_mapped == [True]
    assert len(started) == 1 and started[0]._result is not None, "it read the activity"
    assert analysis.about["read"]["lines"]["activity"] > 0
