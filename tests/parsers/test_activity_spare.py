"""The spare activity process: started before its package is known, taken by the next package
that needs one, kept through packages that do not, never taken or ended by a forked process."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import parsers.activity.child as child_module
from parsers.activity.child import SPARE, ActivityProcess, ChildFailed, MapEach
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from tests.parsers.test_parsers_activity_fast import big_package
from tests.parsers.test_parsers_inflater import children, inflaters_of
from tests.parsers.zipbuild import view_texts
from tests.support.lent_jobs import DiesAfter, Doubler, Silent

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")

IN_CHILD = ParseLimits(activity_process_min_bytes=0)


@pytest.fixture
def spare():
    """The module's spare, started for the test; whatever is left of it is ended after."""
    before = set(children(os.getpid()))  # the suite's own servers may run
    SPARE.start()
    process = SPARE._process
    assert process is not None and process.waiting()
    yield process
    SPARE.end()
    process.close()
    assert set(children(os.getpid())) <= before


def test_the_next_big_package_takes_the_spare(tmp_path, spare, started):
    path = big_package(tmp_path, 300)
    alone = analyze_package(path, package_id="x")  # in process: the activity under the threshold
    assert SPARE._process is spare, "a package without the activity process leaves the spare"

    analysis = analyze_package(path, package_id="x", limits=IN_CHILD)

    assert view_texts(analysis.views()) == view_texts(alone.views())
    assert spare._result is not None, "the spare read the activity"
    assert spare._process.poll() == 0 and SPARE._process is None
    assert started == [], "no process started beside the spare"


def test_the_child_leaves_without_the_teardown_once_served(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(child_module, "serve", lambda *fds: calls.append(("serve", *fds)))
    monkeypatch.setattr(child_module.os, "_exit", lambda code: calls.append(("exit", code)))
    child_module.serve_and_exit(5, 6)
    assert calls == [("serve", 5, 6), ("exit", 0)]


# Run at the start of every interpreter given its folder on PYTHONPATH: a `-c` process (the
# activity process; the inflater runs as a script) that tears down leaves a file named by its pid.
TEARDOWN_WITNESS = """
import atexit, os, sys
if sys.argv[:1] == ["-c"]:
    folder = os.environ["TEARDOWN_WITNESSES"]
    atexit.register(lambda: open(os.path.join(folder, str(os.getpid())), "w").close())
"""


def test_the_activity_process_leaves_without_its_teardown(tmp_path, monkeypatch, started):
    site, witnesses = tmp_path / "site", tmp_path / "witnesses"
    site.mkdir()
    witnesses.mkdir()
    (site / "sitecustomize.py").write_text(TEARDOWN_WITNESS)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("TEARDOWN_WITNESSES", str(witnesses))
    SPARE.end()  # a spare started before the witness would not carry it
    control = subprocess.Popen([sys.executable, "-c", "pass"])
    assert control.wait(60) == 0
    assert {p.name for p in witnesses.iterdir()} == {str(control.pid)}, "the witness works"

    analyze_package(big_package(tmp_path, 300), package_id="x", limits=IN_CHILD)

    assert len(started) == 1 and started[0]._process.returncode == 0, "the activity process ran"
    assert {p.name for p in witnesses.iterdir()} == {str(control.pid)}, "it tore down"


def test_a_child_that_fails_leaves_the_usual_way(monkeypatch):
    def failing(*_fds):
        raise OSError("no pipe")

    monkeypatch.setattr(child_module, "serve", failing)
    monkeypatch.setattr(child_module.os, "_exit", lambda code: pytest.fail("exited early"))
    with pytest.raises(OSError, match="no pipe"):
        child_module.serve_and_exit(5, 6)


def test_starting_again_keeps_a_waiting_spare(spare, started):
    SPARE.start()
    assert SPARE._process is spare and started == []


def test_a_dead_spare_is_replaced(tmp_path, spare, started):
    path = big_package(tmp_path, 50)
    os.kill(spare._process.pid, signal.SIGKILL)
    spare._process.wait()

    analysis = analyze_package(path, package_id="x", limits=IN_CHILD)

    assert len(started) == 1 and started[0]._result is not None
    assert view_texts(analysis.views()) == view_texts(analyze_package(path, package_id="x").views())
    SPARE.start()  # and a new spare replaces a dead one
    assert SPARE._process is not spare and SPARE._process is not None
    assert SPARE._process.waiting()


def test_a_forked_process_neither_takes_nor_ends_its_parents_spare(spare):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked copy: report what it got, then leave without cleaning up
        taken = SPARE.take()
        SPARE.end()
        os.write(write_end, b"none" if taken is None else b"taken")
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        assert answer.read() == b"none"
    os.waitpid(pid, 0)
    assert SPARE._process is spare and spare.waiting()
    assert inflaters_of(spare), "its inflater still runs"


def done_process(tmp_path) -> ActivityProcess:
    """An activity process that has read a package's activity and is kept (not closed)."""
    analysis = analyze_package(
        big_package(tmp_path, 50), package_id="x", limits=IN_CHILD, keep_helper=True
    )
    assert analysis.helper is not None
    return analysis.helper


def test_a_kept_activity_process_runs_a_lent_job_then_leaves_when_closed(tmp_path):
    process = done_process(tmp_path)
    try:
        assert process._process.poll() is None, "kept: it waits for a job"
        process.lend(Doubler())
        for message in ("ab", 21, [1]):
            process.send(message)
            assert process.receive() == message * 2
    finally:
        process.close()
    assert process._process.returncode == 0


def test_a_kept_activity_process_maps_a_function_over_each_list_it_is_lent(tmp_path):
    process = done_process(tmp_path)
    try:
        process.lend(MapEach(divmod, 7))
        process.send([15, 22])
        assert process.receive() == [(2, 1), (3, 1)]
        process.send([])
        assert process.receive() == []
    finally:
        process.close()
    assert process._process.returncode == 0


def test_a_kept_activity_process_with_no_job_leaves_on_close(tmp_path):
    process = done_process(tmp_path)
    process.close()
    assert process._process.returncode == 0, "left on its own, not stopped by a signal"


def test_a_lent_job_that_dies_is_reported_as_a_failed_child(tmp_path):
    process = done_process(tmp_path)
    try:
        process.lend(DiesAfter(1))
        process.send("first")
        assert process.receive() == "first"
        process.send("second")
        with pytest.raises(ChildFailed):
            process.receive()
    finally:
        process.close()
    assert process._process.returncode == 3


def test_an_analysis_not_asked_to_keep_it_ends_its_activity_process(tmp_path, started):
    analysis = analyze_package(big_package(tmp_path, 50), package_id="x", limits=IN_CHILD)
    assert analysis.helper is None
    (process,) = started
    assert process._process.returncode == 0


def test_closing_a_lent_process_in_the_middle_of_an_answer_lets_it_leave(tmp_path):
    process = done_process(tmp_path)
    process.lend(Doubler())
    process.send("x" * (4 << 20))  # its answer, 8 MiB, fills the pipe: the child blocks writing
    process.close()  # the pipe it writes to closes first: a broken pipe, and it leaves
    assert process._process.returncode == 0


def test_a_lent_job_that_does_not_answer_is_given_up(tmp_path, monkeypatch):
    monkeypatch.setattr(child_module, "_ANSWER_SECONDS", 0.2)
    process = done_process(tmp_path)
    try:
        process.lend(Silent())
        process.send("anyone?")
        with pytest.raises(ChildFailed, match="did not answer"):
            process.receive()
    finally:
        process.close()  # it still waits on its pipe: the pipe's end lets it leave
    assert process._process.returncode == 0
