"""Short addresses of the API documentation: `/docs` (Swagger UI), `/redoc`, `/openapi.json`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from api.jsonio import json_response

bp = Blueprint("docs", __name__)


@bp.get("/docs")
def swagger_ui() -> BaseResponse:
    """302 to the Swagger UI of the OpenAPI document."""
    return redirect(url_for("swagger.swagger"))


@bp.get("/redoc")
def redoc() -> BaseResponse:
    """302 to the ReDoc page of the OpenAPI document."""
    return redirect(url_for("redoc.redoc"))


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """200 the OpenAPI document (the same as `/openapi/openapi.json`)."""
    # current_app is typed as Flask; here it is flask-openapi3's OpenAPI app, which has api_doc
    return json_response(current_app.api_doc)  # type: ignore[attr-defined]
