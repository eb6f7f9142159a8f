"""Property-based tests of every operation against the app's own OpenAPI document (schemathesis).

Each operation runs against a fresh app (real SQLite store, recording queue, generous limits)
holding one processed package. About half the cases are sent by that package's owner, on its id
and, often, on entity ids the package has, so the data routes answer 200s and not only 401s.
Every answer must be no 5xx, have a documented status, content type and headers, and match the
documented schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from api.schemas import MAX_OFFSET
from settings import Settings
from storage.crypto import package_id_for
from tests.api.api_support import TEST_CONFIG, RecordingQueue, new_upn, path_form, sample_views

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# `POST /api/process/upload` is the direct upload, not the path form of the link "upload".
UPLOAD_SEGMENT = "upload"
# Ids that sample_views gives the package, so owner cases reach real views.
KNOWN_IDS = {
    "guild_id": ["42", "unknown"],
    "user_id": ["100", "900", "1"],
    "channel_id": ["7"],
    "type": ["dms"],
}


@pytest.fixture
def owner(packages) -> tuple[str, str]:
    """(UPN, package id) of the one processed package of the app."""
    upn = new_upn()
    return upn, packages.processed(upn, sample_views(package_id_for(upn)))


def _document_app():
    """An app that only serves its document (nothing is opened; each test sends to its own app).

    `schemathesis.pytest.from_fixture` would build the schema from the test's app, but it reads
    a pytest internal that pytest 9 removed; the document is the same for every app.
    """
    # no audit log: its flusher would open a store under ./unused for the document request
    settings = Settings(data_dir=Path("unused"), secret_key="unused", audit_enabled=False)
    return create_app(TEST_CONFIG, settings=settings, queue=RecordingQueue())


schema = schemathesis.openapi.from_wsgi("/openapi/openapi.json", _document_app())


def act_as_owner(case, data, upn: str, package_id: str) -> None:
    """Point the case at the owned package with its owner's token (and, often, known ids)."""
    parameters = case.path_parameters
    parameters["package_id"] = package_id
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {upn}"}
    for name, known in KNOWN_IDS.items():
        if name in parameters and data.draw(st.booleans(), label=f"known {name}"):
            parameters[name] = data.draw(st.sampled_from(known), label=name)


@schema.given(data=st.data())
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_matches_the_document(case, data, app, owner):
    if (case.path_parameters or {}).get("package_link") == UPLOAD_SEGMENT:
        case.path_parameters["package_link"] += "-link"  # that path is the upload route's
    if "package_id" in (case.path_parameters or {}) and data.draw(st.booleans(), label="owner"):
        act_as_owner(case, data, *owner)
    case.call_and_validate(app=app, checks=CHECKS)


# -- what the property tests found, pinned --------------------------------------------------------


@pytest.mark.parametrize("link", ["https://click.discord.com/ls/click?upn=a\nb", "\n", "a\r\nb"])
def test_a_path_form_link_with_a_newline_is_invalid_not_405(client, link):
    response = client.post(path_form(link))
    assert response.status_code == 400
    assert response.get_json()["errorMessageCode"] == "INVALID_LINK"


def test_an_offset_beyond_any_list_is_400_not_500(client, owner):
    upn, package_id = owner
    url = f"/api/data/{package_id}/top/dms/ly?offset={2**70}"
    response = client.get(url, headers={"Authorization": f"Bearer {upn}"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_REQUEST"


def test_the_largest_offset_is_an_empty_page(client, owner):
    upn, package_id = owner
    url = f"/api/data/{package_id}/top/dms/ly?offset={MAX_OFFSET}"
    response = client.get(url, headers={"Authorization": f"Bearer {upn}"})
    assert (response.status_code, response.get_json()["entries"]) == (200, [])
