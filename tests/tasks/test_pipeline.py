"""One package run through the worker's code path, with a real SQLite store and a real download
server on 127.0.0.1 (no broker: the task is a thin adapter over `run_package`)."""

import functools
import secrets
import time

import pytest

from parsers.activity.child import SPARE, ActivityProcess
from parsers.aggregate.periods import PERIODS
from parsers.limits import ParseLimits
from samples import SampleSpec, generate_package
from storage import Status
from storage.crypto import PackageKey
from storage.links import parse_package_link
from tasks import pipeline, services
from tasks.pipeline import RetryableError, RunOutcome, run_package
from tasks.progress import ClaimLost, ProgressReporter
from tests.support.httpserver import ScriptedServer, body


@pytest.fixture(scope="module")
def package_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    truth = generate_package(path, SampleSpec(layout="D", messages=800, events=1500, seed=7))
    return path.read_bytes(), truth


@pytest.fixture
def server(package_bytes):
    data, _ = package_bytes
    routes = {
        "/p.zip": body(data),
        "/broken.zip": body(b"not a zip at all"),
        "/gone.zip": body(b"", status=410),
        "/flaky.zip": body(b"", status=503),
    }
    with ScriptedServer(routes) as srv:
        yield srv


def submit(store, settings, origin, path="/p.zip"):
    link = f"{origin}{path}?k={secrets.token_urlsafe(16)}"
    parsed = parse_package_link(link, (origin,), settings.server_secret())
    sealed = store.links.seal(parsed.package_id, link)
    store.packages.enqueue(parsed.package_id, sealed, time.time())
    return parsed


@pytest.fixture
def settings(settings, server):
    return settings.with_overrides(whitelisted_origins=(server.origin,))


def read_view(store, settings, parsed, name):
    record = store.packages.get(parsed.package_id)
    key = PackageKey(parsed.package_id, parsed.key_material, settings.server_secret())
    blob = store.statistics.get(parsed.package_id, record.generation, key.view_id(name))
    return key.open(name, blob)


def test_a_package_is_processed_published_and_its_link_wiped(
    store, settings, server, package_bytes
):
    _, truth = package_bytes
    parsed = submit(store, settings, server.origin)
    outcome = run_package(parsed.package_id, settings, store)
    assert outcome.result == "PROCESSED" and outcome.views > 10
    record = store.packages.get(parsed.package_id)
    assert record.status == Status.PROCESSED and record.progress == 100
    assert record.sealed_link is None and record.generation > 0
    assert read_view(store, settings, parsed, "overview")["messages"] == truth.messages
    about = read_view(store, settings, parsed, "about")
    assert about["package_id"] == parsed.package_id and about["processing_seconds"] > 0
    assert list(settings.temp_dir.iterdir()) == []


def test_a_redelivered_message_does_nothing_after_processing(store, settings, server):
    parsed = submit(store, settings, server.origin)
    run_package(parsed.package_id, settings, store)
    hits = len(server.hits)
    assert run_package(parsed.package_id, settings, store).result == "SKIPPED:PROCESSED"
    assert len(server.hits) == hits


def test_a_package_claimed_by_a_live_worker_is_not_taken(store, settings, server):
    parsed = submit(store, settings, server.origin)
    assert store.packages.claim(parsed.package_id, "other", time.time(), 0)
    assert run_package(parsed.package_id, settings, store).result == "SKIPPED:BUSY"
    assert server.hits == []


def test_a_package_that_keeps_killing_workers_fails_with_worker_lost(store, settings, server):
    parsed = submit(store, settings, server.origin)
    long_ago = time.time() - 10 * settings.stale_after_seconds
    for attempt in range(settings.max_attempts):
        store.packages.requeue_stale(parsed.package_id, float("inf"), long_ago)
        assert store.packages.claim(parsed.package_id, f"dead{attempt}", long_ago, long_ago)
    assert run_package(parsed.package_id, settings, store).result == "ERRORED:WORKER_LOST"
    assert server.hits == []


@pytest.mark.parametrize(
    "path, code", [("/broken.zip", "INVALID_PACKAGE"), ("/gone.zip", "EXPIRED_LINK")]
)
def test_failures_end_errored_with_a_code_and_no_temp_file(store, settings, server, path, code):
    parsed = submit(store, settings, server.origin, path)
    assert run_package(parsed.package_id, settings, store).result == f"ERRORED:{code}"
    record = store.packages.get(parsed.package_id)
    assert (record.status, record.error_code, record.sealed_link) == (Status.ERRORED, code, None)
    assert list(settings.temp_dir.iterdir()) == []


