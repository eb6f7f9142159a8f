"""Encryption of the Dumpus app's data file, exactly as the app decrypts it (WebCrypto AES-CBC).

The compressed SQLite file is PKCS#7-padded and encrypted with AES-256-CBC under
SHA-256(UTF-8 key material), with a random 16-byte IV kept beside the file as hex (never
prepended). The key material is the UPN, which the server holds only while a worker processes
the package: without it, the stored file is noise to the server, its operator and its backups.
The IV is not secret. CBC carries no tag (the app's format): damage shows as a padding, gunzip or
SQLite error on the reading side.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV_BYTES = 16
BLOCK_BITS = 128


class AppFileDecryptionError(Exception):
    """The bytes do not decrypt to a padded plaintext under this key and IV."""


def app_file_key(key_material: str) -> bytes:
    """The AES-256 key the app derives: SHA-256 of the UTF-8 key material (the UPN)."""
    return hashlib.sha256(key_material.encode()).digest()


def encrypt_app_file(key_material: str, chunks: Iterable[bytes]) -> tuple[str, bytes]:
    """(IV as 32 lowercase hex digits, ciphertext) of a file given in chunks, under a fresh
    random IV."""
    iv = os.urandom(IV_BYTES)
    padder = padding.PKCS7(BLOCK_BITS).padder()
    encryptor = Cipher(algorithms.AES(app_file_key(key_material)), modes.CBC(iv)).encryptor()
    parts = [encryptor.update(padder.update(chunk)) for chunk in chunks]
    parts.append(encryptor.update(padder.finalize()) + encryptor.finalize())
    return iv.hex(), b"".join(parts)


def decrypt_app_file(key_material: str, iv_hex: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The plaintext of a ciphertext given in chunks, streamed; AppFileDecryptionError at the
    end when the padding does not check out (a wrong key, or damaged bytes)."""
    try:
        iv = bytes.fromhex(iv_hex)
    except ValueError as exc:
        raise AppFileDecryptionError("the IV is not hex") from exc
    if len(iv) != IV_BYTES:
        raise AppFileDecryptionError("the IV is not 16 bytes")
    decryptor = Cipher(algorithms.AES(app_file_key(key_material)), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
    for chunk in chunks:
        plain = unpadder.update(decryptor.update(chunk))
        if plain:
            yield plain
    try:
        tail = unpadder.update(decryptor.finalize()) + unpadder.finalize()
    except ValueError as exc:
        raise AppFileDecryptionError("wrong key or damaged file") from exc
    if tail:
        yield tail
