"""`python -m tasks.flower`: Flower on the Celery app, refusing to run open on a public address.

Flower listens on FLOWER_ADDRESS:FLOWER_PORT (127.0.0.1:5555 by default). With FLOWER_BASIC_AUTH
set ("user:password", several separated by commas) it asks for a password; on any address other
than a loopback one it refuses to start without it. Flower reads FLOWER_BASIC_AUTH from the
environment itself, so the password never shows on a command line.
"""

from __future__ import annotations

import ipaddress
import os
import sys

from settings import Settings


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


def main() -> None:
    """Check the settings, then replace this process with Flower."""
    command = flower_command(Settings.from_env())
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
