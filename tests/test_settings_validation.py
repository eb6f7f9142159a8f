"""Settings are checked at start-up: a bad value is one line naming the variable, never a
traceback later, in every process kind; `python -m settings --check` shows what is in effect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings import InvalidSettings, Settings, load_or_exit

ROOT = Path(__file__).resolve().parent.parent

BAD_VALUES = [
    ("STALE_AFTER_SECONDS", "2m"),
    ("MAX_ATTEMPTS", "0"),
    ("PACKAGE_TIME_LIMIT", "-60"),
    ("DOWNLOAD_READ_TIMEOUT", "-1"),
    ("PORT", "70000"),
    ("RATE_LIMIT_SUBMIT", "garbage"),
    ("RATE_LIMIT_STORAGE_URL", "nope://x"),
    ("BROKER_URL", "foo://"),
    ("MONGO_URL", "postgres://db"),
    ("CORS_ORIGINS", "web.dumpus.app"),
    ("DL_ZIP_WHITELISTED_DOMAINS", "ftp://files.example"),
    ("DUMPUS_APP_FILES", "maybe"),
    ("FLOWER_BASIC_AUTH", "admin-without-password"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_a_bad_value_is_refused_with_one_line_naming_its_variable(variable, value):
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env({variable: value})
    line = str(refused.value)
    assert line.startswith(f"invalid {variable}=") and "\n" not in line
    assert "(accepts " in line


def test_a_secret_is_never_echoed_in_the_refusal():
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env({"FLOWER_BASIC_AUTH": "hunter2-no-colon"})
    assert "hunter2" not in str(refused.value)


def test_a_data_dir_that_is_a_file_or_under_one_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    for data_dir in (blocker, blocker / "sub"):
        with pytest.raises(InvalidSettings, match=r"^invalid DATA_DIR=.*not a directory"):
            Settings.from_env({"DATA_DIR": str(data_dir)})


def test_mongo_without_a_shared_secret_is_refused_at_start(tmp_path):
    with pytest.raises(InvalidSettings, match="SECRET_KEY"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "MONGO_URL": "mongodb://db"})
    settings = Settings.from_env({"MONGO_URL": "mongodb://db", "SECRET_KEY": "shared"})
    assert settings.mongo_url == "mongodb://db"


def test_good_values_are_typed_and_empty_ones_are_defaults():
    settings = Settings.from_env(
        {
            "STALE_AFTER_SECONDS": "30",
            "DOWNLOAD_READ_TIMEOUT": "2.5",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DL_ZIP_WHITELISTED_DOMAINS": "HTTP://127.0.0.1:8080/, https://b.example",
            "MAX_ATTEMPTS": "",
        }
    )
    assert settings.stale_after_seconds == 30 and settings.download_read_timeout == 2.5
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert settings.whitelisted_origins == ("http://127.0.0.1:8080", "https://b.example")
    assert settings.max_attempts == 3


def test_broker_url_wins_over_redis_url():
    env = {"BROKER_URL": "amqp://guest:guest@127.0.0.1//", "REDIS_URL": "redis://127.0.0.1/0"}
    assert Settings.from_env(env).broker_url.startswith("amqp://")


def test_keyword_settings_read_no_environment(monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "7")
    assert Settings().max_attempts == 3
    assert Settings.from_env().max_attempts == 7
    assert Settings.from_env({}).max_attempts == 3


def test_overrides_are_checked_like_the_environment():
    assert Settings().with_overrides(max_attempts=5).max_attempts == 5
    with pytest.raises(InvalidSettings, match=r"^invalid MAX_ATTEMPTS='0'"):
        Settings().with_overrides(max_attempts=0)


def test_load_or_exit_stops_with_status_2_and_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        load_or_exit({"MAX_ATTEMPTS": "zero"})
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().startswith("dumpus: invalid MAX_ATTEMPTS='zero'")


def _run(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_prints_the_effective_configuration_with_secrets_masked(tmp_path):
    done = _run(
        "-m",
        "settings",
        "--check",
        DATA_DIR=str(tmp_path),
        SECRET_KEY="very-secret-value",
        MONGO_URL="mongodb://app:db-password@127.0.0.1/stats",
        MAX_ATTEMPTS="5",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "MAX_ATTEMPTS=5" in lines and "MONGO_URL=mongodb://app:***@127.0.0.1/stats" in lines
    assert "SECRET_KEY=(set, hidden)" in lines
    assert "very-secret-value" not in done.stdout and "db-password" not in done.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("-m", "settings", "--check"),
        ("-m", "celery", "-A", "tasks.celery_app", "worker"),
        ("-m", "celery", "-A", "tasks.celery_app", "beat"),
        ("-m", "gunicorn", "-c", "python:api.gunicorn_conf", "api:create_app()"),
        (
            "-m",
            "launchers.flower",
        ),
    ],
    ids=["check", "worker", "beat", "api", "flower"],
)
def test_every_process_refuses_a_bad_value_with_one_line(command, tmp_path):
    done = _run(*command, DATA_DIR=str(tmp_path), STALE_AFTER_SECONDS="2m")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    refusals = [line for line in done.stderr.splitlines() if "STALE_AFTER_SECONDS" in line]
    assert refusals == [
        "dumpus: invalid STALE_AFTER_SECONDS='2m': Input should be a valid integer, unable to "
        "parse string as an integer (accepts whole seconds, at least 1)"
    ]


def test_every_variable_is_in_env_example():
    text = (ROOT / ".env.example").read_text()
    variables = [line.split("=", 1)[0] for line in _check_lines()]
    missing = [variable for variable in variables if f"{variable}=" not in text]
    assert not missing


def _check_lines() -> list[str]:
    done = _run("-m", "settings", "--check", DATA_DIR="var")
    return [line for line in done.stdout.splitlines() if not line.startswith("#")]


def test_each_refused_variable_is_its_own_marked_line(capsys):
    with pytest.raises(SystemExit):
        load_or_exit({"MAX_ATTEMPTS": "0", "PORT": "x"})
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("dumpus: invalid ") for line in lines)
