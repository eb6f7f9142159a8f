"""The project store's contract on both backends: providers one per kind, projects paged by
name, members with validated roles, files with versions numbered 1, 2, ... (also under racing
uploads), the trash (restore, purge, expiry), a project's deletion leaving others whole,
statistics stored by generation, and recounts coalesced per burst of events."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from storage.projects import (
    GRIDFS,
    LOCAL,
    PERMISSIONS,
    ROLES,
    FileVersion,
    Member,
    Project,
    ProjectStats,
    ProviderFigures,
    StoredFile,
    UnknownFile,
    UnknownProject,
    stats_of,
)
from tests.support.thread_races import all_at_once

T0 = 1_764_547_200.0  # 2026-12-01T00:00:00Z
HASH = "ab" * 32


@pytest.fixture
def provider(store):
    return store.projects.ensure_provider("Local disk", "Files under DATA_DIR", LOCAL)


@pytest.fixture
def organization() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def project(store, provider, organization) -> Project:
    return store.projects.create_project(organization, "Alpha", "first", provider.id, T0)


def new_file(store, project: Project, name: str = "a.txt", at: float = T0) -> StoredFile:
    return store.projects.create_file(project.id, name, at)


def upload(store, stored: StoredFile, size: int, provider_id: str, at: float = T0) -> FileVersion:
    return store.projects.add_version(stored.id, size, HASH, provider_id, at)


def test_roles_grant_what_the_issue_lists():
    assert set(ROLES) == {
        "project_admin",
        "project_viewer",
        "file_downloader",
        "file_uploader",
        "file_editor",
    }
    assert ROLES["project_admin"].permissions == PERMISSIONS
    assert ROLES["project_viewer"].permissions == {"view_project"}
    assert ROLES["file_downloader"].permissions == {"view_project", "download_file"}
    assert ROLES["file_uploader"].permissions == {"view_project", "download_file", "upload_file"}
    editor = ROLES["file_editor"].permissions
    assert editor == PERMISSIONS - {"purge_file", "manage_project_permissions"}
    assert all(role.id == key and role.name for key, role in ROLES.items())


def test_a_provider_is_made_once_per_kind_and_keeps_its_id(store):
    local = store.projects.ensure_provider("Local", "disk", LOCAL)
    again = store.projects.ensure_provider("Local disk", "under DATA_DIR", LOCAL)
    gridfs = store.projects.ensure_provider("GridFS", "in MongoDB", GRIDFS)
    assert again.id == local.id and (again.name, again.description) == (
        "Local disk",
        "under DATA_DIR",
    )
    assert uuid.UUID(local.id).version == 4 and gridfs.id != local.id
    assert store.projects.provider(local.id) == again
    assert store.projects.provider("nope") is None
    assert store.projects.providers() == [gridfs, again]


def test_racing_first_calls_make_one_provider(store):
    made = all_at_once(8, lambda: store.projects.ensure_provider("Local", "disk", LOCAL))
    assert len({provider.id for provider in made}) == 1
    assert len(store.projects.providers()) == 1


def test_a_project_is_created_read_updated_and_unknown_ones_are_none(store, project, provider):
    assert store.projects.project(project.id) == project
    assert uuid.UUID(project.id).version == 4
    gridfs = store.projects.ensure_provider("GridFS", "", GRIDFS)
    renamed = store.projects.update_project(project.id, name="Beta")
    assert renamed == Project(project.id, project.organization_id, "Beta", "first", provider.id, T0)
    moved = store.projects.update_project(project.id, description="", default_provider_id=gridfs.id)
    assert moved is not None and (moved.name, moved.description) == ("Beta", "")
    assert moved.default_provider_id == gridfs.id
    assert store.projects.project(project.id) == moved
    assert store.projects.update_project("nope", name="x") is None
    assert store.projects.project("nope") is None


def test_an_organizations_projects_are_paged_by_name_then_id(store, provider, organization):
    names = ["delta", "alpha", "charlie", "alpha", "bravo"]
    made = [store.projects.create_project(organization, n, "", provider.id, T0) for n in names]
    store.projects.create_project(str(uuid.uuid4()), "aaa other", "", provider.id, T0)
    ordered = sorted(made, key=lambda p: (p.name, p.id))
    first = store.projects.projects_of_organization(organization, 0, 2)
    rest = store.projects.projects_of_organization(organization, 2, 10)
    assert (first.items + rest.items, first.total, rest.total) == (ordered, 5, 5)
    assert store.projects.projects_of_organization(organization, 0, 0).items == []
    assert store.projects.projects_of_organization("nobody", 0, 10).total == 0


def test_an_accounts_projects_come_with_its_role_paged_by_name(store, provider, organization):
    account = str(uuid.uuid4())
    made = [store.projects.create_project(organization, n, "", provider.id, T0) for n in "cab"]
    store.projects.create_project(organization, "not a member", "", provider.id, T0)
    for project, role in zip(made, ("project_viewer", "file_editor", "project_admin"), strict=True):
        store.projects.set_member(project.id, account, role, T0)
    page = store.projects.projects_of_account(account, 0, 2)
    assert page.total == 3
    assert [(p.name, role) for p, role in page.items] == [
        ("a", "file_editor"),
        ("b", "project_admin"),
    ]
    assert [p.name for p, _ in store.projects.projects_of_account(account, 2, 5).items] == ["c"]
    assert store.projects.projects_of_account("nobody", 0, 5).total == 0


def test_members_are_added_changed_listed_and_removed(store, project):
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    added = store.projects.set_member(project.id, first, "project_viewer", T0)
    assert added == Member(project.id, first, "project_viewer", T0)
    store.projects.set_member(project.id, second, "file_uploader", T0 + 1)
    changed = store.projects.set_member(project.id, first, "project_admin", T0 + 5)
    assert changed == Member(project.id, first, "project_admin", T0)  # keeps when it was added
    assert store.projects.member(project.id, first) == changed
    assert [m.account_id for m in store.projects.members(project.id)] == [first, second]
    assert store.projects.remove_member(project.id, first) is True
    assert store.projects.remove_member(project.id, first) is False
    assert store.projects.member(project.id, first) is None
    assert [m.account_id for m in store.projects.members(project.id)] == [second]


def test_an_unknown_role_or_project_is_refused(store, project):
    with pytest.raises(ValueError):
        store.projects.set_member(project.id, "someone", "owner", T0)
    with pytest.raises(UnknownProject):
        store.projects.set_member("nope", "someone", "project_viewer", T0)
    assert store.projects.members(project.id) == []


def test_versions_are_numbered_per_file_with_what_was_uploaded(store, project, provider):
    first, second = new_file(store, project, "a"), new_file(store, project, "b")
    assert store.projects.versions(first.id) == []
    v1 = upload(store, first, 10, provider.id, T0 + 1)
    other = upload(store, second, 7, provider.id)
    v2 = store.projects.add_version(first.id, 20, "cd" * 32, provider.id, T0 + 2)
    assert (v1.number, v2.number, other.number) == (1, 2, 1)
    assert v2 == FileVersion(v2.id, first.id, project.id, 2, 20, "cd" * 32, provider.id, T0 + 2)
    assert store.projects.versions(first.id) == [v1, v2]
    assert store.projects.version(v2.id) == v2
    assert store.projects.version("nope") is None
    assert store.projects.file(first.id) == StoredFile(first.id, project.id, "a", T0, None)


def test_no_version_for_an_unknown_or_trashed_file_and_no_file_for_an_unknown_project(
    store, project, provider
):
    stored = new_file(store, project)
    store.projects.trash_file(stored.id, T0)
    for file_id in (stored.id, "nope"):
        with pytest.raises(UnknownFile):
            upload(store, StoredFile(file_id, project.id, "x", T0), 1, provider.id)
    with pytest.raises(UnknownProject):
        store.projects.create_file("nope", "x", T0)
    assert store.projects.versions(stored.id) == []


def test_racing_uploads_of_one_file_get_distinct_numbers(store, project, provider):
    for _round in range(3):
        stored = new_file(store, project)
        made = all_at_once(20, lambda stored=stored: upload(store, stored, 1, provider.id))
        assert sorted(v.number for v in made) == list(range(1, 21))
        assert [v.number for v in store.projects.versions(stored.id)] == list(range(1, 21))


def test_files_are_listed_in_or_out_of_the_trash_oldest_first(store, project):
    made = [new_file(store, project, f"f{n}", T0 + n) for n in range(5)]
    store.projects.trash_file(made[1].id, T0 + 10)
    store.projects.trash_file(made[3].id, T0 + 11)
    alive = store.projects.files(project.id, False, 0, 2)
    assert ([f.id for f in alive.items], alive.total) == ([made[0].id, made[2].id], 3)
    assert [f.id for f in store.projects.files(project.id, False, 2, 2).items] == [made[4].id]
    trashed = store.projects.files(project.id, True, 0, 10)
    assert [(f.id, f.trashed_at) for f in trashed.items] == [
        (made[1].id, T0 + 10),
        (made[3].id, T0 + 11),
    ]
    assert store.projects.files(project.id, True, 0, 0) == type(trashed)([], 2)


def test_trash_and_restore_move_the_file_and_every_version(store, project, provider):
    stored = new_file(store, project)
    versions = [upload(store, stored, size, provider.id) for size in (1, 2, 3)]
    assert store.projects.trash_file(stored.id, T0 + 9) is True
    assert store.projects.trash_file(stored.id, T0 + 10) is False  # already there
    assert store.projects.file(stored.id).trashed_at == T0 + 9
    assert {v.trashed_at for v in store.projects.versions(stored.id)} == {T0 + 9}
    assert store.projects.restore_file(stored.id) is True
    assert store.projects.restore_file(stored.id) is False
    assert store.projects.file(stored.id).trashed_at is None
    assert store.projects.versions(stored.id) == versions
    assert store.projects.trash_file("nope", T0) is False
    assert store.projects.restore_file("nope") is False


def test_only_a_trashed_file_is_purged_and_its_versions_come_back(store, project, provider):
    stored, kept = new_file(store, project), new_file(store, project)
    versions = [upload(store, stored, size, provider.id) for size in (5, 6)]
    kept_version = upload(store, kept, 9, provider.id)
    assert store.projects.purge_file(stored.id) == []  # not in the trash
    store.projects.trash_file(stored.id, T0 + 1)
    store.projects.trash_file(kept.id, T0 + 1)
    purged = store.projects.purge_file(stored.id)
    assert [(v.id, v.size, v.trashed_at) for v in purged] == [
        (v.id, v.size, T0 + 1) for v in versions
    ]
    assert store.projects.file(stored.id) is None and store.projects.versions(stored.id) == []
    assert store.projects.version(versions[0].id) is None
    assert store.projects.purge_file(stored.id) == []
    assert store.projects.versions(kept.id)[0].id == kept_version.id


def test_a_trashed_file_with_no_version_is_purged_too(store, project):
    empty = new_file(store, project)
    store.projects.trash_file(empty.id, T0)
    assert store.projects.purge_file(empty.id) == []
    assert store.projects.file(empty.id) is None


def test_expired_trash_is_the_oldest_trashed_files_before_the_limit(store, project):
    made = [new_file(store, project, f"f{n}") for n in range(5)]
    for n, at in enumerate((T0 + 30, T0 + 10, T0 + 20, T0 + 50)):
        store.projects.trash_file(made[n].id, at)
    expired = store.projects.expired_trash(T0 + 50, 10)
    assert [f.id for f in expired] == [made[1].id, made[2].id, made[0].id]
    assert [f.id for f in store.projects.expired_trash(T0 + 50, 2)] == [made[1].id, made[2].id]
    assert store.projects.expired_trash(T0 + 10, 10) == []


def fill(store, project: Project, provider_id: str) -> list[FileVersion]:
    """A member, files and versions, one file trashed, statistics and recount state."""
    store.projects.set_member(project.id, "someone", "project_admin", T0)
    files = [new_file(store, project), new_file(store, project)]
    versions = [upload(store, stored, 3, provider_id) for stored in files * 2]
    store.projects.trash_file(files[1].id, T0)
    store.projects.want_recount(project.id, T0)
    store.projects.put_stats(store.projects.recount(project.id))
    return versions


def test_deleting_a_project_removes_everything_of_it_and_nothing_else(
    store, project, provider, organization
):
    other = store.projects.create_project(organization, "Other", "", provider.id, T0)
    doomed, kept = fill(store, project, provider.id), fill(store, other, provider.id)
    assert {v.id for v in store.projects.versions_of_project(project.id)} == {v.id for v in doomed}
    assert store.projects.delete_project(project.id) is True
    assert store.projects.delete_project(project.id) is False
    assert store.projects.project(project.id) is None
    assert store.projects.versions_of_project(project.id) == []
    assert store.projects.members(project.id) == []
    assert store.projects.files(project.id, False, 0, 9).total == 0
    assert store.projects.files(project.id, True, 0, 9).total == 0
    assert store.projects.stats(project.id) is None
    assert store.projects.start_recount(project.id) == 0
    assert store.projects.projects_of_account("someone", 0, 9).items == [(other, "project_admin")]
    assert {v.id for v in store.projects.versions_of_project(other.id)} == {v.id for v in kept}
    assert store.projects.stats(other.id) is not None
    assert store.projects.start_recount(other.id) == 1


def test_recount_sums_active_and_trashed_versions_per_provider(store, project, provider):
    gridfs = store.projects.ensure_provider("GridFS", "", GRIDFS)
    assert store.projects.recount(project.id) == ProjectStats(project.id, 0, 0, 0, 0, ())
    a, b = new_file(store, project), new_file(store, project)
    upload(store, a, 10, provider.id)
    upload(store, a, 20, gridfs.id)
    upload(store, b, 5, provider.id)
    upload(store, b, 7, provider.id)
    store.projects.trash_file(b.id, T0)
    expected = stats_of(
        project.id,
        [ProviderFigures(provider.id, 1, 10, 2, 12), ProviderFigures(gridfs.id, 1, 20, 0, 0)],
    )
    assert store.projects.recount(project.id) == expected
    assert (expected.active_file_versions, expected.active_bytes) == (2, 30)
    assert (expected.trash_file_versions, expected.trash_bytes) == (2, 12)


def test_stats_are_stored_unless_a_newer_generation_is(store, project, provider):
    stored = new_file(store, project)
    upload(store, stored, 10, provider.id)
    counted = store.projects.recount(project.id)
    newer = replace(counted, generation=5, computed_at=T0 + 5)
    older = replace(counted, active_bytes=999, generation=4)
    assert store.projects.stats(project.id) is None
    assert store.projects.put_stats(newer) is True
    assert store.projects.put_stats(older) is False
    assert store.projects.stats(project.id) == newer
    again = replace(newer, computed_at=T0 + 6)
    assert store.projects.put_stats(again) is True  # the same generation, recounted again
    assert store.projects.stats(project.id) == again


def test_stats_many_returns_the_stored_documents_of_those_asked(
    store, project, provider, organization
):
    others = [store.projects.create_project(organization, n, "", provider.id, T0) for n in "xy"]
    for n, each in enumerate([project, *others]):
        upload(store, new_file(store, each), n + 1, provider.id)
    documents = {
        each.id: replace(store.projects.recount(each.id), generation=1)
        for each in (project, others[0])
    }
    for document in documents.values():
        store.projects.put_stats(document)
    asked = [project.id, others[0].id, others[1].id, "nope"]
    assert store.projects.stats_many(asked) == documents
    assert store.projects.stats_many([]) == {}


def test_summed_stats_add_up_the_stored_documents_per_provider(
    store, project, provider, organization
):
    second = store.projects.ensure_provider("Grid", "", "gridfs")
    others = [store.projects.create_project(organization, n, "", provider.id, T0) for n in "xyz"]
    for n, each in enumerate([project, *others]):
        upload(store, new_file(store, each), 10 * (n + 1), provider.id)
        if n % 2:
            kept = new_file(store, each)
            upload(store, kept, 7, second.id)
            store.projects.trash_file(kept.id, T0)
    for each in [project, *others[:2]]:  # the last one's figures were never computed
        store.projects.put_stats(replace(store.projects.recount(each.id), generation=1))
    asked = [project.id, others[0].id, others[1].id, others[2].id, "nope"]
    summed = store.projects.summed_stats(asked)
    documents = store.projects.stats_many(asked).values()
    for name in ("active_file_versions", "active_bytes", "trash_file_versions", "trash_bytes"):
        assert getattr(summed, name) == sum(getattr(d, name) for d in documents)
    assert (summed.active_bytes, summed.trash_bytes) == (60, 7)
    by_provider = {
        f.provider_id: (f.active_bytes, f.trash_file_versions) for f in summed.by_provider
    }
    assert by_provider == {provider.id: (60, 0), second.id: (0, 1)}
    assert store.projects.summed_stats([]).active_file_versions == 0


def test_a_burst_of_events_asks_for_one_recount_until_it_finishes(store, project):
    answers = [store.projects.want_recount(project.id, T0 + n) for n in range(1_000)]
    assert answers.count(True) == 1 and answers[0] is True
    generation = store.projects.start_recount(project.id)
    assert generation == 1_000
    assert store.projects.finish_recount(project.id, generation) is False
    assert store.projects.want_recount(project.id, T0) is True  # idle again: a new task
    assert store.projects.want_recount(project.id, T0) is False


def test_events_during_a_recount_make_the_same_task_recount_again(store, project):
    store.projects.want_recount(project.id, T0)
    generation = store.projects.start_recount(project.id)
    assert store.projects.want_recount(project.id, T0) is False  # the task is still running
    assert store.projects.finish_recount(project.id, generation) is True
    assert store.projects.want_recount(project.id, T0) is False  # and still pending
    generation = store.projects.start_recount(project.id)
    assert generation == 3
    assert store.projects.finish_recount(project.id, generation) is False
    assert store.projects.start_recount("unknown") == 0
    assert store.projects.finish_recount("unknown", 0) is False


def test_pending_recounts_are_those_pending_since_before_oldest_first(store):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for project_id, at in zip(ids, (T0 + 20, T0 + 10, T0 + 30), strict=True):
        store.projects.want_recount(project_id, at)
        store.projects.want_recount(project_id, T0 + 100)  # a later event: pending since `at`
    store.projects.want_recount(ids[2], T0 + 5)  # an earlier one: pending since then
    assert store.projects.pending_recounts(T0 + 30, 10) == [ids[2], ids[1], ids[0]]
    assert store.projects.pending_recounts(T0 + 10, 10) == [ids[2]]
    assert store.projects.pending_recounts(T0 + 99, 0) == []
    store.projects.finish_recount(ids[1], store.projects.start_recount(ids[1]))
    assert store.projects.pending_recounts(T0 + 99, 10) == [ids[2], ids[0]]
    store.projects.want_recount(ids[1], T0 + 200)  # pending again: since this event
    assert ids[1] not in store.projects.pending_recounts(T0 + 200, 10)
    assert store.projects.pending_recounts(T0 + 201, 10)[-1] == ids[1]


class RecountTask:
    """What the lead's recount task does, one step at a time: recount, store the figures
    stamped with the generation started from, then finish (or go round again)."""

    def __init__(self, store, project_id: str):
        self.store, self.project_id = store, project_id
        self.generation: int | None = None  # set while a recount is under way
        self.recounts = 0

    def start(self) -> None:
        self.generation = self.store.projects.start_recount(self.project_id)
        self.recounts += 1

    def finish(self, at: float) -> None:
        """Store this recount's figures; start another when events came in meanwhile."""
        assert self.generation is not None
        counted = self.store.projects.recount(self.project_id)
        stamped = replace(counted, generation=self.generation, computed_at=at)
        self.store.projects.put_stats(stamped)
        if self.store.projects.finish_recount(self.project_id, self.generation):
            self.start()
        else:
            self.generation = None


def test_a_stream_of_1000_events_is_one_task_and_a_handful_of_recounts(store, project):
    """Events keep coming while the task recounts: it goes round again instead of a new task
    being queued, and the figures stored last are those of every event."""
    task, enqueued, queued = RecountTask(store, project.id), 0, False
    for event in range(1, 1_001):
        if store.projects.want_recount(project.id, T0 + event):
            enqueued, queued = enqueued + 1, True
        if event % 100 == 50 and queued and task.generation is None:  # a worker takes it
            queued = False
            task.start()
        elif event % 100 == 60 and task.generation is not None:  # its figures are stored
            task.finish(T0 + event)
    while task.generation is not None:  # the events stopped: the last round ends the task
        task.finish(T0 + 2_000)
    assert (enqueued, task.recounts) == (1, 12)  # one round per 100 events, one after them
    stored = store.projects.stats(project.id)
    assert stored is not None and stored.generation == 1_000
    assert store.projects.want_recount(project.id, T0) is True  # idle: the next event queues


def test_racing_events_enqueue_one_recount(store, project):
    answers = all_at_once(40, lambda: store.projects.want_recount(project.id, T0))
    assert answers.count(True) == 1
    assert store.projects.start_recount(project.id) == 40
