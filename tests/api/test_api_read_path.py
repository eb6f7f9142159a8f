"""What keeps a data read cheap: the server secret asked once, views served as sealed, buffered
access lines; each without changing what a request is checked for or what gets logged."""

from __future__ import annotations

import io
import logging
import time
from typing import ClassVar

import orjson
import pytest

import logsafe
import storage.key_cache
from api import accesslog
from api.read_path import WHOLE_VIEWS as SERVED_WHOLE
from api.schemas import PERIODS
from api.services import Services
from settings import Settings
from storage.crypto import package_id_for, plain_view
from tests.api.api_support import RecordingQueue, bearer, new_upn, sample_views

WHOLE_VIEWS = {"about": "about", "overview": "overview", "stats/ly": "stats:ly", "user/1": "user:1"}


class CountingSettings(Settings):
    """Settings that count how often the secret is asked for, failing while `broken`."""

    asked: ClassVar[int] = 0
    broken: ClassVar[bool] = False

    def server_secret(self) -> bytes:
        type(self).asked += 1
        if type(self).broken:
            raise RuntimeError("no secret yet")
        return b"secret"


def test_the_server_secret_is_asked_once_and_a_failure_is_not_kept(tmp_path):
    CountingSettings.asked, CountingSettings.broken = 0, True
    services = Services(CountingSettings(data_dir=tmp_path), RecordingQueue())
    with pytest.raises(RuntimeError):
        services.server_secret()
    CountingSettings.broken = False
    assert [services.server_secret() for _ in range(3)] == [b"secret"] * 3
    assert CountingSettings.asked == 2


@pytest.mark.parametrize("route", WHOLE_VIEWS)
def test_a_whole_view_is_answered_as_the_json_that_was_sealed(client, packages, route):
    upn = new_upn()
    views = sample_views(package_id_for(upn))
    package_id = packages.processed(upn, views)
    answer = client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn))
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_data() == orjson.dumps(views[WHOLE_VIEWS[route]])


def test_every_view_the_read_path_answers_is_sealed_without_compression():
    # Its read is then one AES-GCM decryption, which keeps the GIL (storage.crypto.PLAIN_VIEWS).
    names = {view.format(period=period) for view in SERVED_WHOLE.values() for period in PERIODS}
    assert len(names) == 2 + len(PERIODS) and all(plain_view(name) for name in names)


# -- buffered access lines ---------------------------------------------------------------------


@pytest.fixture
def root_stream():
    """A stream handler on the root logger (as gunicorn's), with logsafe's filter; removed after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    handler.addFilter(logsafe.RedactLinks())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.fixture
def buffered():
    """Access lines buffered as in a gunicorn worker, then put back as the tests expect them."""
    accesslog.buffer_lines(seconds=60)
    yield next(h for h in accesslog.log.handlers if isinstance(h, accesslog.BufferedLines))
    for handler in list(accesslog.log.handlers):
        if isinstance(handler, accesslog.BufferedLines):
            accesslog.log.removeHandler(handler)
    accesslog.log.propagate = True


def test_buffered_lines_wait_for_the_flush_then_go_out_in_one_write(root_stream, buffered):
    for status in (200, 404):
        accesslog.write_line("GET", "/api/data/<package_id>/overview", status, 1.25)
    assert root_stream.getvalue() == ""
    accesslog.flush_lines()
    assert root_stream.getvalue() == (
        "[INFO] GET /api/data/<package_id>/overview 200 1.2ms\n"
        "[INFO] GET /api/data/<package_id>/overview 404 1.2ms\n"
    )


def test_buffered_lines_still_pass_the_handlers_filters(root_stream, buffered):
    logging.getLogger("api.access").info("GET %s", "https://click.discord.com/ls/click?upn=x")
    accesslog.flush_lines()
    assert "click.discord.com" not in root_stream.getvalue()
    assert logsafe.REDACTED in root_stream.getvalue()


def test_the_flusher_writes_lines_within_its_period(root_stream):
    handler = accesslog.BufferedLines(seconds=0.05)
    accesslog.log.addHandler(handler)
    accesslog.log.propagate = False
    try:
        accesslog.write_line("GET", "/health", 200, 0.5)
        deadline = time.monotonic() + 5
        while "/health" not in root_stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "GET /health 200 0.5ms" in root_stream.getvalue()
    finally:
        accesslog.log.removeHandler(handler)
        accesslog.log.propagate = True


def test_buffering_twice_keeps_one_buffer(buffered):
    accesslog.buffer_lines()
    assert sum(isinstance(h, accesslog.BufferedLines) for h in accesslog.log.handlers) == 1


def test_a_handler_without_a_stream_gets_each_record(buffered):
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collect = Collect()
    logging.getLogger().addHandler(collect)
    try:
        accesslog.write_line("DELETE", "/api/process/<package_id>", 200, 3.0)
        accesslog.flush_lines()
    finally:
        logging.getLogger().removeHandler(collect)
    assert [r.getMessage() for r in records] == ["DELETE /api/process/<package_id> 200 3.0ms"]


def test_a_request_finding_the_buffer_full_writes_it_itself(root_stream, buffered, monkeypatch):
    monkeypatch.setattr(accesslog, "MAX_BUFFERED", 2)
    accesslog.write_line("GET", "/health", 200, 0.5)
    assert root_stream.getvalue() == ""
    accesslog.write_line("GET", "/health", 200, 0.7)
    assert root_stream.getvalue().count("GET /health 200") == 2


def test_reads_of_a_package_derive_its_key_once_and_a_delete_drops_it(
    client, app, packages, monkeypatch
):
    derived = []
    real = storage.key_cache.PackageKey

    def counting(*args):
        derived.append(args[0])
        return real(*args)

    monkeypatch.setattr(storage.key_cache, "PackageKey", counting)
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    for route in ("overview", "stats/ly", "top/dms/ly", "about"):
        assert client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn)).status_code == 200
    assert derived == [package_id]
    cache = app.extensions["dumpus"].package_keys
    assert len(cache) == 1
    assert client.delete(f"/api/process/{package_id}", headers=bearer(upn)).status_code == 200
    assert len(cache) == 0
