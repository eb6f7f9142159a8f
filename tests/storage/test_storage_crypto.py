"""Encryption at rest: sealed views, view ids, sealed links and the ownership check."""

from __future__ import annotations

import hashlib
import hmac
import pickle
import re
import subprocess
import sys

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.crypto import (
    PACKAGE_KEY_LABEL,
    UPN_BYTES,
    VIEW_COMPRESSION,
    VIEW_ID_LABEL,
    DecryptionError,
    PackageKey,
    derive_key,
    open_bytes,
    owns_package,
    package_id_for,
    plain_view,
    seal_bytes,
    spelled_with,
)

SECRET = b"server-secret"
UPN = "a" * 600
PACKAGE_ID = package_id_for(UPN)
DOC = {"messages": 12, "top": [["general", 7]], "name": "Zoé"}


def _key(upn: str = UPN, secret: bytes = SECRET) -> PackageKey:
    return PackageKey(package_id_for(upn), upn, secret)


def test_seal_open_roundtrip():
    blob = _key().seal("lifetime", DOC)
    assert isinstance(blob, bytes)
    assert _key().open("lifetime", blob) == DOC


def test_seal_is_randomised():
    assert _key().seal("lifetime", DOC) != _key().seal("lifetime", DOC)


@pytest.mark.parametrize(
    "other", [_key(upn="b" * 600), _key(secret=b"another-secret")], ids=["upn", "secret"]
)
def test_wrong_key_is_a_decryption_error(other):
    blob = _key().seal("lifetime", DOC)
    with pytest.raises(DecryptionError):
        PackageKey(PACKAGE_ID, "b" * 600, SECRET).open("lifetime", blob)
    with pytest.raises(DecryptionError):
        other.open("lifetime", blob)


@pytest.mark.parametrize("position", [0, 1, 12, 13, 30, -1])
def test_one_flipped_byte_is_a_decryption_error(position):
    blob = bytearray(_key().seal("lifetime", DOC))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        _key().open("lifetime", bytes(blob))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + b"\x00" * 27, b"\x02" + b"\x00" * 40])
def test_short_or_unknown_blobs_are_decryption_errors(blob):
    with pytest.raises(DecryptionError):
        _key().open("lifetime", blob)


def test_a_blob_moved_to_another_view_fails():
    blob = _key().seal("last_month", DOC)
    with pytest.raises(DecryptionError):
        _key().open("last_year", blob)


def test_a_blob_moved_to_another_package_fails():
    blob = _key().seal("lifetime", DOC)
    moved = PackageKey("0" * 32, UPN, SECRET)  # same key material, other package id (AAD)
    with pytest.raises(DecryptionError):
        moved.open("lifetime", blob)


def test_view_id_is_stable_opaque_and_per_package():
    view_id = _key().view_id("lifetime")
    assert view_id == _key().view_id("lifetime")
    assert len(view_id) == 32 and int(view_id, 16) >= 0
    assert "lifetime" not in view_id
    assert view_id != _key().view_id("last_year")
    assert view_id != _key(upn="b" * 600).view_id("lifetime")
    assert view_id != _key(secret=b"another-secret").view_id("lifetime")


def test_package_id_is_md5_of_the_key_material():
    assert hashlib.md5(UPN.encode()).hexdigest() == PACKAGE_ID


def test_owns_package():
    assert owns_package(UPN, PACKAGE_ID)
    assert owns_package(UPN, PACKAGE_ID.upper())
    assert not owns_package("b" * 600, PACKAGE_ID)
    assert not owns_package(UPN, "0" * 32)
    assert not owns_package(UPN, "")


def test_owns_package_with_a_non_ascii_id_is_false():
    # The id comes from the URL path; an attacker-chosen non-ASCII id must be a plain "no".
    assert not owns_package(UPN, "é" * 32)


def test_the_id_of_an_allow_listed_link_is_keyed_by_the_server_secret():
    link = "https://dl.example.com/exports/12345.zip"
    package_id = package_id_for(link, SECRET)
    assert len(package_id) == 32 and package_id != hashlib.md5(link.encode()).hexdigest()
    assert package_id != package_id_for(link, b"another secret")
    assert owns_package(link, package_id, SECRET)
    assert not owns_package(link, package_id, b"another secret")
    assert not owns_package(link, package_id)  # no secret: no id, never an exception
    with pytest.raises(ValueError):
        package_id_for(link)


