"""A stolen copy of DATA_DIR, server secret included, gives back no link of an ended package.

Packages are processed, failed and deleted through the real API, broker and worker; then every
byte of every file under DATA_DIR (database, WAL, journal, broker journal, link keys, temp folder,
logs) is tried as a sealed link with every key the copy holds, and grepped for plaintext. A
package still queued is the control: its link must come back, or the scan proves nothing.
"""

from __future__ import annotations

import secrets
import time

import pytest

from samples import SampleSpec, generate_package
from storage import open_store
from storage.links import parse_package_link
from tests.support import forensics
from tests.support.client import Client

PROCESS_SECONDS = 180


@pytest.fixture(scope="module")
def ended(file_server, client, stack):
    www = file_server.directory
    truth = generate_package(
        www / "shred.zip", SampleSpec(layout="B", messages=1200, events=2000, seed=33)
    )
    (www / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip at all")
    links = {
        "processed": _link(file_server, "shred.zip"),
        "failed": _link(file_server, "broken.zip"),
        "deleted": _link(file_server, "shred.zip"),
    }
    ids = {name: _process(client, link) for name, link in links.items()}
    assert client.wait_processed(ids["failed"], links["failed"])["isErrored"]
    deleted = client.delete(f"/api/process/{ids['deleted']}", links["deleted"])
    assert deleted.status_code == 200
    _wait_until_shredded(stack, ids.values())
    return {"links": links, "ids": ids, "truth": truth, "control": _live_control(stack)}


def _link(file_server, name: str) -> str:
    return f"{file_server.origin}/{name}?k={secrets.token_urlsafe(24)}"


def _process(client: Client, link: str) -> str:
    answer = client.submit(link)
    assert answer.status_code == 202, answer.text
    package_id = answer.json()["packageId"]
    client.wait_processed(package_id, link)
    return package_id


def _wait_until_shredded(stack, package_ids) -> None:
    """The worker shreds right after the status change the client saw: wait for it."""
    deadline = time.monotonic() + PROCESS_SECONDS
    key_dir = stack.settings.link_key_dir
    while left := [p.name for pid in package_ids for p in key_dir.glob(f"{pid}.*")]:
        assert time.monotonic() < deadline, f"link keys of ended packages are still there: {left}"
        time.sleep(0.1)


def _live_control(stack) -> str:
    """A package queued straight into the store (no message is sent: it stays QUEUED)."""
    store = open_store(stack.settings)
    link = "https://click.discord.com/ls/click?upn=" + secrets.token_urlsafe(450)
    package_id = parse_package_link(link).package_id
    store.packages.enqueue(package_id, store.links.seal(package_id, link), time.time())
    store.close()
    return link


def test_no_link_of_an_ended_package_can_be_unsealed_from_data_dir(ended, stack):
    settings = stack.settings
    blobs = list(forensics.files_under(settings.data_dir))
    assert any(name.startswith("dumpus.sqlite3") for name, _ in blobs)
    all_links = [*ended["links"].values(), ended["control"]]
    tries = forensics.attempts(
        settings.server_secret(),
        [settings.data_dir],  # every key file anywhere in the copy
        [*ended["ids"].values()],
    )
    recovered = forensics.recover_links(blobs, tries, [len(link) for link in all_links])
    assert recovered == {ended["control"]}  # the live one comes back: the scan works


def test_no_plaintext_of_any_package_is_anywhere_in_data_dir(ended, stack):
    blobs = list(forensics.files_under(stack.settings.data_dir))
    tokens = [link.rpartition("k=")[2] for link in ended["links"].values()]
    needles = [*ended["links"].values(), *tokens]
    needles += [s for s in ended["truth"].secret_strings if len(s) >= 6]
    assert len(needles) > 6
    assert forensics.find_needles(blobs, needles) == []
    assert list(stack.settings.temp_dir.iterdir()) == []
