"""The Dumpus app's data file of one run: built from the analysis, compressed, encrypted, stored.

It is built from the same parse as the statistics (no second read of the zip): the analysis
writes its message rows while another process still reads the activity, and a thread finishes
it beside the sealing of the views (SQLite, ISA-L and AES release the GIL for most of it). The
run still holds the key material then: the file is encrypted under SHA-256 of the UPN, the app's
own key, which the server cannot derive once the run is over, and only that ciphertext is stored
(by the run's own thread), under the run's generation: published, replaced and discarded with
the statistics. The SQLite file is built in a scratch file beside the run's download
(private, locked, removed at the end, swept after a crash), so memory stays bounded whatever the
package's size; so is a second one, where another thread writes the voice stays and sessions
before they are copied in (`parsers.views.app_database.SideTables`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib

from parsers.package import PackageAnalysis
from parsers.views.app_database import AppDatabaseWriter, MissingOwner
from storage import Store
from storage.app_file_crypto import encrypt_app_file
from storage.scratch import ScratchFile

CHUNK_BYTES = 1024 * 1024
GZIP_WBITS = 16 + 15  # a gzip header, as the app's pako expects (or a zlib one; never raw)


class AppFileJob:
    """The app's data file of one run: its scratch file, the writer handed to the analysis,
    and the thread that finishes and encrypts it. Use as a context manager."""

    def __init__(self, store: Store, scratch_dir: Path, package_id: str) -> None:
        self.store = store
        self.package_id = package_id
        self._files = ExitStack()
        name = f"{package_id}.{secrets.token_hex(6)}"
        self.database = self._files.enter_context(ScratchFile(scratch_dir / f"{name}.app"))
        side = self._files.enter_context(ScratchFile(scratch_dir / f"{name}.side"))
        self.writer = AppDatabaseWriter(self.database.path, side.path)
        self.generation = 0
        self._thread: threading.Thread | None = None
        self._result: tuple[str, bytes] | str | None = None
        self._error: BaseException | None = None

    def start(self, analysis: PackageAnalysis, generation: int, key_material: str) -> None:
        """Finish and encrypt the file in a thread (`wait` stores it)."""
        self.generation = generation
        args = (self.writer, analysis, key_material)
        self._thread = threading.Thread(target=self._run, args=args, daemon=True)
        self._thread.start()

    def _run(self, *args) -> None:
        try:
            self._result = build_app_file(*args)
        except BaseException as exc:  # handed to the run's thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Wait for the file, then store it (or why there is none) from the run's thread;
        raise the thread's failure here."""
        if self._thread is not None:
            self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error
        result, self._result = self._result, None
        if isinstance(result, str):
            self.store.app_files.put_unavailable(self.package_id, self.generation, result)
        elif result is not None:
            self.store.app_files.put(self.package_id, self.generation, *result)

    def __enter__(self) -> AppFileJob:
        return self

    def __exit__(self, *exc) -> None:
        """Never leave a writer behind: join the thread, close the file, remove the scratch."""
        if self._thread is not None:
            self._thread.join()
        self.writer.close()
        self._files.close()


def build_app_file(
    writer: AppDatabaseWriter, analysis: PackageAnalysis, key_material: str
) -> tuple[str, bytes] | str:
    """(IV, ciphertext) of the finished file, or why there is none. Touches no store: the
    thread it runs in would keep a connection of its own."""
    try:
        analysis.write_app_database(writer)
    except MissingOwner as exc:
        return exc.code
    with open(writer.path, "rb") as plain:
        return encrypt_app_file(key_material, gzipped(plain))


def gzipped(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's bytes gzip-compressed (ISA-L), in chunks."""
    compressor = isal_zlib.compressobj(2, isal_zlib.DEFLATED, GZIP_WBITS)
    while chunk := stream.read(CHUNK_BYTES):
        yield compressor.compress(chunk)
    yield compressor.flush()
