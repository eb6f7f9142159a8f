"""What an attacker holding a copy of the server's data (and its secret) can get back from it.

`recover_links` tries every byte offset of every blob as the start of a sealed link, with every
key an attacker could have: each link key file found in the copy (with the server secret), and
the server secret alone (the scheme before per-package keys). `find_needles` greps for
plaintext. Both are deliberately brute: they must not depend on knowing the storage format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto import NONCE_BYTES, SEAL_VERSION, derive_key
from storage.link_vault import LINK_KEY_LABEL, VAULT_VERSION

SECRET_ONLY_LABEL = b"dumpus-stats/v1/link-key"  # how links were sealed before the vault
_KEY_FILE = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{16})")
TAG_BYTES = 16


@dataclass(frozen=True)
class Attempt:
    """One key to try: the header a blob sealed with it starts with, and its associated data."""

    header: bytes
    cipher: AESGCM
    aad: bytes


def files_under(root: Path) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every regular file under `root` (sockets and the like skipped)."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield str(path.relative_to(root)), path.read_bytes()


def attempts(secret: bytes, key_dirs: Iterable[Path], package_ids: Iterable[str]) -> list[Attempt]:
    """Every key an attacker holding `key_dirs` and the server secret can build."""
    found: list[Attempt] = []
    for key_dir in key_dirs:
        for path in key_dir.rglob("*") if key_dir.is_dir() else ():
            match = _KEY_FILE.fullmatch(path.name)
            if match and path.is_file():
                cipher = AESGCM(derive_key(path.read_bytes(), secret, LINK_KEY_LABEL))
                header = VAULT_VERSION + bytes.fromhex(match.group(2)) + SEAL_VERSION
                found.append(Attempt(header, cipher, match.group(1).encode()))
    secret_only = AESGCM(derive_key(secret, b"", SECRET_ONLY_LABEL))
    found += [Attempt(SEAL_VERSION, secret_only, pid.encode()) for pid in package_ids]
    return found


def recover_links(
    blobs: Iterable[tuple[str, bytes]], tries: list[Attempt], lengths: Iterable[int]
) -> set[str]:
    """Every link that opens at any offset of any blob with any of `tries`."""
    sizes = sorted({NONCE_BYTES + n + TAG_BYTES for n in lengths})
    recovered: set[str] = set()
    for _name, data in blobs:
        for attempt in tries:
            recovered |= _open_everywhere(data, attempt, sizes)
    return recovered


def _open_everywhere(data: bytes, attempt: Attempt, sizes: list[int]) -> set[str]:
    opened: set[str] = set()
    start = data.find(attempt.header)
    while start != -1:
        body = start + len(attempt.header)
        for size in sizes:
            chunk = data[body : body + size]
            if len(chunk) == size:
                nonce, sealed = chunk[:NONCE_BYTES], chunk[NONCE_BYTES:]
                try:
                    plain = attempt.cipher.decrypt(nonce, sealed, attempt.aad)
                except InvalidTag:
                    continue
                opened.add(plain.decode("utf-8", "replace"))
        start = data.find(attempt.header, start + 1)
    return opened


def find_needles(blobs: Iterable[tuple[str, bytes]], needles: Iterable[str]) -> list[str]:
    """`needle in file` for every plaintext needle found anywhere."""
    wanted = [n.encode() for n in needles if n]
    return [f"{n[:24]!r} in {name}" for name, data in blobs for n in wanted if n in data]
