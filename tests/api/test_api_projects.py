"""Projects, members, files, trash and statistics through the API (issue 15): every route, each
role's permissions, the status codes, the bytes on disk, the bandwidth charged, and the
statistics served as workers stored them (the recount runs here as the task runs it)."""

from __future__ import annotations

import hashlib
import time

import pytest

from storage.bandwidth import account_meter
from storage.events import utc_day
from tasks.projects import recount_until_settled
from tests.api.store_support import account_headers

V1 = "/api/v1"
ROLE_IDS = ("project_admin", "project_viewer", "file_downloader", "file_uploader", "file_editor")


@pytest.fixture
def admin(client, store, acme):
    return account_headers(client, store, acme, superuser=False)


@pytest.fixture
def project(client, admin) -> str:
    answer = client.post(f"{V1}/projects", json={"name": "Exports", "description": "d"},
                         headers=admin)  # fmt: skip
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def upload(client, headers, project_id: str, data: bytes, name: str = "a.zip"):
    return client.post(
        f"{V1}/projects/{project_id}/files?name={name}",
        data=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )


def member(client, store, acme, admin, project_id: str, role: str) -> dict[str, str]:
    """A new account of the organization holding `role` in the project: its headers."""
    headers = account_headers(client, store, acme, superuser=False)
    email = client.get(f"{V1}/accounts/me", headers=headers).get_json()["email"]
    answer = client.put(f"{V1}/projects/{project_id}/members",
                        json={"email": email, "role": role}, headers=admin)  # fmt: skip
    assert answer.status_code == 200, answer.get_json()
    return headers


def recount(store, project_id: str) -> None:
    recount_until_settled(store.projects, project_id, time.time)


def test_a_project_is_made_with_its_creator_as_admin_on_the_local_provider(client, admin, project):
    made = client.get(f"{V1}/projects/{project}", headers=admin).get_json()
    assert made["name"] == "Exports" and made["default_provider"]["name"] == "Local disk"
    members = client.get(f"{V1}/projects/{project}/members", headers=admin).get_json()["results"]
    assert [m["role"]["id"] for m in members] == ["project_admin"]
    providers = client.get(f"{V1}/storage-providers", headers=admin).get_json()["results"]
    assert [p["id"] for p in providers] == [made["default_provider"]["id"]]
    roles = client.get(f"{V1}/project-roles", headers=admin).get_json()["results"]
    assert [r["id"] for r in roles] == list(ROLE_IDS)


def test_a_file_and_its_versions_are_kept_sealed_and_download_whole(
    client, store, settings, admin, project
):
    first, second = b"first version " * 1000, b"second version " * 2000
    made = upload(client, admin, project, first)
    assert made.status_code == 201, made.get_json()
    file_id = made.get_json()["id"]
    newer = client.post(f"{V1}/projects/{project}/files/{file_id}/versions", data=second,
                        headers={**admin, "Content-Type": "application/octet-stream"})  # fmt: skip
    versions = newer.get_json()["versions"]
    assert [(v["number"], v["size"]) for v in versions] == [(1, len(first)), (2, len(second))]
    assert versions[1]["sha256"] == hashlib.sha256(second).hexdigest()
    for version, data in zip(versions, (first, second), strict=True):
        url = f"{V1}/projects/{project}/files/{file_id}/versions/{version['id']}/content"
        got = client.get(url, headers=admin)
        assert got.status_code == 200 and got.get_data() == data
    on_disk = b"".join(p.read_bytes() for p in settings.project_files_dir.glob("*.bin"))
    assert b"first version" not in on_disk and len(on_disk) > len(first) + len(second)
    charged = store.bandwidth.usage(account_meter(_account_id(client, admin)),
                                    utc_day(time.time()), 10)  # fmt: skip
    assert charged.uploaded == len(first) + len(second)


def test_trash_restore_and_purge(client, settings, admin, project):
    file_id = upload(client, admin, project, b"x" * 5000).get_json()["id"]
    base = f"{V1}/projects/{project}/files/{file_id}"
    assert client.post(f"{base}/restore", headers=admin).status_code == 409
    assert client.delete(f"{base}/purge", headers=admin).status_code == 409
    trashed = client.delete(base, headers=admin)
    assert trashed.status_code == 200 and trashed.get_json()["trashed_at"]
    assert client.delete(base, headers=admin).status_code == 409
    listed = client.get(f"{V1}/projects/{project}/files?trashed=true", headers=admin)
    assert [f["id"] for f in listed.get_json()["results"]] == [file_id]
    assert client.post(f"{base}/restore", headers=admin).get_json()["trashed_at"] is None
    client.delete(base, headers=admin)
    assert client.delete(f"{base}/purge", headers=admin).status_code == 200
    assert client.get(base, headers=admin).status_code == 404
    assert list(settings.project_files_dir.glob("*.bin")) == []
    assert list((settings.project_files_dir / "keys").iterdir()) == []