class TimeUp(Exception):
    """What the caller raises when the run's time is up (Celery: SoftTimeLimitExceeded)."""


def out_of_time(*args, **kwargs):
    """An analysis interrupted because the run's time is up."""
    raise TimeUp


def test_a_run_out_of_time_fails_its_package_with_time_limit(store, settings, server, monkeypatch):
    parsed = submit(store, settings, server.origin)

    monkeypatch.setattr("tasks.pipeline.analyze_package", out_of_time)
    outcome = run_package(parsed.package_id, settings, store, time_limit_errors=(TimeUp,))
    assert outcome.result == "ERRORED:TIME_LIMIT"
    record = store.packages.get(parsed.package_id)
    assert (record.status, record.error_code, record.sealed_link) == (
        Status.ERRORED,
        "TIME_LIMIT",
        None,
    )
    assert list(settings.temp_dir.iterdir()) == []


def test_an_error_the_caller_did_not_name_is_an_unknown_error(store, settings, server, monkeypatch):
    parsed = submit(store, settings, server.origin)

    monkeypatch.setattr("tasks.pipeline.analyze_package", out_of_time)
    assert run_package(parsed.package_id, settings, store).result == "ERRORED:UNKNOWN_ERROR"


def test_the_celery_task_names_its_soft_time_limit(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    import tasks.packages

    seen = {}

    def fake_run(package_id, settings, store, **kwargs):
        seen.update(kwargs)
        raise RetryableError("stop here")

    monkeypatch.setattr(tasks.packages, "run_package", fake_run)
    monkeypatch.setattr(tasks.packages, "get_store", lambda: None)
    with pytest.raises(RetryableError):  # called directly, a retry raises the error again
        tasks.packages.process_package.run("0" * 32)
    assert seen["time_limit_errors"] == (SoftTimeLimitExceeded,)


def test_a_network_failure_gives_the_package_back_for_a_retry(store, settings, server):
    parsed = submit(store, settings, server.origin, "/flaky.zip")
    with pytest.raises(RetryableError):
        run_package(parsed.package_id, settings, store)
    record = store.packages.get(parsed.package_id)
    assert record.status == Status.QUEUED and record.sealed_link is not None


def test_publishing_a_new_generation_removes_the_previous_one(store, settings, server):
    parsed = submit(store, settings, server.origin)
    store.statistics.put_many(parsed.package_id, 1, [("earlier-run-view", b"old")])
    run_package(parsed.package_id, settings, store)
    assert store.statistics.get(parsed.package_id, 1, "earlier-run-view") is None
    assert read_view(store, settings, parsed, "about")["package_id"] == parsed.package_id


class _DeletingPackages:
    """Wraps the package repository: the package is deleted during analysis (a user's DELETE)."""

    def __init__(self, store):
        self.inner, self.store = store.packages, store

    def set_step(self, package_id, token, step, *args):
        if step == Status.ANALYZING:
            self.inner.delete(package_id)
        return self.inner.set_step(package_id, token, step, *args)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_package_deleted_while_processing_stops_and_leaves_no_trace(store, settings, server):
    parsed = submit(store, settings, server.origin)
    store.packages = _DeletingPackages(store)
    outcome = run_package(parsed.package_id, settings, store)
    assert outcome.result == "SKIPPED:CLAIM_LOST"
    assert store.packages.get(parsed.package_id) is None
    assert store.statistics.orphan_package_ids() == []
    assert list(settings.temp_dir.iterdir()) == []


def test_the_last_attempt_fails_the_package_instead_of_giving_it_back(store, settings, server):
    parsed = submit(store, settings, server.origin, "/flaky.zip")
    outcome = run_package(parsed.package_id, settings, store, may_retry=False)
    assert outcome.result == "ERRORED:DOWNLOAD_FAILED"
    record = store.packages.get(parsed.package_id)
    assert (record.status, record.sealed_link) == (Status.ERRORED, None)


def test_a_failure_after_publishing_never_removes_the_published_statistics(
    store, settings, server, monkeypatch
):
    parsed = submit(store, settings, server.origin)

    def broken_cleanup(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(store.statistics, "delete_package", broken_cleanup)
    assert run_package(parsed.package_id, settings, store).result == "PROCESSED"
    monkeypatch.undo()
    assert read_view(store, settings, parsed, "about")["package_id"] == parsed.package_id


def test_no_failure_log_quotes_the_link(store, settings, server, caplog):
    parsed = submit(store, settings, server.origin, "/flaky.zip")
    with pytest.raises(RetryableError) as caught:
        run_package(parsed.package_id, settings, store)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    link_secret = parsed.url.split("k=")[1]
    assert link_secret not in caplog.text and link_secret not in str(caught.value)


@pytest.mark.parametrize("keep", [True, False])
def test_a_package_task_leaves_a_spare_for_the_next_package(settings, monkeypatch, keep):
    import tasks.packages

    kept = settings.model_copy(update={"activity_spare_process": keep})
    monkeypatch.setattr(services, "_settings", kept)
    monkeypatch.setattr(tasks.packages, "run_package", lambda *_a, **_k: RunOutcome("p", "OK"))
    monkeypatch.setattr(tasks.packages, "get_store", lambda: None)
    assert SPARE._process is None
    tasks.packages.process_package.run("0" * 32)
    assert (SPARE._process is not None and SPARE._process.waiting()) == keep


@pytest.mark.parametrize(
    ("queues", "keeps"), [({"packages", "default"}, True), ({"default"}, False)]
)
def test_a_pool_process_starts_a_spare_only_where_packages_are_taken(
    settings, monkeypatch, queues, keeps
):
    from tasks.celery_app import app

    monkeypatch.setattr(services, "_settings", settings)  # ACTIVITY_SPARE_PROCESS on
    monkeypatch.setattr(app.amqp.queues, "_consume_from", dict.fromkeys(queues))
    services._start_activity_spare()
    assert (SPARE._process is not None and SPARE._process.waiting()) == keeps


def force_the_activity_process(monkeypatch) -> list:
    """From now on, the test package's activity is read by the activity process (it is under
    its threshold); the list returned records every activity process begun."""
    forced = functools.partial(
        pipeline.analyze_package, limits=ParseLimits(activity_process_min_bytes=0)
    )
    monkeypatch.setattr(pipeline, "analyze_package", forced)
    made: list = []
    begin = ActivityProcess.begin

    def recorded_begin(self, *args):
        if not self.begun:  # its job; `begin` again only takes the run's progress
            made.append(self)
        return begin(self, *args)

    monkeypatch.setattr(ActivityProcess, "begin", recorded_begin)
    return made


def test_the_activity_process_compresses_the_views_once_it_has_read_the_activity(
    store, settings, server, monkeypatch, sealed_here
):
    alone = submit(store, settings, server.origin)
    run_package(alone.package_id, settings, store)  # the activity read in this process
    begun = force_the_activity_process(monkeypatch)
    sealed_here.clear()
    parsed = submit(store, settings, server.origin)
    outcome = run_package(parsed.package_id, settings, store)

    assert outcome.result == "PROCESSED" and len(begun) == 1
    # The views sealed without compression are sealed here, `about` last; every other view was
    # compressed by the activity process.
    assert sealed_here == ["overview", *(f"stats:{name}" for name in PERIODS), "about"]
    for name in ("overview", "stats:lifetime", "top:channels:l4w"):
        assert read_view(store, settings, parsed, name) == read_view(store, settings, alone, name)
    assert begun[0]._process.returncode == 0, "ended with the run"


def test_a_run_stopped_while_its_views_are_compressed_ends_the_activity_process(
    store, settings, server, monkeypatch
):
    begun = force_the_activity_process(monkeypatch)
    parsed = submit(store, settings, server.origin)
    storing = ProgressReporter.storing

    def lost_midway(self, done):
        if done == 30:
            raise ClaimLost
        storing(self, done)

    monkeypatch.setattr(ProgressReporter, "storing", lost_midway)
    assert run_package(parsed.package_id, settings, store).result == "SKIPPED:CLAIM_LOST"
    (helper,) = begun
    assert helper._process.returncode is not None, "no activity process outlives the run"
    assert store.statistics.orphan_package_ids() == []
