"""One package run: claim, download, analyze, build the app's file, seal, store, publish.

Called by the task and tests.

Every state change goes through a conditional repository call holding this run's claim token,
so a redelivered message, a second worker or a DELETE in the middle cannot double or resurrect
anything: a run that loses its claim stops at its next progress report.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from parsers.errors import InvalidPackage
from parsers.package import PackageAnalysis, analyze_package
from parsers.views.app_database import AppDatabaseWriter
from settings import Settings
from storage import Status, Store, scratch
from storage.crypto import DecryptionError, PackageKey
from storage.errors import is_store_unavailable
from storage.links import InvalidLink, is_upload_link, key_material_of, split_meter
from storage.metering import TransferMeter, limit_of
from storage.uploads import upload_key
from tasks.app_file import AppFileJob
from tasks.download_limits import BANDWIDTH_EXCEEDED, DownloadError, DownloadLimits
from tasks.progress import ClaimLost, ProgressReporter
from tasks.sealing import sealed_views
from tasks.stop import HandBackRequested, StopRequest

log = logging.getLogger(__name__)

WORKER_LOST = "WORKER_LOST"
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
UPLOAD_MISSING = "UPLOAD_MISSING"
METERED_DOWNLOAD = "link download"  # the file name a metered download is logged under


class RetryableError(Exception):
    """A failure worth another attempt later (network, store); the package went back to QUEUED."""


@dataclass(frozen=True)
class RunOutcome:
    """What a run did, for logs and tests (never any package content)."""

    package_id: str
    result: str  # PROCESSED, ERRORED:<code>, SKIPPED:<why>
    views: int = 0
    seconds: float = 0.0


def run_package(
    package_id: str,
    settings: Settings,
    store: Store,
    local_zip: Path | None = None,
    may_retry: bool = True,
    time_limit_errors: tuple[type[BaseException], ...] = (),
    stop: StopRequest | None = None,
) -> RunOutcome:
    """Process one package end to end if it is this run's to process.

    With `local_zip` the package is read from that file instead of downloaded (`launchers.local`).
    A network failure gives the package back for a retry when `may_retry`, else fails it.
    `time_limit_errors` are what the caller raises when the run's time is up (the Celery task:
    its soft time limit): the package then fails with TIME_LIMIT.
    `stop` is set when the worker is stopping: the package is handed back (QUEUED, the attempt
    given back, nothing of this run kept) and HandBackRequested raised, for the caller to put
    its message back in the queue.
    """
    if stop is not None:
        stop.check()  # stopping already: not even claimed
    now = time.time()
    stale_before = now - settings.stale_after_seconds
    token = uuid.uuid4().hex
    try:
        record = store.packages.get(package_id)
        if record is None or record.status in (Status.PROCESSED, Status.ERRORED):
            return RunOutcome(package_id, f"SKIPPED:{record.status if record else 'UNKNOWN'}")
        if record.attempts >= settings.max_attempts and _is_idle(record, stale_before):
            store.packages.fail(package_id, None, WORKER_LOST, now)
            return RunOutcome(package_id, f"ERRORED:{WORKER_LOST}")
        claimed = store.packages.claim(package_id, token, now, stale_before)
    except Exception as exc:
        if not is_store_unavailable(exc):
            raise
        return _store_down(package_id, may_retry)  # nothing claimed: nothing to give back
    if claimed is None:
        return RunOutcome(package_id, "SKIPPED:BUSY")
    run = _PackageRun(settings, store, claimed.package_id, token, claimed.sealed_link, local_zip)
    run.time_limit_errors = time_limit_errors
    run.use_stop(stop)
    return run.run(may_retry)


class CollectorPause:
    """Python's cyclic garbage collector off while any package run of this process is on.

    A run makes millions of objects and keeps hundreds of thousands (its aggregates), so the
    collector's passes come often and its full passes walk all of them (50 ms each on a package
    of 5,000 channels, holding the GIL that the views and the app file's thread share), while
    they find next to nothing: a run's objects go when their reference counts drop, and the few
    cycles it leaves (`tests/tasks/test_collector_pause.py` counts them) wait for the
    collector's next pass. A run that succeeds ends it once its aggregates are gone, so that
    pass walks only what outlives the run (a failed run's traceback still holds them: the pass
    after it walks them once). Runs in threads of one process may overlap: the collector comes
    back (if it was on before the first) when the last one ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._was_enabled = False

    @contextmanager
    def during_run(self) -> Iterator[None]:
        counted = False
        try:  # counted and uncounted inside it: an exception raised meanwhile by a signal
            # handler (a soft time limit) leaves no count behind, bar a statement's width
            with self._lock:
                if self._runs == 0:
                    self._was_enabled = gc.isenabled()
                    gc.disable()
                self._runs += 1
                counted = True
            yield
        finally:
            if counted:
                with self._lock:
                    self._runs -= 1
                    if self._runs == 0 and self._was_enabled:
                        gc.enable()


