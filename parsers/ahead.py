"""A package zip read ahead of its run: opened, checked and mapped, its activity process already
reading, for a caller that knows its zip before anything else is ready (`launchers.local`).

Lighter than `parsers.package` on purpose: the command imports it before everything else."""

import contextlib
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from parsers.activity.child import SPARE, ActivityProcess, may_need_process, reopenable
from parsers.archive.package_map import PackageMap, activity_shards, map_package
from parsers.archive.safety import CORRUPT, check_entries, open_archive
from parsers.errors import InvalidPackage
from parsers.limits import DEFAULT_LIMITS, ParseLimits


def open_and_map(
    zip_path, limits: ParseLimits, child: ActivityProcess | None = None
) -> tuple[zipfile.ZipFile, PackageMap]:
    """The zip opened, its central directory checked against the limits and mapped.

    `child`, when given and the activity wants it (`wants_process`), is begun on the activity
    shards as soon as the directory is read and the shards alone are checked, before the whole
    directory is checked and mapped (many-entities' 15,600 entries: 0.05 s); a zip that check
    refuses has the caller close it, before it read more than a few chunks."""
    archive = open_archive(zip_path)
    try:
        infos = archive.infolist()
        if child is not None:
            shards = activity_shards(infos)
            check_entries([info for _, info in shards], limits)
            if wants_process(zip_path, shards, limits):
                child.begin(zip_path, shards, limits)
        check_entries(infos, limits)
        return archive, map_package(infos)
    except BaseException:
        archive.close()
        raise


def wants_process(zip_path, shards, limits: ParseLimits) -> bool:
    """The activity shards are big enough to be read by the activity process, beside the rest."""
    size = sum(info.file_size for _, info in shards)
    return bool(shards) and size >= limits.activity_process_min_bytes and reopenable(zip_path)


@dataclass
class ReadAhead:
    """A zip opened, checked and mapped before its run, and the activity process begun on its
    activity (None when it holds too little)."""

    path: str
    limits: ParseLimits
    archive: zipfile.ZipFile
    found: PackageMap
    child: ActivityProcess | None

    def close(self) -> None:
        self.archive.close()
        if self.child is not None:
            self.child.close()


class _AheadSlot:
    """The one zip read ahead in this process, until its run takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ahead: ReadAhead | None = None

    def put(self, ahead: ReadAhead) -> None:
        self.drop()
        with self._lock:
            self._ahead = ahead

    def take(self, zip_path, limits: ParseLimits) -> ReadAhead | None:
        """The zip read ahead if it is this one (same path, same limits); any other is closed."""
        with self._lock:
            ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if reopenable(zip_path) and ahead.path == str(zip_path) and ahead.limits == limits:
            return ahead
        ahead.close()
        return None

    def drop(self) -> None:
        """Close the zip read ahead, if no run took it."""
        with self._lock:
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.close()


_AHEAD = _AheadSlot()


@contextlib.contextmanager
def read_ahead(zip_path, limits: ParseLimits = DEFAULT_LIMITS) -> Iterator[None]:
    """Open, check and map `zip_path` now and set the activity process reading its activity,
    for the `analyze_package` of the same path and limits to take inside this block (one that
    does not is ended on leaving it).

    For a caller that knows its zip before anything else is ready (`launchers.local`, whose
    settings, store and pipeline load meanwhile on this core, the activity on the other). A zip
    that cannot be read ahead is left for `analyze_package` to open and to report.
    """
    if reopenable(zip_path):
        with contextlib.suppress(InvalidPackage, *CORRUPT):
            _AHEAD.put(_read_ahead(str(zip_path), limits))
    try:
        yield
    finally:
        _AHEAD.drop()
        SPARE.end()


def _read_ahead(zip_path: str, limits: ParseLimits) -> ReadAhead:
    if may_need_process(zip_path, limits):
        SPARE.start()  # it boots while the zip's directory is read
    child = SPARE.take()
    try:
        archive, found = open_and_map(zip_path, limits, child)
    except BaseException:
        if child is not None:
            child.close()
        raise
    if child is not None and not child.begun:
        child.close()  # too little activity: no process waits through the run
        child = None
    return ReadAhead(zip_path, limits, archive, found, child)


def take_ahead(zip_path, limits: ParseLimits) -> ReadAhead | None:
    """The zip read ahead, for the run of that zip with those limits; None for any other."""
    return _AHEAD.take(zip_path, limits)
