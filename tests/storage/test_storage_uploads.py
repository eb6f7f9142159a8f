"""`storage.uploads`: a direct upload is written encrypted as it arrives, opens only whole and
with its key, leaves no file unless kept, and is removed when its package ends."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest

from storage.crypto import DecryptionError
from storage.link_vault import LinkVault
from storage.uploads import CHUNK_BYTES, UploadFiles, UploadTooLarge, upload_key

PACKAGE = "0123456789abcdef0123456789abcdef"
KEY = upload_key("k" * 512, b"secret")
MARKER = b"PLAINTEXT-MARKER-" * 64


def a_zip(size: int = 3 * CHUNK_BYTES + 123, comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("account/user.json", MARKER)
        archive.writestr("padding.bin", os.urandom(size))
        archive.comment = comment
    return buffer.getvalue()


def receive(uploads: UploadFiles, data: bytes, keep: bool = True, piece: int = 65_536):
    with uploads.incoming(PACKAGE, KEY, max_bytes=10 * CHUNK_BYTES) as incoming:
        for start in range(0, len(data), piece):
            incoming.write(data[start : start + piece])
        incoming.finish()
        if keep:
            incoming.keep()
    return incoming


def test_an_upload_is_kept_encrypted_and_opens_whole(tmp_path):
    uploads, data = UploadFiles(tmp_path), a_zip()
    incoming = receive(uploads, data)
    assert incoming.size == len(data) and incoming.looks_like_a_zip()
    stored = uploads.path(PACKAGE).read_bytes()
    assert MARKER[:32] not in stored and len(stored) > len(data)
    out, seen = io.BytesIO(), []
    assert uploads.copy_out(PACKAGE, KEY, out, lambda done, total: seen.append(done)) == len(data)
    assert out.getvalue() == data
    assert seen == sorted(seen) and seen[-1] == len(stored)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{PACKAGE}.upload"]


def test_an_upload_not_kept_or_failing_leaves_no_file(tmp_path):
    uploads = UploadFiles(tmp_path)
    receive(uploads, a_zip(1000), keep=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), uploads.incoming(PACKAGE, KEY, 10**6) as incoming:
        incoming.write(b"PK\x03\x04 and then the client goes away")
        raise RuntimeError("disconnected")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), uploads.incoming(PACKAGE, KEY, 10**6) as incoming:
        incoming.write(a_zip(100))
        incoming.finish()
        incoming.keep()
        raise RuntimeError("the store failed while the package was queued")
    assert list(tmp_path.iterdir()) == []


def test_an_upload_over_its_limit_stops_and_leaves_no_file(tmp_path):
    uploads = UploadFiles(tmp_path)
    with pytest.raises(UploadTooLarge), uploads.incoming(PACKAGE, KEY, 100) as incoming:
        incoming.write(b"x" * 60)
        incoming.write(b"x" * 41)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],  # cut short
        lambda b: b[: len(b) - (len(b) - 8) // 4],  # a whole chunk missing or more
        lambda b: b + b"\x00",  # bytes after the last chunk
        lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:],  # a flipped bit
        lambda b: b"XXXX" + b[4:],  # not an upload file
    ],
    ids=["cut", "chunk missing", "appended", "flipped", "magic"],
)
def test_a_damaged_upload_does_not_open(tmp_path, damage):
    uploads = UploadFiles(tmp_path)
    receive(uploads, a_zip())
    path = uploads.path(PACKAGE)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DecryptionError):
        uploads.copy_out(PACKAGE, KEY, io.BytesIO())


def test_another_key_does_not_open_it(tmp_path):
    uploads = UploadFiles(tmp_path)
    receive(uploads, a_zip(1000))
    with pytest.raises(DecryptionError):
        uploads.copy_out(PACKAGE, upload_key("j" * 512, b"secret"), io.BytesIO())


@pytest.mark.parametrize(
    ("data", "is_zip"),
    [
        (a_zip(10), True),
        (a_zip(10, comment=b"a comment PK\x05\x06 inside"), True),
        (a_zip(2 * CHUNK_BYTES), True),
        (a_zip(10) + b"trailing bytes", False),
        (a_zip(10)[:-10], False),
        (b"PK\x03\x04" + os.urandom(5000), False),
        (os.urandom(5000), False),
        (b"", False),
    ],
    ids=["zip", "comment", "large", "trailing", "cut", "header only", "random", "empty"],
)
def test_only_a_zip_looks_like_a_zip(tmp_path, data, is_zip):
    assert receive(UploadFiles(tmp_path), data, keep=False).looks_like_a_zip() is is_zip


def test_sweep_removes_what_no_live_package_or_writer_needs(tmp_path):
    uploads, live, dead = UploadFiles(tmp_path), "a" * 32, "b" * 32
    for package_id in (live, dead):
        uploads.path(package_id).write_bytes(b"sealed")
    abandoned = tmp_path / f"{'c' * 32}.part"
    abandoned.write_bytes(b"half")  # its writer died: nobody holds its lock
    other = tmp_path / "not-ours.txt"
    other.write_bytes(b"x")
    with uploads.incoming("d" * 32, KEY, 100) as incoming:  # a writer still at work
        incoming.write(b"PK")
        assert uploads.sweep(lambda p: p == live, older_than=time.time() - 3600) == 0  # too new
        assert uploads.sweep(lambda p: p == live, older_than=time.time() + 1) == 2
        assert (tmp_path / f"{'d' * 32}.part").exists()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"{live}.upload", "not-ours.txt"]


def test_the_vault_removes_an_upload_when_its_package_ends(tmp_path):
    uploads = UploadFiles(tmp_path / "uploads")
    vault = LinkVault(tmp_path / "keys", b"secret", uploads)
    vault.seal(PACKAGE, "dumpus-upload:" + "k" * 512)
    receive(uploads, a_zip(100))
    assert vault.shred(PACKAGE) == 1
    assert list((tmp_path / "uploads").iterdir()) == []
