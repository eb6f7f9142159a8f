"""The Dumpus flow on real parts: API under gunicorn, embedded Redis, a Celery worker process,
a download server on 127.0.0.1; every data route read after processing."""

import secrets
import time
from pathlib import Path

import pytest
import requests

from samples import SampleSpec, generate_package

PERIODS = ("l4w", "l1m", "ly", "lifetime")


@pytest.fixture(scope="module")
def processed(file_server, client):
    truth = generate_package(
        file_server.directory / "e2e.zip",
        SampleSpec(layout="D", language="fr", messages=3000, events=6000, seed=11),
    )
    link = f"{file_server.origin}/e2e.zip?k={secrets.token_urlsafe(20)}"
    answer = client.submit(link)
    assert answer.status_code == 202, answer.text
    package_id = answer.json()["packageId"]
    status = client.wait_processed(package_id, link)
    return {"id": package_id, "upn": link, "truth": truth, "status": status}


def data(client, processed, path, **params):
    answer = client.get(f"/api/data/{processed['id']}{path}", processed["upn"], **params)
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.json()


def test_status_reports_the_processed_package(processed):
    status = processed["status"]
    assert status["isDataAvailable"] and not status["isErrored"]
    assert status["processingStep"] == "PROCESSED"
    assert status["progress"]["percent"] == 100
    assert status["queuedAt"] and status["startedAt"] and status["finishedAt"]


def test_a_second_post_of_the_same_link_starts_no_second_job(client, processed):
    answer = client.submit(processed["upn"])
    assert answer.status_code == 200
    assert answer.json() == {
        "isAccepted": True,
        "packageId": processed["id"],
        "errorMessageCode": None,
    }


def test_about_and_overview_match_what_was_written(client, processed):
    truth = processed["truth"]
    about = data(client, processed, "/about")
    assert about["layout"] == "D" and about["folder_language"] == "fr"
    assert about["is_partial"] is False and about["processing_seconds"] > 0
    overview = data(client, processed, "/overview")
    assert overview["messages"] == truth.messages
    assert len(overview["top"]["channels"]) == 3


@pytest.mark.parametrize("period", PERIODS)
def test_every_period_is_served(client, processed, period):
    stats = data(client, processed, f"/stats/{period}")
    assert stats["period"] == period
    assert len(stats["messages"]["per_day"]) == stats["days"]
    assert sum(stats["messages"]["per_day"]) == stats["messages"]["total"]


def test_lifetime_messages_equal_the_generated_total(client, processed):
    stats = data(client, processed, "/stats/lifetime")
    assert stats["messages"]["total"] == processed["truth"].messages


@pytest.mark.parametrize("kind", ("dms", "guilds", "channels"))
def test_top_lists_and_entity_routes(client, processed, kind):
    top = data(client, processed, f"/top/{kind}/lifetime", limit=2)
    assert top["total"] >= len(top["entries"]) > 0 and len(top["entries"]) <= 2
    first = top["entries"][0]
    route, entity_id = {
        "dms": ("dm", "user_id"),
        "guilds": ("guild", "guild_id"),
        "channels": ("channel", "channel_id"),
    }[kind]
    scoped = data(client, processed, f"/{route}/{first[entity_id]}/stats/lifetime")
    assert scoped["messages"]["total"] == first["messages"]


def test_a_dm_is_found_by_its_channel_id_too(client, processed):
    first = data(client, processed, "/top/dms/lifetime")["entries"][0]
    by_channel = data(client, processed, f"/dm/{first['channel_ids'][0]}/stats/ly")
    assert by_channel["user_id"] == first["user_id"]


def test_the_owner_profile_is_served(client, processed):
    owner = data(client, processed, "/about")["owner"]
    profile = data(client, processed, f"/user/{owner['id']}")
    assert profile["relationship"] == "OWNER" and profile["username"] == owner["username"]


def test_another_upn_reads_nothing(client, processed):
    answer = client.get(f"/api/data/{processed['id']}/overview", "x" * 600)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHORIZED"


def test_delete_removes_every_trace(client, file_server):
    generate_package(file_server.directory / "del.zip", SampleSpec(messages=200, events=300))
    link = f"{file_server.origin}/del.zip?k={secrets.token_urlsafe(20)}"
    package_id = client.submit(link).json()["packageId"]
    client.wait_processed(package_id, link)
    answer = requests.delete(
        f"{client.api}/api/process/{package_id}",
        headers={"Authorization": f"Bearer {link}"},
        timeout=10,
    )
    assert answer.json() == {"isDeleted": True, "errorMessageCode": None}
    assert client.get(f"/api/process/{package_id}/status", link).status_code == 404


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(kid) for kid in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_the_worker_keeps_an_activity_process_for_its_next_package(stack, processed):
    """ACTIVITY_SPARE_PROCESS (on by default): the pool process has a spare activity reader,
    and the spare its inflater, before and after a package."""
    worker = stack.processes["worker"].pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tree = {pid: _command_line(pid) for pid in _descendants(worker)}
        readers = [pid for pid, line in tree.items() if "parsers.activity.child" in line]
        inflaters = [pid for pid, line in tree.items() if "inflater.py" in line]
        if readers and inflaters:
            break
        time.sleep(0.1)
    assert len(readers) == 1 and len(inflaters) == 1, tree
