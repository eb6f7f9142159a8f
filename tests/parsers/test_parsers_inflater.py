"""The inflater process: same bytes as zipfile, CRC and stream errors, death, termination."""

import os
import signal
import time
import zipfile
from pathlib import Path

import pytest

import parsers.activity.child as child_module
from parsers.activity.child import ActivityProcess, ChildFailed
from parsers.archive.inflater import InflatedMembers, InflaterFailed, MemberStream, SlotRing
from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from parsers.streams import Progress
from tests.parsers.test_parsers_activity_fast import big_package
from tests.parsers.zipbuild import view_texts


def members_zip(path: Path) -> Path:
    rows = (b'{"n":%d,"r":"%s"}\n' % (i, os.urandom(20).hex().encode()) for i in range(40000))
    text = b"".join(rows)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.json", text, zipfile.ZIP_DEFLATED)
        archive.writestr("empty.json", b"", zipfile.ZIP_DEFLATED)
        archive.writestr("stored.json", text[:5000], zipfile.ZIP_STORED)
        archive.writestr("zeros.bin", bytes(20 * 1024 * 1024), zipfile.ZIP_DEFLATED)  # ratio ~1000
        archive.writestr("b.json", text[::-1], zipfile.ZIP_DEFLATED)
    return path


def read_member(members: InflatedMembers) -> tuple[bytes, int]:
    parts = []
    while chunk := members.read():
        parts.append(chunk)
    return b"".join(parts), max(map(len, parts), default=0)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-ring", "pipe-only"])
