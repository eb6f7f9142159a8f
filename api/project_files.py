"""A project's files and their versions (issue 15; design in docs/projects.md).

Uploading a file or a new version (`upload_file`) streams the body to the project's default
provider, sealed (`storage.file_bytes`), and charges it to the uploader's bandwidth as a direct
upload is charged (`api.metering`). Downloading a version needs `download_file`; deleting a
file moves it and every version to the trash (`delete_file`), restoring brings them back
(`restore_file`), purging removes a trashed file's records, keys and bytes (`purge_file`).
Every one of those events asks for a recount of the project's statistics (coalesced:
`tasks.projects`). A file of the project can be processed as a package
(`POST .../files/<file_id>/process`, `download_file`): its newest version becomes a direct
upload, answered with its key as `POST /api/process/upload` answers.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field

from api import metering
from api.admin import UUID_PATTERN
from api.errors import ApiError
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES
from api.jsonio import json_response
from api.pagination import PageQuery, page_headers
from api.project_access import Access, project_access
from api.project_stats import PROJECTS_TAG, ProjectPath
from api.projects import local_provider, project_file_bytes
from api.queue import QueueUnavailable
from api.schemas import ErrorResponse
from api.services import get_queue, get_settings, get_store, now
from api.uploads import UploadResponse, declared_length, receive_package, request_body, write_all
from storage.file_bytes import LOCAL_KIND, purge_file
from storage.projects import FileVersion, StoredFile

log = logging.getLogger(__name__)
FILE_NAME_PATTERN = r"^[^/\\\x00-\x1f]{1,255}$"

bp = APIBlueprint(
    "project_files",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[PROJECTS_TAG],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)


class FileQuery(BaseModel):
    name: str = Field(pattern=FILE_NAME_PATTERN, description="The file's name, 1-255 characters")


class FilesQuery(PageQuery):
    trashed: bool = Field(False, description="true: the files in the trash")


class FilePath(ProjectPath):
    file_id: str = Field(pattern=UUID_PATTERN)


class VersionPath(FilePath):
    version_id: str = Field(pattern=UUID_PATTERN)


class VersionOut(BaseModel):
    id: str
    number: int
    size: int
    sha256: str
    storage_provider_id: str
    created_at: float
    trashed_at: float | None


class FileOut(BaseModel):
    id: str
    project_id: str
    name: str
    created_at: float
    trashed_at: float | None
    versions: list[VersionOut]


class FileList(BaseModel):
    results: list[FileOut]


@bp.post(
    "/projects/<project_id>/files",
    summary="Upload a new file (the body, or a multipart form's first file)",
    responses={201: FileOut, 404: ErrorResponse, 411: ErrorResponse, 413: ErrorResponse},
)
def upload_file(path: ProjectPath, query: FileQuery) -> Response:
    """`upload_file` needed; `Content-Length` required (411), within `MAX_UPLOAD_BYTES` (413)
    and the uploader's bandwidth of the day (429 `BANDWIDTH_EXCEEDED`)."""
    access = project_access(path.project_id, "upload_file")
    created: list[StoredFile] = []

    def new_file() -> StoredFile:  # made once the upload is charged, gone if it fails
        created.append(get_store().projects.create_file(access.project.id, query.name, now()))
        return created[0]

    try:
        version = _receive_version(access, query.name, new_file)
    except BaseException:
        for stored in created:
            get_store().projects.trash_file(stored.id, now())
            get_store().projects.purge_file(stored.id)
        raise
    return json_response(_file_json(version.file_id), 201)


@bp.post(
    "/projects/<project_id>/files/<file_id>/versions",
    summary="Upload a new version of a file",
    responses={201: FileOut, 404: ErrorResponse, 411: ErrorResponse, 413: ErrorResponse},
)
def upload_version(path: FilePath) -> Response:
    access = project_access(path.project_id, "upload_file")
    stored = _live_file(access, path.file_id)
    _receive_version(access, stored.name, lambda: stored)
    return json_response(_file_json(stored.id), 201)


