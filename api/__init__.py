"""The Flask API: `create_app` builds an app serving the process, data and health routes.

Nothing is read at import time and nothing heavy is imported: the Celery app is imported when an
app is created without an injected queue, the store is opened on first use, and `parsers` and the
task modules are never imported by the API. Rate limits per client address (`api.ratelimit`)
count in Redis when there is one; tests pass `RATELIMIT_STORAGE_URI: "memory://"`. The client
address is the socket peer's unless a proxy of `TRUSTED_PROXIES` names it (`api.proxies`).
"""

from __future__ import annotations

import time
from typing import Any

from flask_openapi3 import Info, OpenAPI

import logconfig
import logsafe
from api import (
    accesslog,
    admin,
    audit,
    bandwidth,
    cors,
    data,
    docs,
    dumpus_app,
    errors,
    event_path,
    events,
    health,
    identity,
    process,
    project_files,
    project_stats,
    projects,
    proxies,
    ratelimit,
    read_path,
    request_ids,
    shoppers,
    storefronts,
    uploads,
    usage,
)
from api.auth import BEARER_SCHEME
from api.identity import ACCOUNT_BEARER_SCHEME
from api.jsonio import OrjsonProvider
from api.schemas import ErrorResponse
from api.services import EXTENSION, Services
from settings import Settings

__all__ = ["create_app"]

DEFAULT_CONFIG = {
    "MAX_CONTENT_LENGTH": 64 * 1024,  # a link fits many times; anything larger is not ours
}


class DumpusOpenAPI(OpenAPI):
    """OpenAPI app whose document keeps each route's own 400 shape.

    flask-openapi3 adds an array-of-errors 400 response to every operation that does not declare
    one; ours answer 400 as `{"error": ...}` and routes without input never answer 400 at all.
    """

    json_provider_class = OrjsonProvider

    def generate_spec_json(self) -> None:
        """Build the document, then drop the generic 400 entries added by flask-openapi3."""
        super().generate_spec_json()
        for path_item in self.spec_json.get("paths", {}).values():
            for operation in path_item.values():
                bad = operation.get("responses", {}).get(self.validation_error_status, {})
                schema = bad.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("type") == "array":
                    del operation["responses"][self.validation_error_status]
        batch = self.spec_json.get("paths", {}).get(events.BATCH_BODY_PATH, {}).get("post")
        if batch is not None:
            batch["requestBody"] = events.BATCH_REQUEST_BODY
        errors.document_store_unavailable(self.spec_json, exempt=health.PATHS)


def _default_queue() -> Any:
    from api.queue import PackageQueue
    from tasks.celery_app import app as celery_app  # imported here: the worker's app, injected

    return PackageQueue(celery_app)


def _init_metrics(app: OpenAPI, settings: Settings) -> None:
    # Imported here, not with the api package: prometheus_client chooses its multiprocess mode
    # once, when first imported, and gunicorn sets PROMETHEUS_MULTIPROC_DIR (api.gunicorn_conf)
    # only after its config module, which is in this package, was imported.
    from api import metrics

    metrics.init_app(app, settings.metrics_enabled)


def _audit_recorder(settings: Settings, services: Services) -> audit.AuditRecorder | None:
    if not settings.audit_enabled:
        return None
    return audit.AuditRecorder(
        services.store,
        services.server_secret,
        services.clock,
        settings.audit_flush_seconds,
        settings.audit_buffer_max,
    )


def create_app(
    test_config: dict | None = None,
    *,
    settings: Settings | None = None,
    store: Any = None,
    queue: Any = None,
) -> OpenAPI:
    """Build the API app; settings, store and queue are injected or made from the environment."""
    config = dict(test_config or {})
    configured = config.pop("SETTINGS", None)
    settings = settings or configured or Settings.from_env()
    logconfig.configure_unless_configured(settings)  # gunicorn's workers have theirs already
    app = DumpusOpenAPI(
        __name__,
        info=Info(
            title="Dumpus statistics API",
            version="1.0.0",
            description="Submit a Discord data package link, follow it, read its statistics.",
        ),
        security_schemes={"bearerAuth": BEARER_SCHEME, "accountToken": ACCOUNT_BEARER_SCHEME},
        doc_prefix="/openapi",
        validation_error_status=400,
        validation_error_model=ErrorResponse,
        validation_error_callback=errors.validation_error_response,
    )
    app.config.from_mapping(DEFAULT_CONFIG)
    app.config.from_mapping(config)
    services = app.extensions[EXTENSION] = Services(
        settings,
        queue if queue is not None else _default_queue(),
        store,
        clock=config.get("CLOCK") or time.time,
    )
    accesslog.init_app(app)  # first: its clock starts before any other hook can fail
    errors.init_app(app)
    cors.init_app(app, settings)  # before the limits: a preflight is never counted
    ratelimit.init_app(app, settings)
    logsafe.install()
    app.url_map.converters[process.LINK_CONVERTER] = process.LinkConverter
    app.register_api(process.bp)
    app.register_api(uploads.bp)
    app.register_api(data.bp)
    app.register_api(dumpus_app.bp)
    app.register_api(health.bp)
    health.watch_workers(app, services)
    app.register_api(identity.bp)
    app.register_api(admin.bp)
    app.register_api(usage.bp)
    app.register_api(storefronts.bp)
    app.register_api(shoppers.bp)
    app.register_api(events.bp)
    app.register_api(project_stats.bp)  # before projects: /projects/stats is not a project id
    app.register_api(projects.bp)
    app.register_api(project_files.bp)
    app.register_api(bandwidth.bp)
    audit.init_app(app, _audit_recorder(settings, services))
    app.register_blueprint(docs.bp)
    _init_metrics(app, settings)
    event_path.init_app(app)  # it reads the routes
    read_path.init_app(app)  # it reads the routes and the limits
    request_ids.init_app(app)  # read_path's answers get an id too
    proxies.init_app(app, settings)  # last: every layer sees the client a trusted proxy names
    return app
