"""The app itself: factory, health, documentation, error shapes, the queue facade, imports."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest
from kombu.exceptions import OperationalError

from api import create_app
from api.queue import RETRY_POLICY, SEND_TIMEOUT_SECONDS, PackageQueue, QueueUnavailable
from settings import Settings
from tasks import names
from tests.api.api_support import TEST_CONFIG, RecordingQueue, discord_link, new_upn, path_form

ROOT = Path(__file__).resolve().parents[2]

ROUTES = {
    "/api/process": {"post"},
    "/api/process/{package_link}": {"post"},
    "/api/process/{package_id}/status": {"get"},
    "/api/process/{package_id}": {"delete"},
    "/api/process/upload": {"post"},
    "/api/usage/check-upload-bandwidth": {"post"},
    "/api/usage/log-upload": {"post"},
    "/api/usage/log-deletion": {"post"},
    "/api/usage/check-usage-alerts": {"get"},
    "/api/usage/daily-summary": {"get"},
    "/api/usage/complete-summary": {"get"},
    "/api/usage/reset-daily": {"post"},
    "/api/usage/limit": {"put"},
    "/api/v1/projects/stats": {"get"},
    "/api/v1/project/stats": {"get"},
    "/api/v1/projects/{project_id}/stats": {"get"},
    "/api/v1/current_user/stats": {"get"},
    "/api/v1/current_user/usage": {"get"},
    "/api/v1/project-roles": {"get"},
    "/api/v1/storage-providers": {"get"},
    "/api/v1/projects": {"get", "post"},
    "/api/v1/projects/{project_id}": {"delete", "get", "patch"},
    "/api/v1/projects/{project_id}/members": {"get", "put"},
    "/api/v1/projects/{project_id}/members/{account_id}": {"delete"},
    "/api/v1/projects/{project_id}/files": {"get", "post"},
    "/api/v1/projects/{project_id}/files/{file_id}/versions": {"post"},
    "/api/v1/projects/{project_id}/files/{file_id}": {"delete", "get"},
    "/api/v1/projects/{project_id}/files/{file_id}/versions/{version_id}/content": {"get"},
    "/api/v1/projects/{project_id}/files/{file_id}/restore": {"post"},
    "/api/v1/projects/{project_id}/files/{file_id}/purge": {"delete"},
    "/api/v1/projects/{project_id}/files/{file_id}/process": {"post"},
    "/api/data/{package_id}/about": {"get"},
    "/api/data/{package_id}/overview": {"get"},
    "/api/data/{package_id}/stats/{period}": {"get"},
    "/api/data/{package_id}/top/{type}/{period}": {"get"},
    "/api/data/{package_id}/guild/{guild_id}/stats/{period}": {"get"},
    "/api/data/{package_id}/dm/{user_id}/stats/{period}": {"get"},
    "/api/data/{package_id}/channel/{channel_id}/stats/{period}": {"get"},
    "/api/data/{package_id}/user/{user_id}": {"get"},
    "/health": {"get"},
    "/livez": {"get"},
    "/readyz": {"get"},
    "/dumpus/process": {"post"},
    "/dumpus/process/{package_id}/status": {"get"},
    "/dumpus/process/{package_id}/blob": {"get"},
    "/dumpus/process/{package_id}/data": {"get"},
    "/dumpus/process/{package_id}/user/{user_id}": {"get"},
    "/dumpus/process/{package_id}": {"delete"},
    "/dumpus/blob/{package_id}/{generation}/{expires}/{signature}": {"get"},
    "/api/auth": {"post"},
    "/api/v1/accounts/me": {"get"},
    "/api/v1/organizations": {"get", "post"},
    "/api/v1/organizations/{organization_id}": {"patch"},
    "/api/v1/accounts": {"get", "post"},
    "/api/v1/accounts/{account_id}": {"patch"},
    "/api/v1/analytics/usage/trends": {"get"},
    "/api/store": {"get", "post"},
    "/api/store/me": {"get"},
    "/api/store/{store_id}": {"patch", "delete"},
    "/api/user": {"post", "patch"},
    "/api/user/{email}": {"get"},
    "/api/user/{user_id}": {"delete"},
    "/api/event": {"post"},
    "/api/events": {"post"},
    "/api/event/{user_id}": {"delete"},
    "/api/event/amount/{event_type}": {"get"},
    "/api/event/avg-time/{event_type}": {"get"},
    "/api/event/store-events-amount/{store_id}": {"get"},
}
SIGNED = "{signature}"  # a signed download: the URL is its own authorisation


# -- health ---------------------------------------------------------------------------------------


def test_health_is_200_when_broker_and_store_answer(client):
    response = client.get("/health")
    assert (response.status_code, response.get_json()) == (200, {"broker": "ok", "store": "ok"})


def test_health_is_503_when_the_broker_is_down(client, queue):
    queue.broken = True
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"broker": "unreachable", "store": "ok"}


class DownStore:
    def ping(self, timeout: float | None = None) -> bool:
        raise OSError("database is locked")


def test_health_is_503_when_the_store_is_down(settings):
    app = create_app(TEST_CONFIG, settings=settings, store=DownStore(), queue=RecordingQueue())
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"broker": "ok", "store": "unreachable"}


def test_health_reports_an_unopenable_store_as_unreachable(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s")
    settings.sqlite_path.mkdir()  # a directory where the database file should be
    app = create_app(TEST_CONFIG, settings=settings, queue=RecordingQueue())
    assert app.test_client().get("/health").get_json()["store"] == "unreachable"


# -- factory --------------------------------------------------------------------------------------


def test_the_store_is_opened_lazily_on_first_use(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s")
    app = create_app(TEST_CONFIG, settings=settings, queue=RecordingQueue())
    assert not settings.sqlite_path.exists()
    client = app.test_client()
    response = client.post("/api/process", json={"package_link": discord_link(new_upn())})
    assert response.status_code == 202
    assert settings.sqlite_path.exists()
    store = app.extensions["dumpus"].store()
    assert store is app.extensions["dumpus"].store()
    store.close()


def test_settings_may_come_from_the_test_config(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s")
    app = create_app({**TEST_CONFIG, "SETTINGS": settings}, queue=RecordingQueue())
    assert app.extensions["dumpus"].settings is settings


def test_settings_come_from_the_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "from-env"))
    app = create_app(TEST_CONFIG, queue=RecordingQueue())
    assert app.extensions["dumpus"].settings.data_dir == tmp_path / "from-env"


# -- documentation --------------------------------------------------------------------------------


def test_the_openapi_document_lists_every_route(client):
    document = client.get("/openapi.json").get_json()
    assert document == client.get("/openapi/openapi.json").get_json()
    paths = {path: set(item) for path, item in document["paths"].items()}
    assert paths == ROUTES
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for operation in item.values():
            assert operation["summary"], path
            assert {"200", "201", "202"} & set(operation["responses"]), path
            has_bearer = operation.get("security") == [{"bearerAuth": []}]
            assert has_bearer == ("{package_id}" in path and SIGNED not in path), path


def test_the_openapi_document_gives_the_error_shape_for_400(client):
    document = client.get("/openapi.json").get_json()
    top = document["paths"]["/api/data/{package_id}/top/{type}/{period}"]["get"]
    assert top["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "400" not in document["paths"]["/health"]["get"]["responses"]
    parameters = {p["name"]: p for p in top["parameters"]}
    assert parameters["period"]["schema"]["enum"] == ["l4w", "l1m", "ly", "lifetime"]
    assert parameters["limit"]["schema"]["maximum"] == 100


@pytest.mark.parametrize(
    ("short", "page"), [("/docs", "/openapi/swagger"), ("/redoc", "/openapi/redoc")]
)
def test_docs_and_redoc_lead_to_the_ui(client, short, page):
    response = client.get(short)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(page)
    ui = client.get(page)
    assert ui.status_code == 200
    assert b"openapi.json" in ui.data


# -- error shapes ---------------------------------------------------------------------------------


def test_an_unknown_path_is_a_json_404(client):
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.get_json() == {
        "error": {"code": "NOT_FOUND", "message": "no route matches this path"}
    }


def test_a_wrong_method_is_a_json_405_with_allow(client):
    response = client.put("/api/process")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["Allow"]


class BrokenStore:
    """A store whose every repository call fails, as a disk error would."""

    def __getattr__(self, name):
        raise RuntimeError("disk I/O error at /secret/path")


def test_an_unexpected_exception_is_a_bare_500(settings):
    app = create_app(TEST_CONFIG, settings=settings, store=BrokenStore(), queue=RecordingQueue())
    response = app.test_client().post(
        "/api/process", json={"package_link": discord_link(new_upn())}
    )
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "INTERNAL_ERROR", "message": "an unexpected error occurred"}
    }


# -- the queue facade -----------------------------------------------------------------------------


class FakeCelery:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[str, dict]] = []
        self.connections: list[FakeConnection] = []

    def send_task(self, name, **options):
        if self.error:
            raise self.error
        self.sent.append((name, options))

    def connection_for_write(self, **options):
        connection = FakeConnection(self.error, options)
        self.connections.append(connection)
        return connection


class FakeConnection:
    def __init__(self, error, options) -> None:
        self.error, self.options, self.released, self.ensured = error, options, False, None

    def ensure_connection(self, **options):
        self.ensured = options
        if self.error:
            raise self.error

    def release(self):
        self.released = True

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.release()


def test_submit_sends_only_the_package_id_by_name():
    celery = FakeCelery()
    PackageQueue(celery).submit("0123456789abcdef0123456789abcdef")
    assert celery.sent == [
        (
            names.PROCESS_PACKAGE,
            {
                "args": ["0123456789abcdef0123456789abcdef"],
                "task_id": "0123456789abcdef0123456789abcdef",
                "queue": names.PACKAGES_QUEUE,
                "connection": celery.connections[0],
                "retry": True,
                "retry_policy": RETRY_POLICY,
            },
        )
    ]
    (connection,) = celery.connections  # bounded: a hung broker holds no request thread
    assert connection.options["transport_options"]["socket_timeout"] == SEND_TIMEOUT_SECONDS
    assert connection.released


@pytest.mark.parametrize(
    "error", [OperationalError("refused"), ConnectionRefusedError(), TimeoutError()]
)
def test_a_broker_error_on_submit_is_queue_unavailable(error):
    with pytest.raises(QueueUnavailable):
        PackageQueue(FakeCelery(error)).submit("0" * 32)


def test_a_redis_error_on_submit_is_queue_unavailable():
    redis_exceptions = pytest.importorskip("redis.exceptions")
    with pytest.raises(QueueUnavailable):
        PackageQueue(FakeCelery(redis_exceptions.ConnectionError())).submit("0" * 32)


def test_ping_tries_once_with_a_timeout_and_releases_the_connection():
    celery = FakeCelery()
    assert PackageQueue(celery).ping() is True
    (connection,) = celery.connections
    assert connection.released and connection.ensured["max_retries"] == 1
    assert connection.options["connect_timeout"] <= 5
    down = FakeCelery(OperationalError("refused"))
    assert PackageQueue(down).ping() is False
    assert down.connections[0].released


def test_ping_against_a_broker_that_is_not_there(tmp_path):
    from celery import Celery

    celery = Celery("ping-test", broker=f"redis+socket://{tmp_path}/no-such.sock")
    assert PackageQueue(celery).ping() is False


# -- imports --------------------------------------------------------------------------------------


def test_the_api_imports_neither_parsers_nor_task_modules(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from settings import Settings
        import api
        settings = Settings(data_dir=Path({str(tmp_path)!r}), secret_key="s",
                            broker_url="redis://127.0.0.1:9/0")
        app = api.create_app({{"TESTING": True}}, settings=settings)
        client = app.test_client()
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/api/data/{"0" * 32}/about").status_code == 401
        assert client.get("/health").get_json()["store"] == "ok"
        loaded = [m for m in sys.modules if m == "parsers" or m.startswith("parsers.")]
        tasks = [m for m in ("tasks.packages", "tasks.maintenance", "tasks.pipeline")
                 if m in sys.modules]
        print(loaded, tasks)
        assert not loaded and not tasks, (loaded, tasks)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_access_logs_do_not_show_a_link_of_the_path_form(client, caplog):
    upn = new_upn()
    werkzeug = logging.getLogger("werkzeug")
    line = f'"POST {path_form(discord_link(upn))} HTTP/1.1" 202 -'
    with caplog.at_level(logging.INFO):
        assert client.post(path_form(discord_link(upn))).status_code == 202
        client.get("/api/process/0123456789abcdef0123456789abcdef/status")
        werkzeug.info("%s - - [%s] %s", "127.0.0.1", "now", line)  # the dev server's own line
    assert upn[:40] not in caplog.text and quote(upn[:40]) not in caplog.text
    assert "POST /api/process/<package_link> 202 " in caplog.text
    assert "GET /api/process/0123456789abcdef0123456789abcdef/status 401 " in caplog.text