@bp.get(
    "/projects/<project_id>/files",
    summary="A project's files (or its trash), with their versions",
    responses={200: FileList, 404: ErrorResponse},
)
def list_files(path: ProjectPath, query: FilesQuery) -> Response:
    access = project_access(path.project_id, "view_project")
    page = get_store().projects.files(access.project.id, query.trashed, query.offset,
                                      query.per_page)  # fmt: skip
    results = [_file_json(stored.id) for stored in page.items]
    return json_response({"results": results}, headers=page_headers(query, page.total))


@bp.get(
    "/projects/<project_id>/files/<file_id>",
    summary="A file and its versions",
    responses={200: FileOut, 404: ErrorResponse},
)
def get_file(path: FilePath) -> Response:
    access = project_access(path.project_id, "view_project")
    return json_response(_file_json(_file(access, path.file_id).id))


@bp.get(
    "/projects/<project_id>/files/<file_id>/versions/<version_id>/content",
    summary="Download a version's bytes",
    responses={200: None, 404: ErrorResponse},
)
def download_version(path: VersionPath) -> Response:
    """`download_file` needed; a version in the trash downloads too (until it is purged)."""
    access = project_access(path.project_id, "download_file")
    stored = _file(access, path.file_id)
    version = get_store().projects.version(path.version_id)
    if version is None or version.file_id != stored.id:
        raise ApiError(404, "UNKNOWN_VERSION", "the file has no such version")
    chunks = _readable(project_file_bytes().of(_kind(version)).chunks(version.id))
    headers = {
        "Content-Length": str(version.size),
        "Content-Disposition": f'attachment; filename="{_ascii(stored.name)}"',
    }
    return Response(
        stream_with_context(chunks), mimetype="application/octet-stream", headers=headers
    )


@bp.delete(
    "/projects/<project_id>/files/<file_id>",
    summary="Move a file and every version to the trash",
    responses={200: FileOut, 404: ErrorResponse, 409: ErrorResponse},
)
def trash_file(path: FilePath) -> Response:
    access = project_access(path.project_id, "delete_file")
    stored = _file(access, path.file_id)
    if not get_store().projects.trash_file(stored.id, now()):
        raise ApiError(409, "ALREADY_IN_TRASH", "the file is in the trash already")
    _file_event(access.project.id)
    return json_response(_file_json(stored.id))


@bp.post(
    "/projects/<project_id>/files/<file_id>/restore",
    summary="Bring a file and its versions back from the trash",
    responses={200: FileOut, 404: ErrorResponse, 409: ErrorResponse},
)
def restore_file(path: FilePath) -> Response:
    access = project_access(path.project_id, "restore_file")
    stored = _file(access, path.file_id)
    if not get_store().projects.restore_file(stored.id):
        raise ApiError(409, "NOT_IN_TRASH", "the file is not in the trash")
    _file_event(access.project.id)
    return json_response(_file_json(stored.id))


@bp.delete(
    "/projects/<project_id>/files/<file_id>/purge",
    summary="Remove a trashed file for good: its records, keys and bytes",
    responses={200: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse},
)
def purge(path: FilePath) -> Response:
    access = project_access(path.project_id, "purge_file")
    stored = _file(access, path.file_id)
    if stored.trashed_at is None:
        raise ApiError(409, "NOT_IN_TRASH", "only a file in the trash can be purged")
    purge_file(get_store().projects, project_file_bytes(), stored.id)
    _file_event(access.project.id)
    return json_response({"message": "File successfully purged"})


