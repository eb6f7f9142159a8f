"""The API's log as a test reads it: lines are buffered in a gunicorn worker
(`api.accesslog.BufferedLines`), so a test waits for the line it expects, with a deadline."""

from __future__ import annotations

import re
import time
from pathlib import Path

LOG_TIMEOUT_SECONDS = 10


class ApiLog:
    """The API's combined output, read from an offset until a line shows up."""

    def __init__(self, path: Path):
        self.path = path

    def text(self) -> str:
        """The whole log so far."""
        return self.path.read_text(errors="replace")

    def offset(self) -> int:
        """Where the log ends now."""
        return len(self.text())

    def wait_for(self, pattern: str, since: int) -> str:
        """The log once `pattern` (a regex) appears after `since`; fails at the deadline."""
        deadline = time.monotonic() + LOG_TIMEOUT_SECONDS
        while True:
            text = self.text()
            if re.search(pattern, text[since:], re.MULTILINE):
                return text
            assert time.monotonic() < deadline, (
                f"no {pattern!r} in the log:\n{text[since:][-3000:]}"
            )
            time.sleep(0.05)
