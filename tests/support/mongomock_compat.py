"""mongomock, taught what newer pymongo sends it (the tests' fake server only)."""

from __future__ import annotations

import functools
import inspect
import threading

import mongomock.collection


def let_mongomock_take_sort() -> None:
    """pymongo >= 4.11 passes `sort=` to the bulk builder, which mongomock 4.3 does not accept.

    The backend keeps plain `bulk_write([ReplaceOne(...)])`; only the fake server is taught to
    ignore a `sort` of None (the backend never sets one).
    """
    builder = mongomock.collection.BulkOperationBuilder
    if "sort" in inspect.signature(builder.add_replace).parameters:
        return
    add_replace = builder.add_replace

    def add_replace_ignoring_sort(self, *args, sort=None, **kwargs):
        assert sort is None, "mongomock cannot sort a replace"
        return add_replace(self, *args, **kwargs)

    builder.add_replace = add_replace_ignoring_sort


_gridfs_taught = False


def let_gridfs_take_mongomock() -> None:
    """gridfs checks `isinstance(db, pymongo.Database)`; mongomock ships a patch widening it.

    mongomock's GridFS support covers the legacy `gridfs.GridFS` API the backend uses
    (`GridFSBucket` fails on mongomock 4.3: its timeout handling is not faked).
    """
    global _gridfs_taught
    if not _gridfs_taught:
        import mongomock.gridfs

        mongomock.gridfs.enable_gridfs_integration()
        _gridfs_taught = True


# Each of these runs whole under one lock, as a server runs one operation on one document:
# mongomock checks a filter or a unique index and then writes, with nothing around the two, so
# racing threads could both pass (a server and SQLite cannot). Reads take a snapshot already.
ATOMIC_OPERATIONS = (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "bulk_write",
)
_ONE_OPERATION_AT_A_TIME = threading.RLock()


def make_mongomock_operations_atomic() -> None:
    """Run each write of mongomock's collections under one process-wide lock (re-entrant: an
    operation may call another), so that the contract suite's races test the backend's use of
    single atomic operations, not mongomock's lack of them."""
    collection = mongomock.collection.Collection
    for name in ATOMIC_OPERATIONS:
        method = getattr(collection, name)
        if getattr(method, "atomic", False):
            continue
        setattr(collection, name, _atomic(method))


def _atomic(method):
    @functools.wraps(method)
    def one_at_a_time(*args, **kwargs):
        with _ONE_OPERATION_AT_A_TIME:
            return method(*args, **kwargs)

    one_at_a_time.atomic = True  # type: ignore[attr-defined]
    return one_at_a_time
