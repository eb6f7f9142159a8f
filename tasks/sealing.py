"""A run's views sealed, their compression done in the run's idle activity process when there
is one.

Once the activity is read, the activity process has nothing to do and the views are built on
one core. The run's thread JSON-encodes them in batches and lends that process their
compression (`storage.crypto.VIEW_COMPRESSION`, the costliest step of sealing: 0.056 s of 0.15
on a package of 6,800 views) while it builds the next batch; it then encrypts and names each
view itself, so no key leaves the run's process. Should that process fail, the run compresses
the rest itself. The few views sealed without compression (`storage.crypto.plain_view`) are
sealed by the run's thread as they come.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import orjson

from parsers.activity.child import ActivityProcess, ChildFailed, MapEach
from storage.crypto import VIEW_COMPRESSION, PackageKey, plain_view

log = logging.getLogger(__name__)

BATCH_BYTES = 256 * 1024  # of JSON text per batch: about 130 entity views of a few KB

Sealed = list[tuple[str, bytes]]  # (view id, sealed blob)
Batch = tuple[list[str], list[bytes]]  # view names, their JSON texts


def sealed_views(
    key: PackageKey, named: Iterable[tuple[str, dict]], helper: ActivityProcess | None = None
) -> Iterator[tuple[str, bytes]]:
    """(view id, sealed blob) of every (view name, document), compressed in `helper` if given."""
    if helper is None:
        for name, document in named:
            yield key.view_id(name), key.seal(name, document)
        return
    beside = _CompressedBeside(key, helper)
    for batch in _batches(named):
        yield from beside.put(batch)
    yield from beside.take()


def _batches(named: Iterable[tuple[str, dict]]) -> Iterator[Batch]:
    names: list[str] = []
    texts: list[bytes] = []
    size = 0
    for name, document in named:
        text = orjson.dumps(document)
        names.append(name)
        texts.append(text)
        size += len(text)
        if size >= BATCH_BYTES:
            yield names, texts
            names, texts, size = [], [], 0
    if names:
        yield names, texts


class _CompressedBeside:
    """One batch at a time compressed in the helper, the next one encoded meanwhile."""

    def __init__(self, key: PackageKey, helper: ActivityProcess) -> None:
        self._key = key
        self._helper: ActivityProcess | None = helper
        self._pending: Batch | None = None
        try:
            helper.lend(MapEach(*VIEW_COMPRESSION))
        except ChildFailed:
            self._lost()

    def put(self, batch: Batch) -> Sealed:
        """Hand `batch` over; the previous batch's sealed views (taken first, so that neither
        side ever waits on a full pipe)."""
        done = self.take()
        plain, batch = _split_plain(batch)
        done += self._sealed_here(plain)
        if self._helper is None or not batch[0]:
            return done + self._sealed_here(batch)
        try:
            self._helper.send(batch[1])
        except ChildFailed:
            self._lost()
            return done + self._sealed_here(batch)
        self._pending = batch
        return done

    def take(self) -> Sealed:
        """The sealed views of the batch in the helper, if any (all done here if it failed)."""
        batch, self._pending = self._pending, None
        if batch is None:
            return []
        assert self._helper is not None  # a batch is pending only in a live helper
        try:
            compressed = self._helper.receive()
        except ChildFailed:
            compressed = None
        names = batch[0]
        if not isinstance(compressed, list) or len(compressed) != len(names):
            self._lost()
            return self._sealed_here(batch)
        key = self._key
        return [
            (key.view_id(name), key.seal_compressed(name, text))
            for name, text in zip(names, compressed, strict=True)
        ]

    def _sealed_here(self, batch: Batch) -> Sealed:
        key = self._key
        return [
            (key.view_id(name), key.seal_json(name, text))
            for name, text in zip(*batch, strict=True)
        ]

    def _lost(self) -> None:
        log.warning("the activity process stopped compressing views: the run does it itself")
        self._helper = None


def _split_plain(batch: Batch) -> tuple[Batch, Batch]:
    """The views of `batch` sealed without compression (`plain_view`), and the others."""
    plain: Batch = ([], [])
    others: Batch = ([], [])
    for name, text in zip(*batch, strict=True):
        kept = plain if plain_view(name) else others
        kept[0].append(name)
        kept[1].append(text)
    return plain, others