COLLECTOR_PAUSE = CollectorPause()


def _store_down(package_id: str, may_retry: bool) -> RunOutcome:
    """The store failed with the package QUEUED: retry the message later (with the task's
    backoff), or leave it to the reaper, which sends it again after RESEND_AFTER_SECONDS."""
    log.warning("package %s: store unavailable, tried again later", package_id)
    if may_retry:
        raise RetryableError(STORE_UNAVAILABLE) from None
    return RunOutcome(package_id, f"SKIPPED:{STORE_UNAVAILABLE}")


def _admitted(metered: TransferMeter, declared: int | None) -> int:
    """The bytes a metered download may take; BANDWIDTH_EXCEEDED before any is read when its
    declared size (or, without one, anything at all) does not fit in the day's allowance."""
    allowance = metered.admit(declared, time.time())
    if allowance is None:
        raise DownloadError(BANDWIDTH_EXCEEDED, "the daily bandwidth does not allow it")
    return allowance


def _is_idle(record, stale_before: float) -> bool:
    """Queued, or active without a recent heartbeat: nobody is working on it."""
    if record.status == Status.QUEUED:
        return True
    return (record.heartbeat_at or 0) < stale_before


class _PackageRun:
    """The claimed run of one package."""

    def __init__(self, settings, store, package_id, token, sealed_link, local_zip=None):
        self.settings, self.store, self.package_id, self.token = settings, store, package_id, token
        self.sealed_link = sealed_link
        self.started = time.monotonic()
        self.progress = ProgressReporter(store.packages, package_id, token)
        self.local_zip = local_zip
        self.zip_path = local_zip or settings.temp_dir / f"{package_id}.{token[:12]}.zip"
        self.generation: int | None = None
        self.time_limit_errors: tuple[type[BaseException], ...] = ()
        self.stop: StopRequest | None = None

    def use_stop(self, stop: StopRequest | None) -> None:
        """Progress reports (and the download, anywhere) raise HandBackRequested once it is set."""
        self.stop = stop
        self.progress.stop_check = stop.check if stop is not None else None

    def run(self, may_retry: bool = True) -> RunOutcome:
        if self.local_zip is not None:
            return self._run(may_retry)
        # what an earlier, killed run of this host left behind goes before anything is downloaded
        scratch.sweep(self.settings.temp_dir)
        with scratch.ScratchFile(self.zip_path):
            return self._run(may_retry)

    def _run(self, may_retry: bool) -> RunOutcome:
        try:
            with COLLECTOR_PAUSE.during_run():
                return self._process()
        except ClaimLost:
            self._discard_unpublished()
            return RunOutcome(self.package_id, "SKIPPED:CLAIM_LOST")
        except HandBackRequested:
            return self._hand_back()
        except (InvalidLink, DecryptionError):
            return self._fail("INVALID_LINK")
        except InvalidPackage as exc:
            return self._fail(exc.code)
        except DownloadError as exc:
            if not (exc.retryable and may_retry):
                return self._fail(exc.code)
            if not self._release():
                return RunOutcome(self.package_id, "SKIPPED:CLAIM_LOST")
            raise RetryableError(exc.code) from None
        except Exception as exc:
            if isinstance(exc, self.time_limit_errors):
                return self._fail("TIME_LIMIT")
            if is_store_unavailable(exc):
                return self._give_back_after_store_error(may_retry)
            # The type only: messages of library errors may quote the link.
            log.error("package %s failed unexpectedly: %s", self.package_id, type(exc).__name__)
            return self._fail("UNKNOWN_ERROR")

    def _process(self) -> RunOutcome:
        key_material = self._key_material()
        if self.local_zip is None:
            self._fetch(key_material)
        with self._app_file() as app_file:  # its scratch files and thread end with this block
            analysis = self._analyze(app_file.writer if app_file else None)
            with closing(analysis):  # its helper process, if kept
                self.generation = generation = time.time_ns() // 1000
                key = PackageKey(self.package_id, key_material, self.settings.server_secret())
                if app_file is not None:
                    self.progress.storing(0)  # a heartbeat, and a DELETE seen before more work
                    app_file.start(analysis, generation, key_material)
                count = self.store.statistics.put_many(
                    self.package_id, generation, self._sealed_views(analysis, key, app_file)
                )
        if not self.store.packages.publish(self.package_id, self.token, generation, time.time()):
            raise ClaimLost
        self.generation = None  # published: nothing of this run may be discarded any more
        self._drop_older_generations(generation)
        return RunOutcome(self.package_id, "PROCESSED", count, self._elapsed())

    def _drop_older_generations(self, generation: int) -> None:
        """Best effort: a failure here leaves old blobs for later, never a broken package."""
        try:
            self.store.statistics.delete_package(self.package_id, keep_generation=generation)
            self.store.app_files.delete_package(self.package_id, keep_generation=generation)
        except Exception as exc:
            log.warning("package %s: old statistics kept (%s)", self.package_id, type(exc).__name__)

    def _key_material(self) -> str:
        if self.store.links is None:
            raise DecryptionError("this store has no link vault")
        opened = self.store.links.open(self.package_id, self.sealed_link or b"")
        meter, link = split_meter(opened)
        self.meter: str | None = meter
        self.link: str | None = link
        origins, secret = self.settings.whitelisted_origins, self.settings.server_secret()
        return key_material_of(self.link, origins, secret)

    def _fetch(self, key_material: str) -> None:
        """The package into this run's scratch file: its upload decrypted, or its link
        downloaded. The link is not kept on the run any longer than that."""
        link, self.link = self.link, None
        assert link is not None  # `_key_material` opened it
        if is_upload_link(link):
            self._copy_upload(key_material)
        else:
            self._download(link)

    def _download(self, link: str) -> None:
        limits = DownloadLimits(
            max_bytes=self.settings.max_package_bytes,
            connect_timeout=self.settings.download_connect_timeout,
            read_timeout=self.settings.download_read_timeout,
            max_seconds=self.settings.download_max_seconds,
            allowed_origins=self.settings.whitelisted_origins,
        )
        # requests is loaded by the runs that download only, not by launchers.local
        from tasks.download import download

        metered = self._transfer_meter()
        admit = None if metered is None else partial(_admitted, metered)
        # a blocked read would outlast the grace period: a stop interrupts the download anywhere
        try:
            with self.stop.interruptible() if self.stop is not None else nullcontext():
                size = download(link, self.zip_path, limits, self.progress.downloading, admit)
        except BaseException:
            if metered is not None:
                metered.refund()  # a failed download costs nothing
            raise
        if metered is not None:
            metered.settle(size)

    def _transfer_meter(self) -> TransferMeter | None:
        """The meter charged for this link's download (`storage.metering`), if it has one."""
        if self.meter is None:
            return None
        settings, bandwidth = self.settings, self.store.bandwidth
        limit = limit_of(
            bandwidth, self.meter, settings.daily_bandwidth_limit, settings.meter_anonymous
        )
        if limit <= 0:  # METER_ANONYMOUS turned off since the link was submitted
            return None
        return TransferMeter(bandwidth, self.meter, limit, METERED_DOWNLOAD)

    def _copy_upload(self, key_material: str) -> None:
        """A direct upload decrypted into this run's scratch file, as a download would be."""
        key = upload_key(key_material, self.settings.server_secret())
        assert self.store.links is not None  # `_key_material` opened the link with it
        try:
            with open(self.zip_path, "wb") as target:
                self.store.links.uploads.copy_out(
                    self.package_id, key, target, self.progress.downloading
                )
        except FileNotFoundError:
            raise DownloadError(UPLOAD_MISSING, "the upload is not on this host") from None

    def _analyze(self, app_database: AppDatabaseWriter | None) -> PackageAnalysis:
        self.progress.analyzing(0, Path(self.zip_path).stat().st_size)
        return analyze_package(
            self.zip_path,
            package_id=self.package_id,
            on_progress=self.progress.analyzing,
            app_database=app_database,
            keep_helper=True,
        )

    def _app_file(self) -> AppFileJob | nullcontext:
        """The app's data file of this run, or nothing when turned off."""
        if not self.settings.dumpus_app_files:
            return nullcontext()
        return AppFileJob(self.store, self.settings.temp_dir, self.package_id)

    def _sealed_views(self, analysis: PackageAnalysis, key: PackageKey, app_file=None):
        """Every view sealed (compressed by the analysis's helper process when it kept one);
        `about` last, once the app's file is stored, so that its `processing_seconds` counts
        everything."""
        about: dict = {}

        def the_others() -> Iterator[tuple[str, dict]]:
            nonlocal about
            for done, (name, document) in enumerate(analysis.views()):
                self.progress.storing(done)
                if name == "about":
                    about = document
                else:
                    yield name, document

        yield from sealed_views(key, the_others(), analysis.helper)
        if app_file is not None:
            app_file.wait()
        about = {**about, "processing_seconds": self._elapsed()}
        yield key.view_id("about"), key.seal("about", about)

    def _elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def _fail(self, code: str) -> RunOutcome:
        if self._stopping():
            return self._hand_back()
        self.store.packages.fail(self.package_id, self.token, code, time.time())
        self._discard_unpublished()
        return RunOutcome(self.package_id, f"ERRORED:{code}", seconds=self._elapsed())

    def _release(self, refund_attempt: bool = False) -> bool:
        """Give the package back to the queue for a later attempt, if it is still this run's."""
        if self._stopping():
            self._hand_back()
            return False
        self._discard_unpublished()
        return self.store.packages.release(
            self.package_id, self.token, time.time(), refund_attempt=refund_attempt
        )

    def _give_back_after_store_error(self, may_retry: bool) -> RunOutcome:
        """The store failed mid-run: the package goes back to QUEUED, this attempt refunded (the
        store stopped it, not the package). If the store is still down for that, the claim
        stays until the reaper finds its heartbeat stale and re-queues it."""
        try:
            released = self._release(refund_attempt=True)
        except Exception as exc:
            if not is_store_unavailable(exc):
                raise
            log.warning("package %s: store unavailable, left to the reaper", self.package_id)
            return RunOutcome(self.package_id, f"SKIPPED:{STORE_UNAVAILABLE}")
        if not released:
            return RunOutcome(self.package_id, "SKIPPED:CLAIM_LOST")
        return _store_down(self.package_id, may_retry)

    def _stopping(self) -> bool:
        """The worker is stopping. A failure seen meanwhile is no verdict on the package: the
        shutdown's SIGTERM reaches the run's helper processes too (honcho and systemd signal the
        whole process group), and their death looks like any other error."""
        return self.stop is not None and self.stop.requested

    def _hand_back(self) -> RunOutcome:
        """Give the package back without using an attempt, then raise HandBackRequested; if it
        is no longer this run's, SKIPPED. What this run wrote and never published goes either way.
        """
        handed_back = self.store.packages.release(
            self.package_id, self.token, time.time(), refund_attempt=True
        )
        self._discard_unpublished()
        if handed_back:
            raise HandBackRequested
        return RunOutcome(self.package_id, "SKIPPED:CLAIM_LOST")

    def _discard_unpublished(self) -> None:
        """Drop what this run wrote and will never publish (all of it if the package is gone)."""
        if self.store.packages.get(self.package_id) is None:
            self.store.statistics.delete_package(self.package_id)
            self.store.app_files.delete_package(self.package_id)
        elif self.generation is not None:
            self.store.statistics.delete_generation(self.package_id, self.generation)
            self.store.app_files.delete_generation(self.package_id, self.generation)
