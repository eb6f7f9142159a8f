"""mongomock, taught what newer pymongo sends it (the tests' fake server only)."""

from __future__ import annotations

import inspect

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
