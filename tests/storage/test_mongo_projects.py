"""MongoDB-only guarantees of the project store (on mongomock): what a crash between a file's
update and its versions' leaves is finished by the next call, and the indexes hold."""

from __future__ import annotations

import mongomock
import pytest

from storage.mongo_backend import MongoStore
from storage.projects import LOCAL

T0 = 1_764_547_200.0


@pytest.fixture
def mongo_store():
    store = MongoStore(mongomock.MongoClient(), "test_storage_projects")
    store.ensure_indexes()
    return store


@pytest.fixture
def file_with_versions(mongo_store):
    projects = mongo_store.projects
    provider = projects.ensure_provider("Local", "", LOCAL)
    project = projects.create_project("org", "p", "", provider.id, T0)
    stored = projects.create_file(project.id, "f", T0)
    for size in (1, 2):
        projects.add_version(stored.id, size, "00" * 32, provider.id, T0)
    return stored


def test_a_trash_cut_short_is_finished_by_the_next_trash(mongo_store, file_with_versions):
    files = mongo_store._db["project_files"]
    files.update_one({"_id": file_with_versions.id}, {"$set": {"trashed_at": T0}})  # then a crash
    assert mongo_store.projects.trash_file(file_with_versions.id, T0 + 1) is False
    versions = mongo_store.projects.versions(file_with_versions.id)
    assert [version.trashed_at for version in versions] == [T0, T0]


def test_a_restore_cut_short_is_finished_by_the_next_restore(mongo_store, file_with_versions):
    mongo_store.projects.trash_file(file_with_versions.id, T0)
    files = mongo_store._db["project_files"]
    files.update_one({"_id": file_with_versions.id}, {"$set": {"trashed_at": None}})
    assert mongo_store.projects.restore_file(file_with_versions.id) is False
    versions = mongo_store.projects.versions(file_with_versions.id)
    assert [version.trashed_at for version in versions] == [None, None]


def test_version_numbers_are_unique_per_file(mongo_store, file_with_versions):
    index = [("file_id", 1), ("number", 1)]
    infos = mongo_store._db["file_versions"].index_information().values()
    assert any(info["key"] == index and info.get("unique") for info in infos)
