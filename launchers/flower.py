"""`python -m launchers.flower`: Flower on the Celery app, refusing to run open on a public address.

Flower listens on FLOWER_ADDRESS:FLOWER_PORT (127.0.0.1:5555 by default). With FLOWER_BASIC_AUTH
set ("user:password", several separated by commas) it asks for a password; on any address other
than a loopback one it refuses to start without it. Flower reads FLOWER_BASIC_AUTH from the
environment itself, so the password never shows on a command line.

Flower runs in this process (Celery's command line, called here) rather than in an exec'd one, so
the project's logging configuration (`logconfig`, logsafe's filter with it) replaces what Flower
and Tornado set up, and Flower's `/metrics` asks for the same password as its pages (Flower
2.2.0 serves it to anyone).
"""

from __future__ import annotations

import ipaddress
import sys

import logconfig
from settings import Settings, load_or_exit

METRICS_ROUTE = r"/metrics"


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def flower_command(settings: Settings) -> list[str]:
    """The Flower command line, or SystemExit when it would run open on a public address."""
    if not settings.flower_basic_auth and not is_loopback(settings.flower_address):
        # one line and status 2, as any setting refused at start (settings.load_or_exit)
        print(
            f"dumpus: refusing to start Flower on {settings.flower_address} without "
            "FLOWER_BASIC_AUTH",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tasks.celery_app",
        "flower",
        f"--address={settings.flower_address}",
        f"--port={settings.flower_port}",
    ]


def configure_flower_logging(settings: Settings) -> None:
    """Make Flower's logging setup end with `logconfig`'s (which installs logsafe's filter)."""
    from flower import command  # Flower and Tornado are imported only by this launcher

    setup = command.setup_logging
    if getattr(setup, "configures", False):
        return

    # Flower offers no hook: its command calls this module-level function once Tornado has
    # parsed its options (setting the root level) and added its handlers, and it is looked up at
    # call time. A Flower that dropped it fails `tests/api/test_api_logs.py`.
    def setup_then_configure() -> None:
        setup()
        logconfig.configure(settings)

    # a marker attribute on the function (the getattr above): functions take any attribute
    setup_then_configure.configures = True  # type: ignore[attr-defined]
    command.setup_logging = setup_then_configure


def require_auth_on_metrics() -> None:
    """Serve Flower's `/metrics` through a handler that asks for the login its pages ask for.

    Flower 2.2.0 routes `/metrics` to `flower.views.monitor.Metrics`, whose `get` lacks the
    `tornado.web.authenticated` its other pages have, so it answers without FLOWER_BASIC_AUTH.
    Its route table, `flower.urls.handlers`, is the list every Flower app is built from: the
    entry is replaced there, before the app exists. A Flower whose table has no such entry
    stops this launcher (and `tests/integration/test_flower.py`) rather than run unprotected.
    """
    from flower import urls
    from flower.views import monitor
    from tornado import web

    class AuthenticatedMetrics(monitor.Metrics):
        """Flower's metrics handler behind Flower's own authentication."""

        asks_for_login = True

        @web.authenticated
        async def get(self) -> None:
            """Flower's answer, once `current_user` is known (401 without the password)."""
            await super().get()

    for index, route in enumerate(urls.handlers):
        if isinstance(route, tuple) and route[0] == METRICS_ROUTE:
            if not getattr(route[1], "asks_for_login", False):
                urls.handlers[index] = (METRICS_ROUTE, AuthenticatedMetrics)
            return
    raise RuntimeError(f"Flower has no {METRICS_ROUTE} route to protect: see launchers/flower.py")


def main() -> None:
    """Check the settings, then run Flower through Celery's command line in this process."""
    from celery.__main__ import main as celery_main

    settings = load_or_exit()
    command = flower_command(settings)
    logconfig.configure(settings)  # Celery's and Flower's start-up lines too
    configure_flower_logging(settings)
    require_auth_on_metrics()
    sys.argv = ["celery", *command[3:]]  # what `python -m celery ...` would see
    celery_main()


if __name__ == "__main__":
    main()
