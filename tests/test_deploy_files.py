"""The container files keep their promises without a Docker engine: `Dockerfile`, `compose.yaml`
and `.dockerignore` are read as text and YAML, and each process's command is the Procfile's."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = "/var/lib/dumpus"
LINK_KEY_DIR = "/var/lib/dumpus-keys"
# Procfile process -> compose service; `broker` is the embedded Redis, replaced by `redis`.
PROCESSES = {
    "web": "api",
    "worker": "worker",
    "sweeper": "sweeper",
    "beat": "beat",
    "flower": "flower",
}
# What a Procfile line leaves to its shell, and its value in a container.
CONTAINER_VALUES = {
    "${BIND:-127.0.0.1}:${PORT:-8000}": "0.0.0.0:8000",
    "${DATA_DIR:-var}": DATA_DIR,
}
STORE_USERS = ("api", "worker", "sweeper")  # they open the store, the secret and link keys


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions, (keyword, arguments), per stage name."""
    text = re.sub(r"\\\n", "", (ROOT / "Dockerfile").read_text())
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            current = found.setdefault(arguments.split()[-1], [])
        current.append((keyword.upper(), arguments.strip()))
    return found


def procfile_commands() -> dict[str, list[str]]:
    """Each Procfile process's command as a container runs it."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        for shell, value in CONTAINER_VALUES.items():
            command = command.replace(shell, value)
        # `exec`: honcho's shell hands the signals to the process itself (docs/shutdown.md)
        commands[name.strip()] = shlex.split(command.strip().removeprefix("exec "))
    return commands


def instructions(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [arguments for found, arguments in stage if found == keyword]


def test_every_process_runs_the_procfiles_command(compose):
    commands = procfile_commands()
    assert set(commands) == {*PROCESSES, "broker"}
    for process, service in PROCESSES.items():
        assert compose["services"][service]["command"] == commands[process], service


def test_the_image_runs_the_api_by_default(stages, compose):
    (command,) = instructions(stages["runtime"], "CMD")
    assert json.loads(command) == compose["services"]["api"]["command"]


def test_the_runtime_stage_runs_as_a_user_with_no_compiler_nor_dev_requirements(stages):
    runtime = stages["runtime"]
    assert instructions(runtime, "USER")[-1] == "${UID}:${UID}"
    assert instructions(runtime, "ARG") == ["UID=10001"]
    text = " ".join(arguments for _, arguments in runtime)
    assert "gcc" not in text and "requirements" not in text and "COPY . " not in text
    assert "requirements-dev" not in (ROOT / "Dockerfile").read_text()


def test_the_build_stage_installs_the_lock_with_hashes_and_compiles_the_c_loop(stages):
    runs = " ".join(instructions(stages["build"], "RUN"))
    assert "--require-hashes --no-deps -r requirements.lock" in runs
    assert "pip wheel --no-deps" in runs and "parsers.activity._linescan" in runs


def test_data_dir_is_a_volume_and_the_health_check_is_livez(stages):
    runtime = stages["runtime"]
    assert json.loads(instructions(runtime, "VOLUME")[0]) == [DATA_DIR]
    assert f"DATA_DIR={DATA_DIR}" in instructions(runtime, "ENV")[0]
    (check,) = instructions(runtime, "HEALTHCHECK")
    assert "http://127.0.0.1:8000/livez" in check


def test_the_store_users_share_the_secret_and_the_link_keys(compose):
    services = compose["services"]
    for name in STORE_USERS:
        service = services[name]
        environment = service["environment"]
        assert environment["SECRET_KEY_FILE"] == f"/run/secrets/{service['secrets'][0]}"
        assert environment["LINK_KEY_DIR"] == LINK_KEY_DIR
        assert f"link-keys:{LINK_KEY_DIR}" in service["volumes"], name
        assert "replicaSet=rs0" in environment["MONGO_URL"]
    for name in ("beat", "flower"):  # their settings are checked too: MONGO_URL wants a secret
        assert services[name]["secrets"] == ["secret_key"], name
        assert services[name]["environment"]["SECRET_KEY_FILE"] == "/run/secrets/secret_key"
    for name in ("redis", "mongo"):
        assert "secrets" not in services[name], f"{name} needs no server secret"


def test_the_mongodb_replica_set_is_initiated_before_any_store_user_starts(compose):
    services = compose["services"]
    assert services["mongo"]["command"][:2] == ["--replSet", "rs0"]
    assert "rs.initiate(" in " ".join(services["mongo-init"]["command"])
    for name in STORE_USERS:
        assert services[name]["depends_on"]["mongo-init"] == {
            "condition": "service_completed_successfully"
        }


def test_one_beat_and_workers_on_their_queues(compose):
    services = compose["services"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert services["worker"]["command"][4:6] == ["--queues", "packages"]
    assert services["sweeper"]["command"][4:6] == ["--queues", "default"]
    # the sweeper's temp-file cleanup sees the downloads of the workers of its host
    assert f"work:{DATA_DIR}" in services["worker"]["volumes"]
    assert f"work:{DATA_DIR}" in services["sweeper"]["volumes"]


def test_workers_get_time_for_a_warm_shutdown_and_everything_restarts(compose):
    services = compose["services"]
    grace = services["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\$\{WORKER_STOP_GRACE_PERIOD:-\d+m\}", grace)
    for name, service in services.items():
        if name != "mongo-init":
            assert service["restart"] == "unless-stopped", name


def test_flower_off_loopback_has_its_password_and_nothing_listens_publicly(compose):
    services = compose["services"]
    flower = services["flower"]
    assert flower["environment"]["FLOWER_ADDRESS"] == "0.0.0.0"
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("${") and ":-127.0.0.1:" in port, name
    assert "ports" not in services["redis"] and "ports" not in services["mongo"]


def test_the_build_context_leaves_out_secrets_stores_and_host_builds():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", "secrets/", "var/", ".venv/", ".venv-run/", "**/*.so", ".git"):
        assert entry in ignored
