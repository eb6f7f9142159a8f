"""Zip writer for sample packages: wrapper folder, directory entries, __MACOSX junk, ZIP64."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from samples.compact_json import compact_bytes

COMPRESS_LEVEL = 6
# The AppleDouble header macOS Archive Utility leaves in __MACOSX/._<name> files.
APPLE_DOUBLE = (
    b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\t\x00\x00\x002"
    b"\x00\x00\x00\x20\x00\x00\x00\x02\x00\x00\x00R\x00\x00\x00\x00" + b"\x00" * 46
)


class PackageZip:
    """Writes the members of a sample package with deterministic metadata, one at a time."""

    def __init__(
        self,
        path: Any,
        *,
        date_time: tuple[int, int, int, int, int, int],
        prefix: str = "",
        directory_entries: bool = True,
        macosx: bool = False,
        zip64: bool = False,
    ) -> None:
        self._zip = zipfile.ZipFile(
            path, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=COMPRESS_LEVEL
        )
        self.date_time = date_time
        self.prefix = prefix
        self.directory_entries = directory_entries
        self.macosx = macosx
        self.zip64 = zip64
        self._dirs: set[str] = set()

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        # ZipFile.open(ZipInfo) does not apply its own level; the field is private (not in typeshed)
        info._compresslevel = COMPRESS_LEVEL  # type: ignore[attr-defined]
        info.external_attr = 0o644 << 16
        info.create_system = 3
        return info

    def _ensure_dirs(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth]) + "/"
            if folder in self._dirs:
                continue
            self._dirs.add(folder)
            if self.directory_entries:
                info = zipfile.ZipInfo(folder, self.date_time)
                info.external_attr = (0o40755 << 16) | 0x10
                info.create_system = 3
                self._zip.writestr(info, b"")

    @contextmanager
    def open_binary(self, name: str, big: bool = False) -> Iterator[IO[bytes]]:
        """Open one member for streaming writes (name relative to the package root)."""
        full = self.prefix + name
        self._ensure_dirs(full)
        with self._zip.open(self._info(full), "w", force_zip64=self.zip64 or big) as member:
            yield member
        if self.macosx:
            self._apple_double(full)

    @contextmanager
    def open_text(self, name: str, big: bool = False) -> Iterator[IO[str]]:
        """Open one member as UTF-8 text with no newline translation."""
        with self.open_binary(name, big) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="", write_through=False)
            yield text
            text.flush()
            text.detach()

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a small member in one go."""
        with self.open_binary(name) as member:
            member.write(data)

    def write_json(self, name: str, obj: Any) -> None:
        """Write a small JSON member."""
        self.write_bytes(name, compact_bytes(obj))

    def _apple_double(self, full: str) -> None:
        folder, _, base = full.rpartition("/")
        junk = f"__MACOSX/{folder}/._{base}" if folder else f"__MACOSX/._{base}"
        self._ensure_dirs(junk)
        with self._zip.open(self._info(junk), "w", force_zip64=self.zip64) as member:
            member.write(APPLE_DOUBLE)

    def close(self) -> None:
        """Write the central directory."""
        self._zip.close()