@bp.post(
    "/projects/<project_id>/files/<file_id>/process",
    summary="Process a file's newest version as a package",
    responses={200: UploadResponse, 202: UploadResponse, 404: ErrorResponse},
)
def process_file(path: FilePath) -> Response:
    """`download_file` needed. The newest version becomes a direct upload of the caller (same
    checks, answers and key as `POST /api/process/upload`; not charged: no byte crosses the
    network)."""
    access = project_access(path.project_id, "download_file")
    stored = _live_file(access, path.file_id)
    versions = get_store().projects.versions(stored.id)
    if not versions:
        raise ApiError(404, "UNKNOWN_VERSION", "the file has no version")
    newest = versions[-1]
    chunks = project_file_bytes().of(_kind(newest)).chunks(newest.id)
    answer, _size = receive_package(access.principal.account.id, chunks)
    return answer


def _receive_version(access: Access, name: str, file_of: Callable[[], StoredFile]) -> FileVersion:
    """The request's body kept as the next version of the file `file_of` gives (asked only once
    the upload is charged to the uploader) on the project's default provider; the project's
    figures then asked for."""
    declared = declared_length(get_settings())
    charge = metering.charge_account(access.principal.account.id, declared, name)
    try:
        version = _store_version(access, file_of(), declared)
    except BaseException:
        charge.refund()
        raise
    charge.settle(version.size)
    _file_event(access.project.id)
    return version


def _store_version(access: Access, stored: StoredFile, declared: int) -> FileVersion:
    """The bytes kept first, then the version's record (its bytes removed if that fails)."""
    projects = get_store().projects
    provider = projects.provider(access.project.default_provider_id) or local_provider()
    file_bytes = project_file_bytes().of(provider.kind)
    version_id = str(uuid.uuid4())
    with file_bytes.receiving(version_id, get_settings().max_upload_bytes) as incoming:
        write_all(incoming, request_body(declared))
        incoming.keep()
    try:
        return projects.add_version(
            stored.id, incoming.size, incoming.sha256.hex(), provider.id, now(), version_id
        )
    except BaseException:
        file_bytes.remove(version_id)
        raise


def _file_event(project_id: str) -> None:
    """The project's figures are stale: a recount queued unless one is pending (a broker that
    is down leaves it pending: beat sends it later)."""
    if get_store().projects.want_recount(project_id, now()):
        try:
            get_queue().recount_project(project_id)
        except QueueUnavailable:
            log.warning("project recount left to beat: the broker is unavailable")


def _file(access: Access, file_id: str) -> StoredFile:
    stored = get_store().projects.file(file_id)
    if stored is None or stored.project_id != access.project.id:
        raise ApiError(404, "UNKNOWN_FILE", "the project has no such file")
    return stored


def _live_file(access: Access, file_id: str) -> StoredFile:
    stored = _file(access, file_id)
    if stored.trashed_at is not None:
        raise ApiError(409, "IN_TRASH", "the file is in the trash: restore it first")
    return stored


def _kind(version: FileVersion) -> str:
    provider = get_store().projects.provider(version.provider_id)
    return provider.kind if provider else LOCAL_KIND


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace('"', "'")


def _file_json(file_id: str) -> dict[str, Any]:
    projects = get_store().projects
    stored = projects.file(file_id)
    assert stored is not None  # called for a file that exists
    return {
        "id": stored.id,
        "project_id": stored.project_id,
        "name": stored.name,
        "created_at": stored.created_at,
        "trashed_at": stored.trashed_at,
        "versions": [_version_json(v) for v in projects.versions(stored.id)],
    }


def _version_json(version: FileVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "number": version.number,
        "size": version.size,
        "sha256": version.sha256,
        "storage_provider_id": version.provider_id,
        "created_at": version.created_at,
        "trashed_at": version.trashed_at,
    }


def _readable(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, the first one read now: a version whose bytes are gone is a 404 before any
    header is sent, not a broken download."""
    try:
        first = next(chunks, b"")
    except FileNotFoundError:
        raise ApiError(404, "UNKNOWN_VERSION", "this version's bytes are gone") from None
    return itertools.chain([first], chunks)
