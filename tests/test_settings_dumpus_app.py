"""The Dumpus app's settings: read from the environment like the others, and documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import DUMPUS_APP_ORIGINS, InvalidSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = ("CORS_ORIGINS", "DUMPUS_APP_FILES", "DUMPUS_BLOB_URL_TTL")


def test_the_defaults_serve_the_official_app():
    settings = Settings.from_env({})
    assert settings.cors_origins == DUMPUS_APP_ORIGINS
    assert "https://web.dumpus.app" in settings.cors_origins
    assert settings.dumpus_app_files is True and settings.dumpus_blob_url_ttl == 300


def test_values_come_from_the_environment():
    settings = Settings.from_env(
        {
            "CORS_ORIGINS": " https://a.example/ , capacitor://localhost",
            "DUMPUS_APP_FILES": "0",
            "DUMPUS_BLOB_URL_TTL": "30",
        }
    )
    assert settings.cors_origins == ("https://a.example", "capacitor://localhost")
    assert settings.dumpus_app_files is False and settings.dumpus_blob_url_ttl == 30


@pytest.mark.parametrize(("raw", "on"), [("", True), ("1", True), ("off", False), ("no", False)])
def test_app_files_are_on_unless_turned_off(raw, on):
    assert Settings.from_env({"DUMPUS_APP_FILES": raw}).dumpus_app_files is on


@pytest.mark.parametrize("raw", ["0", "-5", "86401", "5m"])
def test_a_url_lifetime_out_of_range_is_refused(raw):
    with pytest.raises(InvalidSettings, match=r"^invalid DUMPUS_BLOB_URL_TTL="):
        Settings.from_env({"DUMPUS_BLOB_URL_TTL": raw})


@pytest.mark.parametrize("document", [".env.example", "README.md"])
def test_each_setting_is_documented(document):
    text = (ROOT / document).read_text()
    assert all(variable in text for variable in VARIABLES)
