"""Open a package zip and check its central directory before anything is inflated."""

import itertools
import lzma
import re
import zipfile
import zlib

from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits

# What reading a member of an opened zip raises when the zip is corrupt or truncated (the
# readers turn it into InvalidPackage).
CORRUPT = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, OSError)
_DRIVE = re.compile(r"[A-Za-z]:")
_SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def open_archive(path) -> zipfile.ZipFile:
    """Open the zip and read its central directory, or raise InvalidPackage."""
    try:
        return zipfile.ZipFile(path)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # the caller's mistake, not a bad package
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
    ) as error:
        raise InvalidPackage("The file is not a readable zip archive.") from error


def check_entries(infos: list[zipfile.ZipInfo], limits: ParseLimits) -> None:
    """Check the central directory against the limits before anything is inflated."""
    if len(infos) > limits.max_entries:
        raise InvalidPackage("The archive has more entries than allowed.")
    total = 0
    for info in infos:
        _check_name(info.orig_filename)
        if info.flag_bits & 0x1:
            raise InvalidPackage("The archive contains encrypted entries.")
        if info.compress_type not in _SUPPORTED_METHODS:
            raise InvalidPackage("The archive uses an unsupported compression method.")
        total += info.file_size
        if info.file_size > limits.ratio_min_size and (
            info.compress_size <= 0 or info.file_size / info.compress_size > limits.max_ratio
        ):
            raise InvalidPackage("An archive entry has a suspicious compression ratio.")
    if total > limits.max_total_uncompressed:
        raise InvalidPackage("The archive declares more uncompressed data than allowed.")
    _check_no_overlap(infos)


_LOCAL_HEADER_BYTES = 30


def _check_no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse entries whose data overlap (a zip-bomb trick: many names, one deflate stream)."""
    spans = sorted(
        (
            info.header_offset,
            info.header_offset + _LOCAL_HEADER_BYTES + _raw_name_length(info) + info.compress_size,
        )
        for info in infos
    )
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        if end > next_start:
            raise InvalidPackage("Archive entries overlap.")


def _raw_name_length(info: zipfile.ZipInfo) -> int:
    if info.orig_filename.isascii():  # one byte a character in both encodings
        return len(info.orig_filename)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    try:
        return len(info.orig_filename.encode(encoding))
    except UnicodeEncodeError:
        return len(info.orig_filename.encode("utf-8", "surrogateescape"))


def _check_name(name: str) -> None:
    if "\x00" in name:
        raise InvalidPackage("An archive entry name contains a NUL character.")
    normal = name.replace("\\", "/")
    if normal.startswith("/") or _DRIVE.match(normal):
        raise InvalidPackage("An archive entry has an absolute path.")
    if ".." in normal.split("/"):
        raise InvalidPackage("An archive entry name climbs out of the archive.")
