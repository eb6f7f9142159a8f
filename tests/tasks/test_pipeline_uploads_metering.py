"""The worker's side of issue 14 with a real SQLite store and a real download server: a direct
upload processed as a downloaded package would be (its file gone when it ends), and a metered
link's download charged what it moved, refused before its body when its declared size does not
fit, given back when it fails."""

import hashlib
import io
import secrets
import time

import pytest

from samples import SampleSpec, generate_package
from storage import Status
from storage.bandwidth import account_meter
from storage.events import utc_day
from storage.links import new_upload_key, parse_package_link, upload_link, with_meter
from storage.uploads import upload_key
from tasks.pipeline import run_package
from tests.support.httpserver import ScriptedServer, body
from tests.tasks.test_pipeline import read_view

METER = account_meter("acct-1")


@pytest.fixture(scope="module")
def package_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    truth = generate_package(path, SampleSpec(layout="A", messages=600, events=900, seed=19))
    return path.read_bytes(), truth


@pytest.fixture
def server(package_bytes):
    data, _ = package_bytes
    routes = {"/p.zip": body(data), "/chunked.zip": body(data, length=False)}
    routes["/gone.zip"] = body(b"", status=410)
    with ScriptedServer(routes) as srv:
        yield srv


@pytest.fixture
def settings(settings, server):
    return settings.with_overrides(whitelisted_origins=(server.origin,))


def uploaded(store, settings, data: bytes):
    """A direct upload as the API leaves it: the file kept, the package queued."""
    key_material = new_upload_key()
    package_id = hashlib.md5(key_material.encode()).hexdigest()
    key = upload_key(key_material, settings.server_secret())
    with store.links.uploads.incoming(package_id, key, len(data)) as incoming:
        incoming.write(data)
        incoming.finish()
        incoming.keep()
    sealed = store.links.seal(package_id, upload_link(key_material))
    store.packages.enqueue(package_id, sealed, time.time())
    return parse_like(package_id, key_material)


def parse_like(package_id: str, key_material: str):
    class Parsed:
        pass

    parsed = Parsed()
    parsed.package_id, parsed.key_material = package_id, key_material
    return parsed


def test_an_upload_is_processed_and_its_file_removed(store, settings, package_bytes):
    data, truth = package_bytes
    parsed = uploaded(store, settings, data)
    assert run_package(parsed.package_id, settings, store).result == "PROCESSED"
    assert read_view(store, settings, parsed, "overview")["messages"] == truth.messages
    assert list(settings.uploads_dir.iterdir()) == []
    assert list(settings.temp_dir.iterdir()) == []


def test_an_upload_missing_from_this_host_fails_with_its_code(store, settings, package_bytes):
    parsed = uploaded(store, settings, package_bytes[0])
    store.links.uploads.path(parsed.package_id).unlink()
    outcome = run_package(parsed.package_id, settings, store)
    assert outcome.result == "ERRORED:UPLOAD_MISSING"


def metered(store, settings, origin, path="/p.zip", meter=METER):
    link = f"{origin}{path}?k={secrets.token_urlsafe(16)}"
    parsed = parse_package_link(link, (origin,), settings.server_secret())
    sealed = store.links.seal(parsed.package_id, with_meter(link, meter))
    store.packages.enqueue(parsed.package_id, sealed, time.time())
    return parsed


def usage(store, meter=METER):
    return store.bandwidth.usage(meter, utc_day(time.time()), 10)


@pytest.mark.parametrize("path", ["/p.zip", "/chunked.zip"], ids=["declared", "undeclared"])
def test_a_metered_download_is_charged_what_it_moved(store, settings, server, package_bytes, path):
    data, truth = package_bytes
    parsed = metered(store, settings, server.origin, path)
    assert run_package(parsed.package_id, settings, store).result == "PROCESSED"
    assert read_view(store, settings, parsed, "overview")["messages"] == truth.messages
    day = usage(store)
    assert day.uploaded == len(data) and [t.size for t in day.uploads] == [len(data)]
    assert day.uploads[0].file_name == "link download"


def test_a_declared_size_over_the_allowance_is_refused_before_its_body(
    store, settings, server, package_bytes
):
    data, _ = package_bytes
    store.bandwidth.set_limit(METER, len(data) - 1)
    parsed = metered(store, settings, server.origin)
    outcome = run_package(parsed.package_id, settings, store)
    assert outcome.result == "ERRORED:BANDWIDTH_EXCEEDED"
    assert usage(store).uploaded == 0 and list(settings.temp_dir.iterdir()) == []


def test_an_undeclared_size_stops_at_the_allowance(store, settings, server, package_bytes):
    data, _ = package_bytes
    store.bandwidth.set_limit(METER, len(data) // 2)
    parsed = metered(store, settings, server.origin, "/chunked.zip")
    outcome = run_package(parsed.package_id, settings, store)
    assert outcome.result == "ERRORED:BANDWIDTH_EXCEEDED"
    assert usage(store).uploaded == 0  # the reservation given back


def test_a_failed_download_costs_nothing(store, settings, server):
    parsed = metered(store, settings, server.origin, "/gone.zip")
    assert run_package(parsed.package_id, settings, store).result == "ERRORED:EXPIRED_LINK"
    assert usage(store).uploaded == 0
    assert store.packages.get(parsed.package_id).status == Status.ERRORED


def test_an_unmetered_link_charges_no_one(store, settings, server):
    parsed = metered(store, settings, server.origin, meter=None)
    assert run_package(parsed.package_id, settings, store).result == "PROCESSED"
    assert usage(store).uploaded == 0


def test_the_meter_is_sealed_with_the_link(store, settings, server):
    parsed = metered(store, settings, server.origin)
    sealed = store.packages.get(parsed.package_id).sealed_link
    assert METER.encode() not in sealed and b"acct-1" not in io.BytesIO(sealed).read()
