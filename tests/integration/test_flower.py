"""Flower: a password is required, it refuses to run open on a public address, and its task pages
and API show package ids only (no link, UPN, names, e-mail or message text)."""

import secrets
import subprocess
import sys
import time

import pytest
import requests

from launchers.devstack import PROJECT_ROOT, free_port
from launchers.flower import flower_command, require_auth_on_metrics
from samples import SampleSpec, generate_package
from settings import Settings

AUTH = ("operator", "flower-test-password")


def wait_for_flower(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url, auth=AUTH, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("Flower did not start")


@pytest.fixture(scope="module")
def flower(stack):
    port = free_port()
    stack.start_flower(port, f"{AUTH[0]}:{AUTH[1]}")
    url = f"http://127.0.0.1:{port}"
    wait_for_flower(f"{url}/api/workers")
    yield url
    stack.stop("flower")


def test_flower_asks_for_a_password(flower):
    assert requests.get(f"{flower}/tasks", timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/tasks", timeout=5).status_code == 401


def test_flowers_metrics_ask_for_the_password(flower):
    assert requests.get(f"{flower}/metrics", timeout=5).status_code == 401
    wrong = requests.get(f"{flower}/metrics", auth=(AUTH[0], "wrong"), timeout=5)
    assert wrong.status_code == 401
    answer = requests.get(f"{flower}/metrics", auth=AUTH, timeout=5)
    assert answer.status_code == 200 and "flower_events_total" in answer.text


def test_the_launcher_protects_the_route_flower_builds_its_app_from():
    from flower import app, urls

    require_auth_on_metrics()
    require_auth_on_metrics()  # replaced once
    routes = [r for r in app.default_handlers if isinstance(r, tuple) and r[0] == "/metrics"]
    assert len(routes) == 1 and routes[0][1].asks_for_login
    assert urls.handlers is app.default_handlers  # the list Flower's app is built from


def test_a_flower_without_the_route_stops_the_launcher(monkeypatch):
    from flower import urls

    monkeypatch.setattr(urls, "handlers", [r for r in urls.handlers if "/metrics" not in str(r)])
    with pytest.raises(RuntimeError, match="/metrics"):
        require_auth_on_metrics()


def test_flower_shows_the_task_by_package_id_and_no_secret(flower, file_server, client):
    truth = generate_package(
        file_server.directory / "flower.zip",
        SampleSpec(layout="B", messages=500, events=800, seed=31),
    )
    link = f"{file_server.origin}/flower.zip?k={secrets.token_urlsafe(20)}"
    package_id = client.submit(link).json()["packageId"]
    assert client.wait_processed(package_id, link)["isDataAvailable"]
    deadline = time.monotonic() + 20
    while package_id not in (
        tasks := requests.get(f"{flower}/api/tasks", auth=AUTH, timeout=5).text
    ):
        assert time.monotonic() < deadline, "Flower never saw the task"
        time.sleep(0.3)
    page = requests.get(f"{flower}/task/{package_id}", auth=AUTH, timeout=5).text
    assert package_id in page
    for needle in [link, link.split("k=")[1], *truth.secret_strings]:
        assert needle not in tasks and needle not in page


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.10", "::"])
def test_flower_refuses_a_public_address_without_a_password(address, capsys):
    with pytest.raises(SystemExit) as refused:
        flower_command(Settings(flower_address=address))
    assert refused.value.code == 2
    assert capsys.readouterr().err.startswith(f"dumpus: refusing to start Flower on {address} ")
    assert flower_command(Settings(flower_address=address, flower_basic_auth="a:b"))


def test_the_launcher_exits_non_zero_when_refusing():
    env = {"FLOWER_ADDRESS": "0.0.0.0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "launchers.flower"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dumpus: refusing to start Flower on 0.0.0.0 without FLOWER_BASIC_AUTH"
    ]