@pytest.mark.parametrize(
    ("upn", "secret"),
    [(UPN, SECRET), ("Z" * 8192, b"s" * 64), ("x", b"k" * 200), (UPN, b"")],
    ids=["usual", "longest upn", "secret over a block", "empty secret"],
)
def test_package_keys_are_the_two_hkdf_derivations_they_always_were(upn, secret):
    # Stored views were sealed under these exact keys: one shared Extract must not change them.
    key = PackageKey(package_id_for(upn), upn, secret)
    assert key._key == derive_key(upn.encode(), secret, PACKAGE_KEY_LABEL)
    view_key = derive_key(upn.encode(), secret, VIEW_ID_LABEL)
    expected = hmac.new(view_key, b"lifetime", hashlib.sha256).hexdigest()[:32]
    assert key.view_id("lifetime") == expected


def test_open_json_is_the_json_text_that_was_sealed():
    blob = _key().seal("lifetime", DOC)
    assert _key().open_json("lifetime", blob) == orjson.dumps(DOC)
    with pytest.raises(DecryptionError):
        _key(upn="b" * 600).open_json("lifetime", blob)


def test_seal_json_is_seal_after_encoding_and_seal_compressed_after_compressing():
    key, text = _key(), orjson.dumps(DOC)
    assert key.open("lifetime", key.seal_json("lifetime", text)) == DOC
    compress, level = VIEW_COMPRESSION
    sealed = key.seal_compressed("lifetime", compress(text, level))
    assert key.open("lifetime", sealed) == DOC
    with pytest.raises(DecryptionError):  # bound to its view name, as `seal` binds it
        key.open("l4w", sealed)


def test_the_view_compression_is_applied_elsewhere_without_this_module_or_a_key():
    # The activity process is given it by name (tasks.sealing): unpickling it must import
    # neither storage (whose package imports cryptography) nor cryptography itself.
    travelling = pickle.dumps(VIEW_COMPRESSION)
    assert b"storage" not in travelling
    script = (
        "import pickle, sys; function, level = pickle.loads(sys.stdin.buffer.read()); "
        "sys.stdout.buffer.write(function(b'{}', level)); "
        "assert not {'storage', 'cryptography'} & set(sys.modules), sorted(sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=travelling, capture_output=True, check=True
    )
    assert _key().open("lifetime", _key().seal_compressed("lifetime", done.stdout)) == {}


PLAIN = ["about", "overview", "stats:lifetime", "stats:l4w", "stats:l1m", "stats:ly"]
COMPRESSED = ["top:dms:ly", "channel:12", "dm:3", "guild:9", "user:4", "stats", "overviews", "x"]


@pytest.mark.parametrize("name", PLAIN + COMPRESSED)
def test_the_views_answered_whole_are_sealed_without_compression(name):
    key, text = _key(), orjson.dumps({**DOC, "padding": "abc" * 500})
    inside = open_bytes(key._key, key.seal_json(name, text), f"{PACKAGE_ID}\x00{name}".encode())
    assert plain_view(name) == (name in PLAIN)
    if name in PLAIN:
        assert inside == text
    else:
        assert inside[:1] == b"\x78" and len(inside) < len(text) / 4
    assert key.open_json(name, key.seal_json(name, text)) == text


@pytest.mark.parametrize("name", ["stats:lifetime", "channel:12"])
def test_either_form_opens_whatever_the_view_name(name):
    # Views sealed before a view became plain (or after it stopped being) still open.
    key, text = _key(), orjson.dumps(DOC)
    compress, level = VIEW_COMPRESSION
    aad = f"{PACKAGE_ID}\x00{name}".encode()
    assert key.open_json(name, key.seal_compressed(name, compress(text, level))) == text
    assert key.open_json(name, seal_bytes(key._key, text, aad)) == text


@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=40))
def test_spelled_with_is_the_character_class_it_replaced(text):
    assert spelled_with(text, UPN_BYTES) == bool(re.fullmatch(r"[A-Za-z0-9._-]+", text))
    printable = bytes(range(0x21, 0x7F))
    assert spelled_with(text, printable) == bool(re.fullmatch(r"[\x21-\x7e]+", text))


@pytest.mark.parametrize("text", ["", "a\ud800", "é", "a b", "a\x7f", "\x00"])
def test_spelled_with_refuses_the_empty_and_anything_outside(text):
    assert not spelled_with(text, bytes(range(0x21, 0x7F)))


def test_a_plain_view_whose_text_is_not_an_object_is_compressed_and_opens():
    key, text = _key(), orjson.dumps([1, 2, 3] * 100)
    sealed = key.seal_json("overview", text)
    inside = open_bytes(key._key, sealed, f"{PACKAGE_ID}\x00overview".encode())
    assert inside[:1] == b"\x78" and key.open_json("overview", sealed) == text
