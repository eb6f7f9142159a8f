"""A run asked to stop (its worker is shutting down) hands its package back: QUEUED, the attempt
given back, nothing of the run kept. The signal side is in tests/faults/test_shutdown.py."""

import secrets

import pytest

from samples import SampleSpec, generate_package
from storage import Status
from storage.links import parse_package_link
from tasks.pipeline import run_package
from tasks.stop import HandBackRequested, StopRequest
from tests.support.httpserver import ScriptedServer, body


@pytest.fixture(scope="module")
def package_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    generate_package(path, SampleSpec(layout="D", messages=300, events=600, seed=3))
    return path.read_bytes()


@pytest.fixture
def server(package_bytes):
    with ScriptedServer({"/p.zip": body(package_bytes)}) as srv:
        yield srv


@pytest.fixture
def settings(settings, server):
    return settings.with_overrides(whitelisted_origins=(server.origin,))


@pytest.fixture
def package_id(store, settings, server):
    link = f"{server.origin}/p.zip?k={secrets.token_urlsafe(16)}"
    parsed = parse_package_link(link, (server.origin,), settings.server_secret())
    store.packages.enqueue(parsed.package_id, store.links.seal(parsed.package_id, link), 1.0)
    return parsed.package_id


class _StoppingAt:
    """Wraps the package repository: the stop is requested at a chosen progress report."""

    def __init__(self, store, stop: StopRequest, when):
        self.inner, self.stop, self.when = store.packages, stop, when

    def set_step(self, package_id, token, step, progress, done, total, now):
        if self.when(step, done):
            self.stop.request()
        return self.inner.set_step(package_id, token, step, progress, done, total, now)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _analyzing(step, done) -> bool:
    return step == Status.ANALYZING and done is not None


def _storing(step, done) -> bool:
    return step == Status.ANALYZING and done is None


@pytest.mark.parametrize("when", [_analyzing, _storing], ids=["analyzing", "storing"])
def test_a_run_asked_to_stop_hands_its_package_back_and_keeps_nothing(
    store, settings, package_id, when
):
    stop = StopRequest()
    store.packages = _StoppingAt(store, stop, when)
    with pytest.raises(HandBackRequested):
        run_package(package_id, settings, store, stop=stop)
    record = store.packages.get(package_id)
    assert (record.status, record.attempts, record.claim_token) == (Status.QUEUED, 0, None)
    assert record.sealed_link is not None and record.error_code is None
    assert store.statistics.delete_package(package_id) == 0  # nothing of the run was kept
    assert store.app_files.delete_package(package_id) == 0
    assert list(settings.temp_dir.iterdir()) == []


class _StoppingAfterFirstView:
    """Wraps the statistics repository: the stop comes once a first view is written."""

    def __init__(self, store, stop: StopRequest):
        self.inner, self.stop = store.statistics, stop

    def put_many(self, package_id, generation, items):
        items = iter(items)
        written = self.inner.put_many(package_id, generation, [next(items)])
        self.stop.request()
        return written + self.inner.put_many(package_id, generation, items)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_views_written_before_the_stop_are_discarded(store, settings, package_id):
    stop = StopRequest()
    store.statistics = _StoppingAfterFirstView(store, stop)
    with pytest.raises(HandBackRequested):
        run_package(package_id, settings, store, stop=stop)
    assert store.packages.get(package_id).status == Status.QUEUED
    assert store.statistics.delete_package(package_id) == 0


class _HelperDyingWithTheStop(_StoppingAt):
    """The shutdown's SIGTERM also reached a helper process of the analysis, which died."""

    def set_step(self, package_id, token, step, progress, done, total, now):
        if _analyzing(step, done):
            self.stop.request()
            raise RuntimeError("the activity reader died (exit code -15)")
        return self.inner.set_step(package_id, token, step, progress, done, total, now)


def test_an_error_while_stopping_hands_the_package_back_instead_of_failing_it(
    store, settings, package_id
):
    stop = StopRequest()
    store.packages = _HelperDyingWithTheStop(store, stop, _analyzing)
    with pytest.raises(HandBackRequested):
        run_package(package_id, settings, store, stop=stop)
    record = store.packages.get(package_id)
    assert (record.status, record.error_code, record.attempts) == (Status.QUEUED, None, 0)


def test_a_run_stopping_before_its_claim_leaves_the_package_untouched(store, settings, package_id):
    before = store.packages.get(package_id)
    stop = StopRequest()
    stop.request()
    with pytest.raises(HandBackRequested):
        run_package(package_id, settings, store, stop=stop)
    assert store.packages.get(package_id) == before


def test_a_handed_back_package_is_processed_by_the_next_run_with_one_attempt(
    store, settings, package_id
):
    stop = StopRequest()
    store.packages = _StoppingAt(store, stop, _analyzing)
    with pytest.raises(HandBackRequested):
        run_package(package_id, settings, store, stop=stop)
    store.packages = store.packages.inner
    assert run_package(package_id, settings, store, stop=StopRequest()).result == "PROCESSED"
    assert store.packages.get(package_id).attempts == 1


class _DeletedBeforeHandBack(_StoppingAt):
    """The user's DELETE lands between the stop request and the hand-back."""

    def release(self, package_id, token, now, refund_attempt=False):
        self.inner.delete(package_id)
        return self.inner.release(package_id, token, now, refund_attempt=refund_attempt)


def test_a_hand_back_after_losing_the_claim_is_a_lost_claim(store, settings, package_id):
    stop = StopRequest()
    store.packages = _DeletedBeforeHandBack(store, stop, _storing)
    assert run_package(package_id, settings, store, stop=stop).result == "SKIPPED:CLAIM_LOST"
    assert store.statistics.delete_package(package_id) == 0
    assert store.app_files.delete_package(package_id) == 0


# --- StopRequest ------------------------------------------------------------------------------


def test_a_stop_interrupts_an_interruptible_stretch_at_once_and_only_once():
    stop = StopRequest()
    with pytest.raises(HandBackRequested), stop.interruptible():
        stop.request()  # what the signal handler calls while a download waits
    stop.request()  # a second signal during the hand-back interrupts nothing
    with pytest.raises(HandBackRequested), stop.interruptible():
        pass  # entering one after the stop was asked for raises at once
    with pytest.raises(HandBackRequested):
        stop.check()


def test_a_stop_outside_an_interruptible_stretch_waits_for_the_next_check():
    stop = StopRequest()
    stop.request()
    assert stop.requested
    with pytest.raises(HandBackRequested):
        stop.check()
