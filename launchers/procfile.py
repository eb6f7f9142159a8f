"""`make run`: `honcho start` on the Procfile, with the time to stop it in order (docs/shutdown.md).

On Ctrl-C or SIGTERM, honcho 2.0 sends SIGTERM to every process group at once, then SIGKILL to
whatever is left 5 s (its `KILL_WAIT`) after the first process exits. The workers need up to
`SHUTDOWN_GRACE_SECONDS` to hand their packages back and the embedded broker serves them
meanwhile (it stops last), so that wait is raised above both. Arguments are `honcho start`'s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

# honcho ships no type information
import honcho.command  # type: ignore[import-untyped]
import honcho.environ  # type: ignore[import-untyped]
import honcho.manager  # type: ignore[import-untyped]

from launchers.embedded_broker import wait_seconds
from settings import Settings, load_or_exit

KILL_MARGIN_SECONDS = 5  # beyond the broker's own wait: its SHUTDOWN and the journal's sync


def kill_wait_seconds(settings: Settings) -> float:
    """Seconds honcho leaves the processes, once one has exited, before it kills the rest."""
    return wait_seconds(settings) + KILL_MARGIN_SECONDS


def _settings(dotenv: Path = Path(".env")) -> Settings:
    """The settings the processes will see: honcho lets `.env` override the environment."""
    env = dict(os.environ)
    if dotenv.is_file():
        env.update(honcho.environ.parse(dotenv.read_text(encoding="utf-8")))
    return load_or_exit(env)


def main(argv: Sequence[str] = ()) -> None:
    """`honcho start [argv]` with honcho's kill wait raised to `kill_wait_seconds`."""
    honcho.manager.KILL_WAIT = kill_wait_seconds(_settings())  # read by Manager.loop each turn
    honcho.command.main(["start", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
