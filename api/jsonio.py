"""JSON in and out with orjson: one encoder for handlers, errors and `flask.jsonify`."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import JSONProvider

_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded by orjson."""
    return Response(
        orjson.dumps(data, option=_OPTIONS),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def json_text_response(text: bytes, status: int = 200) -> Response:
    """A response whose body is JSON text already encoded (a decrypted view)."""
    return Response(text, status=status, content_type="application/json")


class OrjsonProvider(JSONProvider):
    """Flask's JSON provider backed by orjson (used by `jsonify` and the OpenAPI document)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize to a JSON string."""
        return orjson.dumps(obj, option=_OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document."""
        return orjson.loads(s)
