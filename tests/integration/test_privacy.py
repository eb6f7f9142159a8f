"""After processing, no secret is anywhere the operator can look: store files, broker keys and
journal, the logs of every process. The package is submitted through the path form of POST, the
one that puts the link in the request line."""

import secrets
from urllib.parse import quote

import pytest
import redis
import requests

from samples import SampleSpec, generate_package


@pytest.fixture(scope="module")
def processed(file_server, client, stack):
    truth = generate_package(
        file_server.directory / "privacy.zip",
        SampleSpec(layout="C", messages=1500, events=2500, seed=21),
    )
    token = secrets.token_urlsafe(24)
    link = f"{file_server.origin}/privacy.zip?k={token}"
    answer = requests.post(f"{client.api}/api/process/{quote(link, safe='')}", timeout=30)
    assert answer.status_code == 202, answer.text
    package_id = answer.json()["packageId"]
    status = client.wait_processed(package_id, link)
    assert status["isDataAvailable"], status
    overview = client.get(f"/api/data/{package_id}/overview", link).json()
    assert overview["messages"] == truth.messages
    return {"link": link, "token": token, "truth": truth}


def needles(processed) -> list[bytes]:
    values = [processed["link"], processed["token"], quote(processed["link"], safe="")]
    values += [s for s in processed["truth"].secret_strings if len(s) >= 6]
    assert len(values) > 4
    return [v.encode() for v in values]


def files_under(root):
    return [p for p in root.rglob("*") if p.is_file() and p.suffix != ".sock"]


def test_no_secret_in_the_store_or_broker_files(processed, stack):
    files = [p for p in files_under(stack.data_dir) if "logs" not in p.parts]
    assert any(p.name.startswith("dumpus.sqlite3") for p in files)
    for path in files:
        content = path.read_bytes()
        for needle in needles(processed):
            assert needle not in content, f"{needle[:20]!r}... found in {path.name}"


def test_no_secret_in_any_broker_key_or_value(processed, stack):
    broker = redis.Redis(unix_socket_path=str(stack.settings.embedded_broker_socket))
    dump = bytearray()
    for key in broker.scan_iter():
        dump += key + b"".join(_values(broker, key))
    assert dump, "the broker holds the queues' keys"
    for needle in needles(processed):
        assert needle not in dump


def test_no_secret_in_the_logs_of_any_process(processed, stack):
    logs = list((stack.data_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"api", "worker", "broker", "beat"}
    text = b"".join(p.read_bytes() for p in logs)
    assert b"POST /api/process/" in text  # the access log is on, and redacted
    for needle in needles(processed):
        assert needle not in text


def _values(broker: redis.Redis, key: bytes) -> list[bytes]:
    """Every value under a key, read by type (DUMP may compress and hide plaintext)."""
    kind = broker.type(key)
    if kind == b"string":
        return [broker.get(key)]
    if kind == b"list":
        return broker.lrange(key, 0, -1)
    if kind == b"hash":
        return [k + v for k, v in broker.hgetall(key).items()]
    if kind == b"set":
        return list(broker.smembers(key))
    if kind == b"zset":
        return broker.zrange(key, 0, -1)
    return []
