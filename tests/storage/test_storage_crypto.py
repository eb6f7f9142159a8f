"""Encryption at rest: sealed views, view ids, sealed links and the ownership check."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import orjson
import pytest

from storage.crypto import (
    PACKAGE_KEY_LABEL,
    VIEW_ID_LABEL,
    DecryptionError,
    PackageKey,
    derive_key,
    owns_package,
    package_id_for,
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


def _served(job, batches: list) -> list:
    """What a `ViewSealing` answers to `batches`, served as a helper process serves it."""
    incoming, answers = iter(batches), []

    def receive():
        try:
            return next(incoming)
        except StopIteration:
            raise EOFError from None

    with pytest.raises(EOFError):
        job.serve(receive, answers.append)
    return answers


def test_a_sealing_job_seals_as_the_key_does_and_names_views_alike():
    key = _key()
    job = pickle.loads(pickle.dumps(key.sealing_job()))  # as it travels to the helper
    docs = [("channel:1", DOC), ("top:dms:l4w", {"entries": []}), ("channel:2", {"n": 2})]
    batches = [[(name, orjson.dumps(doc)) for name, doc in docs[:2]], [("channel:2", b"{}")]]

    answers = _served(job, batches)

    assert [len(answer) for answer in answers] == [2, 1]
    sealed = [pair for answer in answers for pair in answer]
    names = [docs[0][0], docs[1][0], docs[2][0]]
    assert [view_id for view_id, _ in sealed] == [_key().view_id(name) for name in names]
    opened = [_key().open(name, blob) for name, (_, blob) in zip(names, sealed, strict=True)]
    assert opened == [DOC, {"entries": []}, {}]
    with pytest.raises(DecryptionError):  # bound to its view name, as `seal` binds it
        _key().open("channel:2", sealed[0][1])


def test_a_sealing_job_holds_derived_keys_only_and_never_shows_them():
    key = _key()
    job = key.sealing_job()
    travelling = pickle.dumps(job)
    assert UPN.encode() not in travelling and SECRET not in travelling
    assert repr(job) == "ViewSealing(...)" and key._key.hex() not in repr(job)
    other = _key(upn="b" * 600).sealing_job()
    (answer,) = _served(other, [[("lifetime", b"{}")]])
    with pytest.raises(DecryptionError):  # another package's keys seal for that package only
        key.open("lifetime", answer[0][1])


def test_seal_json_is_seal_after_encoding():
    key = _key()
    assert key.open("lifetime", key.seal_json("lifetime", orjson.dumps(DOC))) == DOC
