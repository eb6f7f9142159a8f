"""Zip members as streams for the readers of the main process (the activity process has its own
inflater, `inflater.py`)."""

import io
import zipfile
from typing import IO

from parsers.archive.inflater import read_whole
from parsers.streams import READ_BUFFER, Progress

WHOLE_MEMBER_BYTES = 1024 * 1024  # members up to this size (both sizes) are read in one go
_WHOLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class CountingRaw(io.RawIOBase):
    """A raw stream over a zip member that reports inflated bytes to the progress."""

    def __init__(self, member: IO[bytes], progress: Progress) -> None:
        self._member = member
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._member.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self._progress.advance(count)
        return count

    def close(self) -> None:
        self._member.close()
        super().close()


def open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, progress: Progress):
    """Open one zip member as a buffered binary stream whose reads advance the progress.

    A small stored or deflated member is read whole at once (`inflater.read_whole`: most
    channel folders' files are a few KB, and a package may hold 10,000 of them); a bigger one
    is streamed. Members are read one at a time (the archive's file is shared).
    """
    if (
        info.file_size <= WHOLE_MEMBER_BYTES
        and info.compress_size <= WHOLE_MEMBER_BYTES
        and info.compress_type in _WHOLE_METHODS
        and not info.flag_bits & 0x1  # encrypted (check_entries refuses them before)
        and archive.fp is not None
    ):
        data = read_whole(archive.fp, info)
        progress.advance(len(data))
        return io.BytesIO(data)
    return io.BufferedReader(CountingRaw(archive.open(info), progress), buffer_size=READ_BUFFER)
