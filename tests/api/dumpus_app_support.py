"""Helpers of the tests of the Dumpus app's routes: the app's headers and a processed package
with a data file, stored as the worker stores them."""

from __future__ import annotations

import gzip
import os

from storage.app_file_crypto import encrypt_app_file
from storage.crypto import package_id_for
from tests.api.api_support import bearer, sample_views

APP_ORIGIN = "https://web.dumpus.app"
SQLITE_HEADER = b"SQLite format 3\x00"


def app_headers(upn: str | None = None, origin: str = APP_ORIGIN) -> dict[str, str]:
    """What the app sends: its Origin, and its bearer UPN on every call but the first."""
    headers = {"Origin": origin, "Accept": "application/json"}
    return {**headers, **bearer(upn)} if upn else headers


def with_app_file(packages, store, upn: str, generation: int = 1) -> tuple[str, bytes, str, bytes]:
    """A processed package with a data file: (package id, compressed file, iv, ciphertext)."""
    package_id = packages.processed(upn, sample_views(package_id_for(upn)), generation)
    compressed = gzip.compress(SQLITE_HEADER + os.urandom(3000))
    iv, ciphertext = encrypt_app_file(upn, [compressed])
    store.app_files.put(package_id, generation, iv, ciphertext)
    return package_id, compressed, iv, ciphertext