def test_members_come_out_as_zipfile_reads_them(tmp_path, monkeypatch, shared):
    if not shared:  # a system without memfd: every chunk goes through the pipe
        monkeypatch.setattr(SlotRing, "create", staticmethod(lambda: None))
    path = members_zip(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        expected = [archive.read(info) for info in infos]
    members = InflatedMembers(str(path), infos)
    chunks = 0
    try:
        for want in expected:
            got, biggest = read_member(members)
            assert got == want
            assert biggest <= 2 * 1024 * 1024  # a high ratio never makes a huge chunk
            chunks += (len(got) + biggest - 1) // biggest if got else 0
        # every chunk came through the ring's slots, in turn, or none did
        assert (members._ring.turn if shared else members._ring) == (chunks if shared else None)
    finally:
        members.close()


def test_an_inflater_waiting_for_a_slot_ends_when_its_reader_goes(tmp_path):
    members = inflating(tmp_path)
    members.read()  # the inflater fills the other slots, then waits for one to come back
    members._ring.close()  # the reader's end of the free pipe closes: no slot will come back
    members._ring = None
    assert members._process.wait(timeout=10) == 0  # it stops quietly, nothing left to tell
    members.close()


def test_member_stream_reports_progress_and_drains(tmp_path):
    path = members_zip(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        sizes = [info.file_size for info in infos]
        last = archive.read(infos[-1])
    progress = Progress(1 << 62, None, 1 << 20)
    members = InflatedMembers(str(path), infos)
    try:
        for _ in infos[:-1]:
            stream = MemberStream(members, progress)
            stream.read()  # the scanner stops early: drain keeps the members in step
            stream.drain()
            assert stream.read() == b""
        assert read_member(members)[0] == last
    finally:
        members.close()
    assert progress.done == sum(sizes[:-1])


def corrupt(info: zipfile.ZipInfo, **changes) -> zipfile.ZipInfo:
    for name, value in changes.items():
        setattr(info, name, value)
    return info


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"CRC": 12345}, zipfile.BadZipFile),
        ({"file_size": 10}, zipfile.BadZipFile),
        ({"compress_size": 100}, EOFError),
    ],
)
def test_crc_size_and_truncation_are_checked(tmp_path, changes, error):
    path = members_zip(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as archive:
        info = corrupt(archive.getinfo("a.json"), **changes)
    members = InflatedMembers(str(path), [info])
    try:
        with pytest.raises(error):
            read_member(members)
    finally:
        members.close()


def damaged_zip(tmp_path, at: int | None = None, new: bytes = b"\x00" * 40):
    """The test zip with `new` written over a.json at `at` bytes from its local header (None: 20
    bytes into its deflate stream), and a.json's entry."""
    path = members_zip(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("a.json")
    if at is None:
        at = 30 + len(info.filename.encode()) + len(info.extra) + 20
    data = bytearray(path.read_bytes())
    data[info.header_offset + at : info.header_offset + at + len(new)] = new
    path.write_bytes(bytes(data))
    return path, info


def corrupt_zip(tmp_path) -> tuple[Path, zipfile.ZipInfo]:
    """The test zip with 40 bytes of a.json's deflate stream zeroed, and a.json's entry."""
    return damaged_zip(tmp_path)


@pytest.mark.parametrize(
    ("at", "new"),
    [(0, b"PK\x05\x06"), (30, b"X"), (None, b"\x00" * 40)],
    ids=["not a local header", "another name than the directory's", "a corrupt stream"],
)
def test_a_damaged_member_is_a_bad_zip(tmp_path, at, new):
    path, info = damaged_zip(tmp_path, at, new)
    members = InflatedMembers(str(path), [info])
    try:
        with pytest.raises(zipfile.BadZipFile):
            read_member(members)
    finally:
        members.close()


def inflating(tmp_path) -> InflatedMembers:
    """An inflater started over every member of a small test zip."""
    path = members_zip(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    return InflatedMembers(str(path), infos)


def test_a_missing_zip_is_reported_not_hung(tmp_path):
    members = InflatedMembers(str(tmp_path / "gone.zip"), [zipfile.ZipInfo("a")])
    try:
        with pytest.raises(FileNotFoundError):
            members.read()
    finally:
        members.close()


def test_a_dead_inflater_raises(tmp_path):
    members = inflating(tmp_path)
    try:
        members.read()
        os.kill(members._process.pid, signal.SIGKILL)
        with pytest.raises(InflaterFailed):
            for _ in range(10000):
                members.read()
    finally:
        members.close()


def test_close_stops_a_running_inflater(tmp_path):
    members = inflating(tmp_path)
    members.read()
    members.close()
    assert members._process.poll() is not None


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def activity_shards(tmp_path, lines: int) -> tuple:
    """The arguments of an ActivityProcess over the analytics shards of a generated package."""
    path = big_package(tmp_path, lines)
    with zipfile.ZipFile(path) as archive:
        shards = [("analytics", i) for i in archive.infolist() if "events-" in i.filename]
    return path, shards, ParseLimits(), Progress(1, None, 1 << 20)


def inflaters_of(child: ActivityProcess) -> list[int]:
    """The inflater processes of a started activity child, once they appear (10 s at most)."""
    deadline = time.monotonic() + 10
    while not (inflaters := children(child._process.pid)) and time.monotonic() < deadline:
        time.sleep(0.005)
    return inflaters


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_aborting_the_activity_child_ends_its_inflater(tmp_path):
    child = ActivityProcess().begin(*activity_shards(tmp_path, 20000))
    try:
        inflaters = inflaters_of(child)
    finally:
        child.close()  # what the parent does on abort
    assert child._process.poll() is not None
    deadline = time.monotonic() + 10
    while inflaters and not all(map(gone, inflaters)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(gone, inflaters))


def test_child_gives_the_in_process_figures_across_shards(tmp_path):
    path = big_package(tmp_path, 300)
    alone = analyze_package(path, package_id="x")
    child = analyze_package(path, package_id="x", limits=ParseLimits(activity_process_min_bytes=0))
    assert view_texts(child.views()) == view_texts(alone.views())


def test_bad_crc_in_the_child_is_an_invalid_package(tmp_path):
    path = big_package(tmp_path, 50)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if "events-" in i.filename)
    # flip the CRC in the local header (offset 14) and in the central directory (offset 16)
    bad = (info.CRC ^ 0xFFFFFFFF).to_bytes(4, "little")
    data[info.header_offset + 14 : info.header_offset + 18] = bad
    record = data.find(b"PK\x01\x02")
    while data[record + 46 : record + 46 + len(info.orig_filename)] != info.orig_filename.encode():
        record = data.find(b"PK\x01\x02", record + 4)
    data[record + 16 : record + 20] = bad
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidPackage):
        analyze_package(path, package_id="x", limits=ParseLimits(activity_process_min_bytes=0))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_killed_inflater_fails_the_child_without_a_hang(tmp_path):
    child = ActivityProcess().begin(*activity_shards(tmp_path, 40000))
    try:
        for pid in inflaters_of(child):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises((InflaterFailed, ChildFailed)):
            child.result()
    finally:
        child.close()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_child_closed_without_a_job_ends_with_its_inflater():
    child = ActivityProcess()  # started ahead, as for a big zip, then not needed
    inflaters = inflaters_of(child)
    assert inflaters, "the child starts its inflater before its job comes"
    child.close()
    assert child._process.poll() is not None
    deadline = time.monotonic() + 10
    while not all(map(gone, inflaters)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(gone, inflaters))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("activity_lines", [0, 300])
def test_a_process_started_ahead_is_used_or_ended(tmp_path, monkeypatch, activity_lines):
    path = (
        big_package(tmp_path, activity_lines) if activity_lines else members_zip(tmp_path / "m.zip")
    )
    started, before = [], set(children(os.getpid()))  # the suite's own servers may run
    monkeypatch.setattr(
        child_module, "ActivityProcess", lambda: started.append(ActivityProcess()) or started[-1]
    )
    with zipfile.ZipFile(path) as archive:
        activity = sum(i.file_size for i in archive.infolist() if "events-" in i.filename)
    # started ahead (the zip may hold enough), then used when the activity reaches the threshold
    limits = ParseLimits(activity_process_min_bytes=activity or path.stat().st_size * 16)
    assert path.stat().st_size * 16 >= limits.activity_process_min_bytes
    if activity_lines:
        alone = analyze_package(path, package_id="x")
        analysis = analyze_package(path, package_id="x", limits=limits)
        assert view_texts(analysis.views()) == view_texts(alone.views())
    else:
        with pytest.raises(InvalidPackage):  # no package content: refused after the early start
            analyze_package(path, package_id="x", limits=limits)
    assert len(started) == 1 and started[0]._process.poll() is not None
    assert (started[0]._result is not None) == bool(activity_lines)  # it read the activity
    assert set(children(os.getpid())) <= before  # nothing of this analysis left running