# What each role may do: (method, path template, expected status when allowed).
ACTIONS = {
    "view": ("get", "/projects/{p}/files", 200),
    "download": ("get", "/projects/{p}/files/{f}/versions/{v}/content", 200),
    "upload": ("post", "/projects/{p}/files/{f}/versions", 201),
    "delete": ("delete", "/projects/{p}/files/{f}", 200),
    "members": ("get", "/projects/{p}/members", 200),
}
ALLOWED = {
    "project_viewer": {"view", "members"},
    "file_downloader": {"view", "members", "download"},
    "file_uploader": {"view", "members", "download", "upload"},
    "file_editor": {"view", "members", "download", "upload", "delete"},
    "project_admin": {"view", "members", "download", "upload", "delete"},
}


@pytest.mark.parametrize("role", ROLE_IDS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_role_may_do_what_its_permissions_say(client, store, acme, admin, project, role,
                                                   action):  # fmt: skip
    made = upload(client, admin, project, b"y" * 100).get_json()
    headers = member(client, store, acme, admin, project, role)
    method, template, allowed = ACTIONS[action]
    url = V1 + template.format(p=project, f=made["id"], v=made["versions"][0]["id"])
    kwargs = {"data": b"z", "content_type": "application/octet-stream"} if method == "post" else {}
    answer = getattr(client, method)(url, headers=headers, **kwargs)
    expected = allowed if action in ALLOWED[role] else 403
    assert answer.status_code == expected, answer.get_json()


def test_managing_members_and_purging_need_their_permissions(client, store, acme, admin, project):
    editor = member(client, store, acme, admin, project, "file_editor")
    email = client.get(f"{V1}/accounts/me", headers=editor).get_json()["email"]
    body = {"email": email, "role": "project_viewer"}
    assert client.put(f"{V1}/projects/{project}/members", json=body,
                      headers=editor).status_code == 403  # fmt: skip
    file_id = upload(client, admin, project, b"q").get_json()["id"]
    client.delete(f"{V1}/projects/{project}/files/{file_id}", headers=editor)
    purge = f"{V1}/projects/{project}/files/{file_id}/purge"
    assert client.delete(purge, headers=editor).status_code == 403
    assert client.delete(purge, headers=admin).status_code == 200
    bad = client.put(f"{V1}/projects/{project}/members",
                     json={**body, "role": "owner"}, headers=admin)  # fmt: skip
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "UNKNOWN_ROLE"
    nobody = client.put(f"{V1}/projects/{project}/members",
                        json={**body, "email": "no@one.io"}, headers=admin)  # fmt: skip
    assert nobody.status_code == 404


def test_outsiders_get_401_403_or_404(client, store, acme, admin, project):
    stranger = account_headers(client, store, acme, superuser=False)  # same organization
    other_org = store.identity.organizations.create("Other", time.time())
    outsider = account_headers(client, store, other_org, superuser=False)
    stats = f"{V1}/projects/{project}/stats"
    assert client.get(stats).status_code == 401
    assert client.get(stats, headers=stranger).status_code == 403
    assert client.get(stats, headers=outsider).status_code == 404
    unknown = f"{V1}/projects/00000000-0000-4000-8000-000000000000/stats"
    assert client.get(unknown, headers=admin).status_code == 404


def test_statistics_are_the_workers_documents_per_provider(client, store, queue, admin, project):
    sizes = [100, 250, 4000]
    ids = [upload(client, admin, project, b"s" * size, f"f{n}").get_json()["id"]
           for n, size in enumerate(sizes)]  # fmt: skip
    client.delete(f"{V1}/projects/{project}/files/{ids[2]}", headers=admin)
    assert queue.recounts == [project]  # one recount asked for the whole burst
    before = client.get(f"{V1}/projects/{project}/stats", headers=admin).get_json()
    assert before["stats"]["active_bytes"] == 0  # nothing counted yet: reads serve documents
    recount(store, project)
    answer = client.get(f"{V1}/projects/{project}/stats", headers=admin).get_json()
    assert answer["project"]["name"] == "Exports"
    assert answer["current_user_auth_role"] == {"id": "project_admin", "name": "Project admin"}
    stats = answer["stats"]
    assert (stats["active_file_versions"], stats["active_bytes"]) == (2, 350)
    assert (stats["trash_file_versions"], stats["trash_bytes"]) == (1, 4000)
    (provider,) = stats["by_storage_provider"]
    assert provider["name"] == "Local disk" and provider["active_bytes"] == 350


def test_the_stats_list_is_paginated_and_the_superuser_sees_every_project(
    client, store, acme, admin
):
    for n in range(5):
        client.post(f"{V1}/projects", json={"name": f"P{n}"}, headers=admin)
    root = account_headers(client, store, acme, superuser=True)
    for path in ("/projects/stats", "/project/stats"):
        page = client.get(f"{V1}{path}?page=2&per_page=2", headers=root)
        assert page.status_code == 200
        assert [r["project"]["name"] for r in page.get_json()["results"]] == ["P2", "P3"]
        assert page.headers["X-Total"] == "5" and page.headers["X-Total-Pages"] == "3"
        assert (page.headers["X-Next-Page"], page.headers["X-Prev-Page"]) == ("3", "1")
        role = page.get_json()["results"][0]["current_user_auth_role"]["id"]
        assert role == "organization_superuser"


def test_the_callers_totals_split_administered_and_member_projects(
    client, store, acme, admin, project
):
    other_admin = account_headers(client, store, acme, superuser=False)
    theirs = client.post(f"{V1}/projects", json={"name": "Theirs"}, headers=other_admin)
    theirs_id = theirs.get_json()["id"]
    email = client.get(f"{V1}/accounts/me", headers=admin).get_json()["email"]
    client.put(f"{V1}/projects/{theirs_id}/members",
               json={"email": email, "role": "project_viewer"}, headers=other_admin)  # fmt: skip
    upload(client, admin, project, b"m" * 10)
    upload(client, other_admin, theirs_id, b"t" * 20)
    recount(store, project)
    recount(store, theirs_id)
    totals = client.get(f"{V1}/current_user/stats", headers=admin).get_json()
    assert (totals["administered_projects"], totals["member_projects"]) == (1, 1)
    assert totals["administered"]["active_bytes"] == 10
    assert totals["member"]["active_bytes"] == 20 and totals["total"]["active_bytes"] == 30
    usage = client.get(f"{V1}/current_user/usage", headers=admin).get_json()
    assert usage == {"projects": 2, "file_versions": 2, "bytes": 30}
    document = client.get("/openapi.json").get_json()
    assert document["paths"]["/api/v1/current_user/usage"]["get"]["deprecated"] is True


def test_deleting_a_project_removes_its_bytes(client, settings, admin, project):
    upload(client, admin, project, b"d" * 3000)
    assert client.delete(f"{V1}/projects/{project}", headers=admin).status_code == 200
    assert client.get(f"{V1}/projects/{project}", headers=admin).status_code == 404
    assert list(settings.project_files_dir.glob("*.bin")) == []


def _account_id(client, headers) -> str:
    return client.get(f"{V1}/accounts/me", headers=headers).get_json()["id"]


def test_with_mongodb_a_project_may_keep_its_files_in_gridfs(settings, queue, tmp_path):
    import mongomock

    from api import create_app
    from storage.link_vault import LinkVault
    from storage.mongo_backend import MongoStore
    from tests.api.api_support import TEST_CONFIG
    from tests.support.mongomock_compat import let_gridfs_take_mongomock

    let_gridfs_take_mongomock()
    store = MongoStore(mongomock.MongoClient(), "projects_api", LinkVault(tmp_path / "k", b"s"))
    store.ensure_indexes()
    client = create_app(TEST_CONFIG, settings=settings, store=store, queue=queue).test_client()
    organization = store.identity.organizations.create("Mongo org", time.time())
    headers = account_headers(client, store, organization, superuser=False)
    providers = client.get(f"{V1}/storage-providers", headers=headers).get_json()["results"]
    gridfs = next(p for p in providers if p["name"] == "MongoDB GridFS")
    made = client.post(f"{V1}/projects", json={"name": "G", "default_provider_id": gridfs["id"]},
                       headers=headers).get_json()  # fmt: skip
    data = b"kept in gridfs " * 3000
    stored = upload(client, headers, made["id"], data).get_json()
    version = stored["versions"][0]
    assert version["storage_provider_id"] == gridfs["id"]
    url = f"{V1}/projects/{made['id']}/files/{stored['id']}/versions/{version['id']}/content"
    assert client.get(url, headers=headers).get_data() == data
    assert not list(settings.project_files_dir.glob("*.bin"))  # nothing on the local disk
    database = store.gridfs_database
    assert database["project_files.files"].count_documents({}) == 1
    client.delete(f"{V1}/projects/{made['id']}/files/{stored['id']}", headers=headers)
    client.delete(f"{V1}/projects/{made['id']}/files/{stored['id']}/purge", headers=headers)
    assert database["project_files.chunks"].count_documents({}) == 0


def test_a_projects_package_is_processed_as_a_direct_upload(client, queue, admin, project):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("account/user.json", '{"id": "1"}')
    made = upload(client, admin, project, buffer.getvalue(), "package.zip").get_json()
    url = f"{V1}/projects/{project}/files/{made['id']}/process"
    answer = client.post(url, headers=admin)
    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert queue.submitted == [body["packageId"]]
    assert body["packageId"] == hashlib.md5(body["key"].encode()).hexdigest()
    again = client.post(url, headers=admin).get_json()
    assert again["errorMessageCode"] == "ALREADY_UPLOADED" and again["key"] is None
    not_a_zip = upload(client, admin, project, b"plain text", "notes.txt").get_json()
    refused = client.post(f"{V1}/projects/{project}/files/{not_a_zip['id']}/process",
                          headers=admin)  # fmt: skip
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "NOT_A_ZIP"


def test_an_admin_renames_a_project_and_others_may_not(client, store, acme, admin, project):
    renamed = client.patch(f"{V1}/projects/{project}", json={"name": "Archive"}, headers=admin)
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Archive"
    editor = member(client, store, acme, admin, project, "file_editor")
    refused = client.patch(f"{V1}/projects/{project}", json={"name": "x"}, headers=editor)
    assert refused.status_code == 403
    assert client.delete(f"{V1}/projects/{project}", headers=editor).status_code == 403
    unknown = client.patch(f"{V1}/projects/{project}",
                           json={"default_provider_id": "00000000-0000-4000-8000-000000000000"},
                           headers=admin)  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "UNKNOWN_PROVIDER"


def test_a_member_is_taken_out(client, store, acme, admin, project):
    viewer = member(client, store, acme, admin, project, "project_viewer")
    viewer_id = _account_id(client, viewer)
    assert client.get(f"{V1}/projects/{project}", headers=viewer).status_code == 200
    out = f"{V1}/projects/{project}/members/{viewer_id}"
    assert client.delete(out, headers=viewer).status_code == 403
    assert client.delete(out, headers=admin).status_code == 200
    assert client.delete(out, headers=admin).status_code == 404
    assert client.get(f"{V1}/projects/{project}", headers=viewer).status_code == 403


def test_a_project_upload_is_refused_as_a_direct_upload_is(client, store, settings, admin,
                                                           project):  # fmt: skip
    from tests.api.test_api_http_errors import chunked_post

    url = f"{V1}/projects/{project}/files?name=big.bin"
    chunked = chunked_post(client, url, b"abc", {**admin, "Content-Type": "application/zip"})
    assert chunked.status_code == 411
    declared = {"CONTENT_LENGTH": str(settings.max_upload_bytes + 1)}
    too_large = client.post(url, data=b"x", headers=admin, environ_overrides=declared)
    assert too_large.status_code == 413
    meter = account_meter(_account_id(client, admin))
    limit = settings.daily_bandwidth_limit
    store.bandwidth.charge(meter, utc_day(time.time()), limit, limit, "earlier", time.time())
    made = []
    real_create = store.projects.create_file
    store.projects.create_file = lambda *args: made.append(args) or real_create(*args)
    try:
        over = upload(client, admin, project, b"y" * 10)
    finally:
        del store.projects.create_file
    assert over.status_code == 429 and over.get_json()["error"]["code"] == "BANDWIDTH_EXCEEDED"
    assert made == []  # refused before any record was made
    listed = client.get(f"{V1}/projects/{project}/files", headers=admin).get_json()["results"]
    assert listed == []  # a refused upload leaves no file behind
    assert list(settings.project_files_dir.glob("*.bin")) == []
    assert list(settings.project_files_dir.glob("keys/*")) == []


def test_a_trashed_file_takes_no_new_version_and_versions_are_the_files_own(client, admin, project):
    one = upload(client, admin, project, b"1").get_json()
    two = upload(client, admin, project, b"2").get_json()
    stray = f"{V1}/projects/{project}/files/{one['id']}/versions/{two['versions'][0]['id']}/content"
    answer = client.get(stray, headers=admin)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "UNKNOWN_VERSION"
    client.delete(f"{V1}/projects/{project}/files/{one['id']}", headers=admin)
    newer = client.post(f"{V1}/projects/{project}/files/{one['id']}/versions", data=b"3",
                        headers={**admin, "Content-Type": "application/octet-stream"})  # fmt: skip
    assert newer.status_code == 409 and newer.get_json()["error"]["code"] == "IN_TRASH"
