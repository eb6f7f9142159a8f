"""Where the server secret comes from: SECRET_KEY, SECRET_KEY_FILE (outside DATA_DIR), DATA_DIR."""

from __future__ import annotations

import stat

import pytest

from settings import InvalidSettings, Settings


def test_secret_key_wins(tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY": "from-env"})
    assert settings.server_secret() == b"from-env"
    assert not (tmp_path / "secret_key").exists()


def test_a_secret_key_file_outside_data_dir_is_made_once_private_and_then_read(tmp_path):
    secret_file = tmp_path / "etc" / "dumpus-secret"
    env = {"DATA_DIR": str(tmp_path / "data"), "SECRET_KEY_FILE": str(secret_file)}
    first = Settings.from_env(env).server_secret()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(first) == 64 and Settings.from_env(env).server_secret() == first
    assert not (tmp_path / "data" / "secret_key").exists()


def test_an_existing_secret_key_file_is_used_as_it_is(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("operator-made-secret\n")
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY_FILE": str(secret_file)})
    assert settings.server_secret() == b"operator-made-secret"


def test_without_either_the_secret_is_generated_into_data_dir(tmp_path):
    secret = Settings.from_env({"DATA_DIR": str(tmp_path)}).server_secret()
    assert (tmp_path / "secret_key").read_text().strip().encode() == secret


def test_mongo_needs_a_secret_that_every_host_shares(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "MONGO_URL": "mongodb://db", "SECRET_KEY_FILE": "/nope"}
    with pytest.raises(InvalidSettings, match="SECRET_KEY"):
        Settings.from_env(env)
    (tmp_path / "shared").write_text("shared-secret")
    env["SECRET_KEY_FILE"] = str(tmp_path / "shared")
    assert Settings.from_env(env).server_secret() == b"shared-secret"
