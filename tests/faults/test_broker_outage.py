"""The broker stopped while packages are queued and running, then restarted; concurrent POSTs."""

import secrets
from concurrent.futures import ThreadPoolExecutor

from tests.faults.conftest import FAST_CRASH_HANDLING, generations, new_link, status_of, wait_for
from tests.support.client import Client

SECRET = FAST_CRASH_HANDLING["SECRET_KEY"]


def test_packages_survive_a_broker_restart_and_posts_get_503_meanwhile(stack, server):
    client = Client(stack.api_url)
    running_link = new_link(server)
    running = client.submit(running_link).json()["packageId"]
    stack.start_worker("w1")
    wait_for(lambda: status_of(client, running, running_link)["processingStep"] == "DOWNLOADING")
    queued = [(link := new_link(server), client.submit(link).json()["packageId"]) for _ in range(2)]

    stack.stop("broker")
    refused_link = new_link(server)
    refused = client.submit(refused_link)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert refused.json()["errorMessageCode"] == "BROKER_UNAVAILABLE"
    assert client.get("/health", "x").status_code == 503

    stack.start_broker()
    for link, package_id in [(running_link, running), *queued]:
        assert client.wait_processed(package_id, link)["isDataAvailable"], package_id
        assert generations(stack, package_id) == 1
    # the refused package was marked so, and a new POST queues it for real
    refused = Client.package_id(refused_link, SECRET)
    assert status_of(client, refused, refused_link)["isErrored"]
    assert client.submit(refused_link).status_code == 202
    assert client.wait_processed(refused, refused_link)["isDataAvailable"]


def test_fifty_concurrent_posts_of_one_link_make_one_package_and_one_job(stack, server):
    stack.start_worker("w1", concurrency=2)
    client = Client(stack.api_url)
    link = f"{server.origin}/slow.zip?k={secrets.token_urlsafe(16)}"
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: client.submit(link), range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 49 + [202]
    assert len({a.json()["packageId"] for a in answers}) == 1
    package_id = answers[0].json()["packageId"]
    assert client.wait_processed(package_id, link)["isDataAvailable"]
    assert server.hits.count("/slow.zip") == 1
    assert generations(stack, package_id) == 1
