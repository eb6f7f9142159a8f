"""Analyze one package zip: check it, stream it once, and yield its statistics views lazily."""

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from parsers.activity.child import ActivityProcess, process_ahead
from parsers.activity.pick import pick_sources
from parsers.aggregate.entities import Entities, build_entities
from parsers.aggregate.package_data import PackageData
from parsers.aggregate.periods import PERIODS, Period, make_periods
from parsers.ahead import ReadAhead, open_and_map, take_ahead, wants_process
from parsers.archive.layout import detect_layout, folder_language, top_folder_names
from parsers.archive.package_map import PackageMap
from parsers.archive.safety import CORRUPT
from parsers.errors import InvalidPackage
from parsers.instants import day_of, fresh_caches, instant_to_datetime
from parsers.limits import DEFAULT_LIMITS, ParseLimits
from parsers.reading import PackageReader
from parsers.streams import Progress
from parsers.views.app_database import AppDatabaseWriter
from parsers.views.package_wide import (
    TOP_TYPES,
    about_view,
    overview_view,
    stats_views,
    top_entries,
)
from parsers.views.per_entity import entity_views


class PackageAnalysis:
    """The aggregates of one package and a lazy generator of its views."""

    def __init__(self, data: PackageData, helper: ActivityProcess | None = None) -> None:
        self._data = data
        # The activity process, done with the activity and kept for the caller to `lend` a job
        # (`analyze_package(keep_helper=True)`); `close` ends it.
        self.helper = helper
        self._resolved: tuple[dict[str, Period], Entities] | None = None
        self._resolving = threading.Lock()
        self.about: dict = about_view(data)
        instant = data.package_instant
        self.package_date: datetime | None = (
            None if instant is None else instant_to_datetime(instant)
        )

    def _aggregates(self) -> tuple[dict[str, Period], Entities]:
        """The periods and the resolved channels, servers and people (built once, by whichever
        of the views and the app's file asks first: they may run in two threads)."""
        with self._resolving:
            if self._resolved is None:
                data = self._data
                instant = data.package_instant
                day = None if instant is None else day_of(instant)
                periods = make_periods(day, data.first_day)
                self._resolved = (periods, build_entities(data, periods))
        return self._resolved

    def close(self) -> None:
        """End the helper process, if one was kept."""
        helper, self.helper = self.helper, None
        if helper is not None:
            helper.close()

    def write_app_database(self, writer: AppDatabaseWriter) -> None:
        """Finish the Dumpus app's data file (`parsers.views.app_database`) from the same aggregates
        as the views; MissingOwner when the package names no owner."""
        writer.finish(self._data, lambda: self._aggregates()[1])

    def views(self) -> Iterator[tuple[str, dict]]:
        """Yield (view name, document) for every view, built one at a time. Documents are
        for orjson: an entity's `periods` may be its JSON text already (`orjson.Fragment`,
        `parsers.views.per_entity.EntityPeriods`)."""
        data = self._data
        periods, entities = self._aggregates()
        yield "about", dict(self.about)
        tops = {kind: top_entries(data, entities, kind, "lifetime") for kind in TOP_TYPES}
        stats = stats_views(data, entities, periods)
        yield "overview", overview_view(data, entities, stats["lifetime"], tops)
        for name in PERIODS:
            yield f"stats:{name}", stats[name]
        del stats
        for kind in TOP_TYPES:
            for name in PERIODS:
                entries = (
                    tops[kind] if name == "lifetime" else top_entries(data, entities, kind, name)
                )
                yield f"top:{kind}:{name}", {"type": kind, "period": name, "entries": entries}
        del tops
        yield from entity_views(data, entities, periods)


def analyze_package(
    zip_path,
    *,
    package_id: str,
    limits: ParseLimits = DEFAULT_LIMITS,
    on_progress: Callable[[int, int], None] | None = None,
    app_database: AppDatabaseWriter | None = None,
    keep_helper: bool = False,
) -> PackageAnalysis:
    """Stream the zip once and aggregate it; raise InvalidPackage when unreadable or unsafe.

    With `app_database`, the app's data file gets its message rows as soon as the messages are
    read, while the activity is still being read (`PackageAnalysis.write_app_database`). With
    `keep_helper`, the activity process, when one read the activity, is left running on the
    analysis (`PackageAnalysis.helper`), idle, for the caller to lend a job and to `close`.
    A zip opened by `read_ahead` is taken as it is, its activity process already at work.
    """
    ahead = take_ahead(zip_path, limits)
    # A zip big enough to hold activity for the activity process starts it first (or takes the
    # spare): it gets ready while the zip is checked and mapped.
    early = ahead.child if ahead is not None else process_ahead(zip_path, limits)
    helper = None
    try:
        with fresh_caches(), _opened(ahead, zip_path, limits, early) as (archive, found):
            data = _describe(found, package_id)
            progress = Progress(0, on_progress, limits.progress_every_bytes)
            reader = PackageReader(archive, found, data, limits, progress)
            progress.total = sum(info.file_size for info in reader.members())
            progress.report()
            try:
                helper = _read(zip_path, reader, limits, early, app_database)
            except CORRUPT as error:
                if progress.aborting:
                    raise
                raise InvalidPackage("The zip archive is corrupt or truncated.") from error
            data.activity = pick_sources(reader.tallies)
            progress.done = progress.total
            progress.report()
    except BaseException:
        if helper is not None:
            helper.close()
        raise
    finally:
        if early is not None and early is not helper:
            early.close()
    if helper is not None and not keep_helper:
        helper.close()
        helper = None
    return PackageAnalysis(data, helper)


@contextlib.contextmanager
def _opened(ahead: ReadAhead | None, zip_path, limits: ParseLimits, early: ActivityProcess | None):
    """(archive, map) of the zip, opened here (`early` begun as soon as the activity shards
    are known) or by `read_ahead`; closed on leaving."""
    if ahead is None:
        archive, found = open_and_map(zip_path, limits, early)
    else:
        archive, found = ahead.archive, ahead.found
    with archive:
        yield archive, found


def _read(
    zip_path, reader: PackageReader, limits: ParseLimits, early: ActivityProcess | None,
    app_database=None,
) -> ActivityProcess | None:  # fmt: skip
    """Read every member; big activity shards go to a child process running alongside (the
    one started `early`, else one started now), returned done and still running (the caller
    closes it)."""
    shards = reader.found.activity
    if not wants_process(zip_path, shards, limits):
        reader.read_all()
        return None
    child = early or ActivityProcess()
    try:
        child.begin(zip_path, shards, limits, reader.progress)
        reader.with_activity = False
        reader.between = child.pump
        reader.read_all()
        if app_database is not None:
            # by a thread of its own, beside the wait for the child and what comes after it
            app_database.add_messages(reader.data, background=True)
        result = child.result()
    except BaseException:
        child.close()
        raise
    data = reader.data
    reader.tallies.update(result.tallies)
    data.skipped.by_reason.update(result.skipped.by_reason)
    data.files["activity"] += result.files
    data.activity_lines += result.lines
    return child


def _describe(found: PackageMap, package_id: str) -> PackageData:
    missing = []
    if found.user_json is None:
        missing.append("account")
    if found.messages_root is None:
        missing.append("messages")
    if found.servers_root is None:
        missing.append("servers")
    if not found.activity:
        missing.append("activity")
    if len(missing) == 4:
        raise InvalidPackage("The archive holds no Discord data package content.")
    names = top_folder_names(found)
    layout = detect_layout(found, names)
    language = folder_language(names) if layout == "D" else "en"
    return PackageData(package_id, layout, language, missing)
