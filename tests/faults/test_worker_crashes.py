"""Workers killed with SIGKILL mid-package; a package that kills every worker; double delivery."""

import os
import signal
import stat

from celery import Celery

from tasks import names
from tests.faults.conftest import generations, new_link, status_of, wait_for, wait_until_idle
from tests.support.client import Client


def test_a_worker_killed_mid_package_is_replaced_and_the_package_finishes(stack, server):
    stack.start_beat()
    stack.start_worker("w1")
    client, link = Client(stack.api_url), new_link(server)
    package_id = client.submit(link).json()["packageId"]
    wait_for(lambda: status_of(client, package_id, link)["processingStep"] == "DOWNLOADING")
    stack.kill("w1")
    stack.start_worker("w2")
    status = client.wait_processed(package_id, link)
    assert status["isDataAvailable"] and not status["isErrored"]
    assert generations(stack, package_id) == 1
    assert client.get(f"/api/data/{package_id}/overview", link).status_code == 200


def test_a_package_that_kills_its_worker_every_time_fails_with_worker_lost(stack, server):
    stack.start_beat()
    client, link = Client(stack.api_url), new_link(server)
    package_id = client.submit(link).json()["packageId"]
    started_at = None
    for attempt in range(3):
        stack.start_worker(f"w{attempt}")
        # a new claim: downloading again, with a new start time
        status = wait_for(
            lambda since=started_at: _claimed_again(status_of(client, package_id, link), since)
        )
        started_at = status["startedAt"]
        stack.kill(f"w{attempt}")
    stack.start_worker("last")
    status = wait_for(lambda: (s := status_of(client, package_id, link))["isErrored"] and s)
    assert status["errorMessageCode"] == "WORKER_LOST"
    wait_until_idle(stack)  # every delivery of its task has been handled: none loops
    assert status_of(client, package_id, link)["errorMessageCode"] == "WORKER_LOST"
    assert generations(stack, package_id) == 0


def test_the_same_task_delivered_twice_downloads_once(stack, server):
    stack.start_worker("w1", concurrency=2)
    client, link = Client(stack.api_url), new_link(server)
    package_id = client.submit(link).json()["packageId"]
    sender = Celery(broker=stack.settings.effective_broker_url)  # a second, duplicate message
    sender.send_task(**names.package_message(package_id))
    assert client.wait_processed(package_id, link)["isDataAvailable"]
    wait_until_idle(stack)  # the duplicate has been handled too
    assert server.hits.count("/slow.zip") == 1
    assert generations(stack, package_id) == 1


def _claimed_again(status: dict, previous_start: str | None) -> dict | None:
    fresh = status["processingStep"] == "DOWNLOADING" and status["startedAt"] != previous_start
    return status if fresh else None


def test_a_download_killed_with_its_pool_child_leaves_no_plaintext_behind(stack, server):
    stack.start_beat()
    worker = stack.start_worker("w1")
    client, link = Client(stack.api_url), new_link(server)
    package_id = client.submit(link).json()["packageId"]
    temp_dir = stack.settings.temp_dir
    first = wait_for(lambda: [p for p in temp_dir.glob("*.zip") if p.stat().st_size > 0])[0]
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(temp_dir.stat().st_mode) == 0o700
    os.kill(_pool_child(worker.pid), signal.SIGKILL)
    status = client.wait_processed(package_id, link)  # the reaper re-queues, a new child retries
    assert status["isDataAvailable"] and not status["isErrored"]
    assert not first.exists()  # the retry's claim swept the killed run's download
    assert client.delete(f"/api/process/{package_id}", link).status_code == 200
    wait_for(lambda: not any(temp_dir.iterdir()))
    assert not any(stack.settings.link_key_dir.glob(f"{package_id}.*"))


def _pool_child(worker_pid: int) -> int:
    """The pid of the worker's (single) pool process."""
    children = f"/proc/{worker_pid}/task/{worker_pid}/children"
    return wait_for(lambda: [int(pid) for pid in open(children).read().split()])[0]
