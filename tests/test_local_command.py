"""`python -m launchers.local`: a zip on disk through the worker's code path, its summary printed,
and nothing of its activity process left once it returns."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from launchers import local
from parsers.activity.child import SPARE
from samples import SampleSpec, generate_package
from tests.parsers.test_parsers_inflater import children


@pytest.fixture
def environment(tmp_path, monkeypatch):
    for name in ("MONGO_URL", "REDIS_URL", "BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SECRET_KEY", "local-command-secret")


def padded_package(path: Path, pad_bytes: int):
    """A small package plus a stored member of random bytes (a zip big enough to start the
    activity process ahead, with too little activity to use it)."""
    truth = generate_package(path, SampleSpec(layout="D", messages=500, events=800, seed=3))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("padding.bin", os.urandom(pad_bytes), zipfile.ZIP_STORED)
    return truth


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("pad_bytes", [0, 3 << 20])  # under, then over 1/16 of 32 MiB
def test_the_command_prints_the_summary_and_leaves_no_process(
    tmp_path, environment, capsys, pad_bytes
):
    truth = padded_package(tmp_path / "p.zip", pad_bytes)
    started = []
    real_start = SPARE.start
    SPARE.start = lambda: started.append(1) or real_start()  # type: ignore[method-assign]
    before = set(children(os.getpid()))
    try:
        code = local.main([str(tmp_path / "p.zip"), "--json"])
    finally:
        del SPARE.start
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["result"] == "PROCESSED"
    assert summary["about"]["read"]["lines"]["messages"] == truth.messages
    assert summary["about"]["owner"]["id"] == truth.owner_id
    assert started == ([1] if pad_bytes else [])
    assert SPARE._process is None and set(children(os.getpid())) <= before


def test_the_command_reads_the_zip_ahead_of_its_imports_and_its_run_takes_it(
    tmp_path, environment, monkeypatch, capsys
):
    import parsers.ahead
    import parsers.package

    seen = []
    real_process, real_take = local._process, parsers.package.take_ahead

    def process(*args):
        seen.append(("ahead", parsers.ahead._AHEAD._ahead is not None))
        return real_process(*args)

    def take(*args):
        seen.append(("taken", (taken := real_take(*args)) is not None))
        return taken

    monkeypatch.setattr(local, "_process", process)  # where the settings and pipeline load
    monkeypatch.setattr(parsers.package, "take_ahead", take)
    padded_package(tmp_path / "p.zip", 0)
    assert local.main([str(tmp_path / "p.zip"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == "PROCESSED"
    assert seen == [("ahead", True), ("taken", True)]


def test_the_command_closes_its_store(tmp_path, environment, monkeypatch, capsys):
    import storage

    closed = []
    real_open = storage.open_store

    def spying_open(settings, *args, **kwargs):
        store = real_open(settings, *args, **kwargs)
        real_close = store.close
        store.close = lambda: closed.append(1) or real_close()
        return store

    monkeypatch.setattr(storage, "open_store", spying_open)
    padded_package(tmp_path / "p.zip", 0)
    assert local.main([str(tmp_path / "p.zip"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == "PROCESSED" and closed == [1]


def test_a_missing_zip_is_a_usage_error(tmp_path, environment, capsys):
    with pytest.raises(SystemExit) as exited:
        local.main([str(tmp_path / "none.zip")])
    assert exited.value.code == 2 and "no such file" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_an_invalid_link_ends_the_activity_process_started_ahead(tmp_path, environment, capsys):
    padded_package(tmp_path / "p.zip", 3 << 20)
    before = set(children(os.getpid()))
    with pytest.raises(SystemExit) as exited:
        local.main([str(tmp_path / "p.zip"), "--link", "https://example.com/not-a-package"])
    assert exited.value.code == 2 and "invalid --link" in capsys.readouterr().err
    assert SPARE._process is None and set(children(os.getpid())) <= before


COUNTING_COLLECTIONS = """
import atexit, gc, os, runpy, sys
passes = []
gc.callbacks.append(lambda phase, info: phase == "start" and passes.append(info["generation"]))
atexit.register(lambda: print("teardown ran", file=sys.stderr))
real_exit = os._exit
def counted_exit(code):
    print("passes", len(passes), file=sys.stderr, flush=True)
    real_exit(code)
os._exit = counted_exit
sys.argv = ["launchers.local", *sys.argv[1:]]
runpy.run_module("launchers.local", run_name="__main__")
"""


def test_the_command_makes_no_collector_pass_and_skips_the_teardown(tmp_path, environment):
    padded_package(tmp_path / "p.zip", 0)
    env = {**os.environ, "PYTHONPATH": str(Path(local.__file__).parents[1])}
    ran = subprocess.run(
        [sys.executable, "-c", COUNTING_COLLECTIONS, str(tmp_path / "p.zip"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    # the summary reached the pipe whole: flushed before the exit that skips the teardown
    assert json.loads(ran.stdout)["result"] == "PROCESSED"
    assert "teardown ran" not in ran.stderr
    # what is counted comes from the imports made before `command` turns it off (its module's
    # own, the activity process's among them): about 20 passes, against about 90 when the
    # collector stays on throughout
    passes = int(ran.stderr.rsplit("passes", 1)[1])
    assert passes < 40, ran.stderr


def test_a_failed_run_still_gives_its_exit_status(tmp_path, environment):
    (tmp_path / "p.zip").write_bytes(b"not a zip at all")
    env = {**os.environ, "PYTHONPATH": str(Path(local.__file__).parents[1])}
    ran = subprocess.run(
        [sys.executable, "-m", "launchers.local", str(tmp_path / "p.zip"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1, ran.stderr
    assert json.loads(ran.stdout)["result"].startswith("ERRORED:")
