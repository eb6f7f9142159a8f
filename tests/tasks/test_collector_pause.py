"""A package's run pauses Python's cyclic garbage collector (`tasks.pipeline.CollectorPause`):
off while the package is analysed and its views built, back as it was after the run, whatever
its end (and only after the last of overlapping runs), and the cycles a run leaves for the
collector do not grow with the package."""

from __future__ import annotations

import functools
import gc

import pytest

import tasks.pipeline as pipeline
from launchers.local import process_local_zip, random_discord_link
from parsers.activity.child import ActivityProcess
from parsers.limits import ParseLimits
from parsers.package import PackageAnalysis
from samples import SampleSpec, generate_package
from tests.parsers import zipbuild


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pkg")
    small, big = folder / "small.zip", folder / "big.zip"
    generate_package(small, SampleSpec(messages=300, events=400, channels=12, dms=4, seed=5))
    generate_package(big, SampleSpec(messages=9000, events=6000, channels=900, dms=120, seed=6))
    return small, big


@pytest.fixture(scope="module")
def mangled(tmp_path_factory):
    """A package whose every channel holds messages the readers skip or read one by one, and
    whose activity lines are broken in several ways: the error paths, 400 channels of them."""
    channels = {
        str(500000000000000000 + n): {"id": str(500000000000000000 + n), "type": 0, "name": "c"}
        for n in range(400)
    }
    odd = [
        '{"ID": 1, "Timestamp": "2024-02-30 10:00:00", "Contents": "x"}',
        '{"ID": 2, "Contents": "no stamp"}',
        '"a string"',
        '{"ID": 3, "Timestamp": "2024-01-01 1\u0663:00:00", "Contents": "digits"}',
        '{"ID": 4, "Timestamp": "2024-01-01 10:00:60", "Contents": "leap"}',
        '{"ID": 5, "Timestamp": 12, "Contents": "number"}',
        '{"ID": 6, "Timestamp": "2024-01-01 10:00:00", "Contents": "ok"}',
        "{broken",
    ]
    body = ("[\n" + ",\n".join(odd) + "\n]").encode()
    events = [
        b"{not json",
        b'{"event_type": "guild_joined", "timestamp": "2024-13-01T00:00:00Z"}',
        b'{"event_type": "app_opened", "timestamp": "\xff\xfe"}',
        zipbuild.encode(zipbuild.event("app_opened", "2024-01-02T10:00:00.000Z", os="Linux")),
    ] * 300
    files = zipbuild.package("C", channels=channels, events={"analytics": events})
    for name in list(files):
        if name.endswith("messages.json"):
            files[name] = body
    return zipbuild.write_zip(tmp_path_factory.mktemp("mangled") / "mangled.zip", files)


@pytest.fixture
def collector_state():
    was_enabled = gc.isenabled()
    yield
    gc.enable() if was_enabled else gc.disable()


def test_the_collector_is_off_while_the_package_is_analysed_and_on_after(
    packages, settings, store, monkeypatch, collector_state
):
    seen = []
    analyze, views = pipeline.analyze_package, PackageAnalysis.views

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return analyze(*args, **kwargs)

    def watched_views(self):
        for item in views(self):
            seen.append(gc.isenabled())
            yield item

    monkeypatch.setattr(PackageAnalysis, "views", watched_views)
    monkeypatch.setattr(pipeline, "analyze_package", watched)
    gc.enable()
    summary = process_local_zip(packages[0], random_discord_link(), settings, store)
    assert summary["result"] == "PROCESSED"
    assert len(seen) > 10 and not any(seen)
    assert gc.isenabled()


def test_a_failed_run_turns_the_collector_back_on(
    packages, settings, store, monkeypatch, collector_state
):
    seen = []

    def broken(*args, **kwargs):
        seen.append(gc.isenabled())
        raise RuntimeError("the analysis broke")

    monkeypatch.setattr(pipeline, "analyze_package", broken)
    gc.enable()
    summary = process_local_zip(packages[0], random_discord_link(), settings, store)
    assert seen == [False]
    assert summary["result"] == "ERRORED:UNKNOWN_ERROR"
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off(packages, settings, store, collector_state):
    gc.disable()
    summary = process_local_zip(packages[0], random_discord_link(), settings, store)
    assert summary["result"] == "PROCESSED" and not gc.isenabled()


def test_overlapping_runs_turn_the_collector_back_on_after_the_last(collector_state):
    pause = pipeline.CollectorPause()
    gc.enable()
    first, second = pause.during_run(), pause.during_run()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    with pause.during_run():
        assert not gc.isenabled()
    assert gc.isenabled()


def unreachable_after_a_run(path, settings, store) -> int:
    """Objects in cycles that a run left for the collector."""
    process_local_zip(path, random_discord_link(), settings, store)  # caches, imports, store
    gc.collect()
    gc.disable()  # stays off after the run: its cycles wait for the count below
    summary = process_local_zip(path, random_discord_link(), settings, store)
    assert summary["result"] == "PROCESSED"
    return gc.collect()


def test_the_cycles_a_run_leaves_do_not_grow_with_the_package(
    packages, settings, store, collector_state
):
    small = unreachable_after_a_run(packages[0], settings, store)
    big = unreachable_after_a_run(packages[1], settings, store)
    # 75 times the channels, 30 times the messages: one cycle per channel, message, member or
    # view would show here as hundreds or thousands of objects more
    assert big <= small + 100, (small, big)


def test_nor_with_the_activity_read_by_its_own_process(
    packages, settings, store, monkeypatch, collector_state
):
    # the test packages are under the activity process's threshold: forced here
    forced = functools.partial(
        pipeline.analyze_package, limits=ParseLimits(activity_process_min_bytes=0)
    )
    monkeypatch.setattr(pipeline, "analyze_package", forced)
    jobs = []  # each activity process's job (`begin` again only takes the run's progress)
    begin = ActivityProcess.begin

    def counted_begin(self, *args):
        if not self.begun:
            jobs.append(1)
        return begin(self, *args)

    monkeypatch.setattr(ActivityProcess, "begin", counted_begin)
    small = unreachable_after_a_run(packages[0], settings, store)
    assert unreachable_after_a_run(packages[1], settings, store) <= small + 100
    assert len(jobs) == 4  # two runs of each package, each with its activity process


def test_the_error_paths_leave_no_cycles_per_item_either(
    packages, mangled, settings, store, collector_state
):
    small = unreachable_after_a_run(packages[0], settings, store)
    assert unreachable_after_a_run(mangled, settings, store) <= small + 100
