"""Small members read whole (`parsers.archive.members`): zipfile's bytes, or zipfile's errors."""

import io
import zipfile
import zlib
from pathlib import Path

import pytest

from parsers.archive import members
from parsers.archive.inflater import read_whole
from parsers.errors import InvalidPackage
from parsers.package import analyze_package
from parsers.streams import Progress
from tests.parsers.test_parsers_activity_fast import big_package

TEXT = b"".join(b'{"ID":%d,"Timestamp":"2024-01-02 03:04:05"}\n' % i for i in range(2000))


def small_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("deflated.json", TEXT, zipfile.ZIP_DEFLATED)
        archive.writestr("stored.json", TEXT[:3000], zipfile.ZIP_STORED)
        archive.writestr("empty.json", b"", zipfile.ZIP_DEFLATED)
        archive.writestr("é/unicode.json", TEXT[:100], zipfile.ZIP_DEFLATED)
        archive.writestr("big.json", TEXT * 20, zipfile.ZIP_DEFLATED)  # over the whole-read size
    return path


def test_small_members_read_whole_are_zipfile_bytes_and_count_progress(tmp_path):
    path = small_zip(tmp_path / "s.zip")
    progress = Progress(1 << 62, None, 1 << 40)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with members.open_member(archive, info, progress) as stream:
                assert stream.read() == archive.read(info)
                whole = isinstance(stream, io.BytesIO)
            assert whole == (info.file_size <= members.WHOLE_MEMBER_BYTES), info.filename
        assert progress.done == sum(info.file_size for info in archive.infolist())


def damaged(path: Path, name: str, at: int, new: bytes) -> zipfile.ZipInfo:
    """Overwrite bytes of a member's local header (`at` from its start); its central entry."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = bytearray(path.read_bytes())
    data[info.header_offset + at : info.header_offset + at + len(new)] = new
    path.write_bytes(bytes(data))
    return info


@pytest.mark.parametrize(
    ("at", "new", "zipfile_error"),
    [
        (0, b"PK\x05\x06", zipfile.BadZipFile),  # not a local header
        (30, b"X", zipfile.BadZipFile),  # the local name differs from the directory's
        (30 + len("deflated.json") + 10, b"\xff" * 8, zlib.error),  # corrupt deflate
    ],
)
def test_a_damaged_member_is_a_bad_zip_as_zipfile_finds_it(tmp_path, at, new, zipfile_error):
    path = small_zip(tmp_path / "s.zip")
    info = damaged(path, "deflated.json", at, new)
    with open(path, "rb") as raw, pytest.raises(zipfile.BadZipFile):
        read_whole(raw, info)
    with zipfile.ZipFile(path) as archive, pytest.raises(zipfile_error):
        archive.read(info)


def without_utf8_flag(path: Path, name: str) -> zipfile.ZipInfo:
    """Clear the UTF-8 flag of a member in both its headers: its name's bytes then read as cp437
    (as an old archiver's would); its central entry as zipfile now reads it."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")  # the central entry that names it
    while data[central + 46 : central + 46 + len(name.encode())] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    for flags in (info.header_offset + 6, central + 8):
        data[flags + 1] &= ~0x08  # bit 11 of the little-endian flags
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        return next(i for i in archive.infolist() if i.header_offset == info.header_offset)


def test_a_cp437_name_is_read_as_zipfile_reads_it_and_checked(tmp_path):
    path = small_zip(tmp_path / "s.zip")
    info = without_utf8_flag(path, "é/unicode.json")
    assert info.filename == "é".encode().decode("cp437") + "/unicode.json"
    assert not info.flag_bits & 0x800
    with open(path, "rb") as raw, zipfile.ZipFile(path) as archive:
        assert read_whole(raw, info) == archive.read(info) == TEXT[:100]
    damaged(path, info.filename, 31, b"\xaa")  # its second byte, in the local header only
    with open(path, "rb") as raw, pytest.raises(zipfile.BadZipFile, match="header differ"):
        read_whole(raw, info)
    with zipfile.ZipFile(path) as archive, pytest.raises(zipfile.BadZipFile):
        archive.read(info)


def test_a_wrong_crc_or_size_is_a_bad_zip(tmp_path):
    path = small_zip(tmp_path / "s.zip")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("stored.json")
    with open(path, "rb") as raw:
        info.CRC ^= 1
        with pytest.raises(zipfile.BadZipFile):
            read_whole(raw, info)
        info.CRC ^= 1
        info.file_size -= 1  # a deflated member inflates no further than its size plus one
        with pytest.raises(zipfile.BadZipFile):
            read_whole(raw, info)


def test_a_truncated_zip_is_an_end_of_file(tmp_path):
    path = small_zip(tmp_path / "s.zip")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("deflated.json")
    path.write_bytes(path.read_bytes()[: info.header_offset + 60])
    with open(path, "rb") as raw, pytest.raises(EOFError):
        read_whole(raw, info)


def test_a_small_member_with_a_bad_crc_makes_the_package_invalid(tmp_path):
    path = big_package(tmp_path, 50)
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("messages.json"))
    assert 0 < info.file_size <= members.WHOLE_MEMBER_BYTES
    data = bytearray(path.read_bytes())
    local_extra = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + len(info.filename) + local_extra  # its deflate stream
    data[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidPackage):
        analyze_package(path, package_id="x")


@pytest.mark.parametrize("flag", [0x20, 0x40])  # compressed patched data, strong encryption
def test_a_member_zipfile_cannot_read_is_not_read_whole(tmp_path, flag):
    path = small_zip(tmp_path / "s.zip")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("deflated.json")
        info.flag_bits |= flag
        with pytest.raises(NotImplementedError):
            archive.read(info)
    with open(path, "rb") as raw, pytest.raises(NotImplementedError):
        read_whole(raw, info)
