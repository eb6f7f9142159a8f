"""The app's data file in a package run: never stored in the clear, removed with every end of
its package (failure, re-processing, DELETE, the reaper, the orphan purge), useless without the
UPN, optional, and counted in the processing time."""

from __future__ import annotations

import hashlib
import time

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import tasks.app_file as app_file
from launchers.local import process_local_zip, random_discord_link
from samples import SampleSpec, generate_package
from storage.crypto import PackageKey, derive_key
from storage.links import parse_package_link
from tasks import maintenance
from tests.support import dumpus_app as app
from tests.support import forensics


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    truth = generate_package(path, SampleSpec(layout="D", messages=900, events=1500, seed=31))
    return path, truth


def process(package, settings, store, link: str | None = None):
    link = link or random_discord_link()
    summary = process_local_zip(package[0], link, settings, store)
    parsed = parse_package_link(link)
    return summary, parsed, store.packages.get(parsed.package_id)


def stored_file(store, record) -> tuple[str, bytes]:
    app_file = store.app_files.get(record.package_id, record.generation)
    with store.app_files.open(record.package_id, record.generation) as stream:
        return app_file.iv, stream.read()


def text_values(db) -> list[str]:
    """Names the data file holds: servers, channels, people, the owner."""
    queries = (
        "SELECT guild_name FROM guilds",
        "SELECT channel_name FROM guild_channels_data",
        "SELECT user_name FROM dm_channels_data",
        "SELECT package_owner_name FROM package_data",
    )
    return [v for q in queries for (v,) in db.execute(q) if v and len(v) >= 6]


def test_nothing_of_the_file_is_readable_in_the_data_dir(package, settings, store):
    _, truth = package
    _, parsed, record = process(package, settings, store)
    iv, ciphertext = stored_file(store, record)
    db = app.open_like_the_app(app.decrypt_like_the_app(parsed.key_material, iv, ciphertext))
    needles = text_values(db) + [s for s in truth.secret_strings if len(s) >= 6]
    assert len(needles) > 10
    assert not list(settings.temp_dir.iterdir())  # the build files went with the run
    files = list(forensics.files_under(settings.data_dir))
    assert any(name.startswith("appfiles/") for name, _ in files)
    assert forensics.find_needles(files, needles) == []
    for name, data in files:
        if name.startswith("appfiles/"):
            assert data == ciphertext and not data.startswith(b"\x1f\x8b")
            assert b"SQLite format 3" not in data


def test_the_url_and_iv_alone_do_not_decrypt(package, settings, store):
    _, parsed, record = process(package, settings, store)
    iv, ciphertext = stored_file(store, record)
    secret = settings.server_secret()
    url = f"https://host/dumpus/blob/{record.package_id}/{record.generation}/0/{'a' * 64}"
    guesses = [hashlib.sha256(text.encode()).digest() for text in (url, record.package_id, iv)]
    guesses += [hashlib.sha256(secret).digest(), derive_key(secret, b"", b"dumpus-stats/v1")]
    guesses.append(PackageKey(record.package_id, record.package_id, secret)._key)
    for key in guesses:
        assert not _opens(key, iv, ciphertext)
    assert _opens(hashlib.sha256(parsed.key_material.encode()).digest(), iv, ciphertext)


def _opens(key: bytes, iv: str, ciphertext: bytes) -> bool:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(iv))).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize())
        plain += unpadder.finalize()
        return app.inflate_like_pako(plain).startswith(b"SQLite format 3")
    except Exception:
        return False


def test_processing_again_keeps_only_the_new_file(package, settings, store):
    link = random_discord_link()
    _, _, first = process(package, settings, store, link)
    _, _, second = process(package, settings, store, link)
    assert second.generation != first.generation
    assert store.app_files.get(first.package_id, first.generation) is None
    assert len(list(store.app_files.folder.iterdir())) == 1


def test_a_run_that_fails_after_building_the_file_leaves_none(
    package, settings, store, monkeypatch
):
    put_many = store.statistics.put_many

    def broken(package_id, generation, items):
        put_many(package_id, generation, items)  # every view written, the app file stored
        assert store.app_files.get(package_id, generation) is not None
        raise OSError("disk full")

    monkeypatch.setattr(store.statistics, "put_many", broken)
    summary, _, record = process(package, settings, store)
    assert summary["result"] == "ERRORED:UNKNOWN_ERROR" and record.error_code == "UNKNOWN_ERROR"
    assert list(store.app_files.folder.iterdir()) == []
    assert store.app_files.orphan_package_ids() == []


def test_a_deleted_package_leaves_a_file_the_tombstone_sweep_removes(package, settings, store):
    _, _, record = process(package, settings, store)
    # a DELETE racing the end of a run: the document goes, the file stays behind
    store.packages.delete(record.package_id, time.time() - settings.stale_after_seconds - 1)
    assert maintenance.sweep_tombstones() == 1
    assert list(store.app_files.folder.iterdir()) == []
    assert store.statistics.orphan_package_ids() == []


def test_the_app_file_purge_removes_files_no_record_names(package, settings, store):
    _, _, record = process(package, settings, store)
    store.packages._packages.delete(record.package_id)  # a process killed before the clean-up
    assert maintenance.purge_orphan_app_files() == 1
    assert list(store.app_files.folder.iterdir()) == []


def test_a_worker_lost_package_leaves_no_file(store, sent, settings):
    package_id = "9" * 32
    store.packages.enqueue(package_id, b"sealed", 0.0)
    for attempt in range(settings.max_attempts):
        store.packages.claim(package_id, f"t{attempt}", 1.0 + attempt, 10.0**9)
    store.app_files.put(package_id, 5, "00" * 16, b"x" * 16)
    maintenance.reap_stale_packages()
    assert store.app_files.get(package_id, 5) is None


def test_app_files_can_be_turned_off(package, settings, store):
    summary, _, record = process(package, settings.with_overrides(dumpus_app_files=False), store)
    assert summary["result"] == "PROCESSED"
    assert store.app_files.get(record.package_id, record.generation) is None


def test_building_the_file_counts_in_the_processing_time(package, settings, store, monkeypatch):
    build_app_file = app_file.build_app_file

    def costly(*args):
        time.sleep(0.5)  # the cost of building a big package's file, made visible
        return build_app_file(*args)

    monkeypatch.setattr(app_file, "build_app_file", costly)
    summary, _, _ = process(package, settings, store)
    assert summary["about"]["processing_seconds"] >= 0.5


def test_runs_open_no_store_connection_of_their_own(package, settings, store):
    process(package, settings, store)
    opened = len(store._connections._open)
    for _ in range(2):
        process(package, settings, store)
    assert len(store._connections._open) == opened  # the builder thread never touches the store
