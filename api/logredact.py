"""Keep package links out of access logs.

The path form `POST /api/process/<link>` puts the link (and its UPN) in the request line, which
the WSGI server's access log would print. This filter rewrites such request lines on the access
loggers of Werkzeug's server and gunicorn before any handler sees them.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
# Anything after /api/process/ that is not a package id (with or without /status).
_LINK_IN_PATH = re.compile(r"(/api/process/)(?![0-9a-fA-F]{32}(?:/status)?(?=[\s\"?]|$))[^\s\"]+")
REDACTED = r"\1<link redacted>"


class RedactPackageLinks(logging.Filter):
    """Replaces a link in an access-log line by a placeholder."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place when it carries a link; never drop it."""
        message = record.getMessage()
        redacted = _LINK_IN_PATH.sub(REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install() -> None:
    """Attach the filter to the access loggers (once per process)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactPackageLinks) for f in logger.filters):
            logger.addFilter(RedactPackageLinks())
