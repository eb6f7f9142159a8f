"""`python -m launchers.flower`: Flower on the Celery app, refusing to run open on a public address.

Flower listens on FLOWER_ADDRESS:FLOWER_PORT (127.0.0.1:5555 by default). With FLOWER_BASIC_AUTH
set ("user:password", several separated by commas) it asks for a password; on any address other
than a loopback one it refuses to start without it. Flower reads FLOWER_BASIC_AUTH from the
environment itself, so the password never shows on a command line.

Flower runs in this process (Celery's command line, called here) rather than in an exec'd one, so
`logsafe`'s filter can be put on the handlers Flower and Tornado set up.
"""

from __future__ import annotations

import ipaddress
import sys

import logsafe
from settings import Settings, load_or_exit


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
        raise SystemExit(
            f"refusing to start Flower on {settings.flower_address} without FLOWER_BASIC_AUTH"
        )
    if settings.flower_basic_auth and ":" not in settings.flower_basic_auth:
        raise SystemExit("FLOWER_BASIC_AUTH must look like user:password")
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


def redact_flower_logs() -> None:
    """Make Flower's logging setup end by installing logsafe's filter on every handler."""
    from flower import command  # Flower and Tornado are imported only by this launcher

    setup = command.setup_logging
    if getattr(setup, "redacts", False):
        return

    # Flower offers no hook: its command calls this module-level function once Tornado has
    # added its handlers, and it is looked up at call time.
    def setup_then_redact() -> None:
        setup()
        logsafe.install()

    # a marker attribute on the function (the getattr above): functions take any attribute
    setup_then_redact.redacts = True  # type: ignore[attr-defined]
    command.setup_logging = setup_then_redact


def main() -> None:
    """Check the settings, then run Flower through Celery's command line in this process."""
    from celery.__main__ import main as celery_main

    command = flower_command(load_or_exit())
    redact_flower_logs()
    sys.argv = ["celery", *command[3:]]  # what `python -m celery ...` would see
    celery_main()


if __name__ == "__main__":
    main()
