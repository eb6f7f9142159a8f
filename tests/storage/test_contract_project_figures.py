"""A project's figures on both backends equal a recount done here from its files and versions,
after any sequence of uploads, new versions, trashing, restoring and purging."""

from __future__ import annotations

import uuid
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.projects import GRIDFS, LOCAL, ProjectStats, ProviderFigures, stats_of

T0 = 1_764_547_200.0
PROJECTS, PROVIDERS = 2, 2

# (step, project index, file index among the project's files, provider index, size)
steps = st.lists(
    st.tuples(
        st.sampled_from(["create", "version", "trash", "restore", "purge"]),
        st.integers(0, PROJECTS - 1),
        st.integers(0, 5),
        st.integers(0, PROVIDERS - 1),
        st.integers(0, 10_000),
    ),
    max_size=40,
)


def figures_from_listings(store, project_id: str) -> ProjectStats:
    """The project's figures counted here, version by version, from what the store lists: a
    version is in the trash when its file is."""
    per_provider: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for trashed in (False, True):
        for stored in store.projects.files(project_id, trashed, 0, 1_000).items:
            for version in store.projects.versions(stored.id):
                counts = per_provider[version.provider_id]
                counts[2 * trashed] += 1
                counts[2 * trashed + 1] += version.size
    return stats_of(project_id, (ProviderFigures(p, *c) for p, c in per_provider.items()))


def versions_share_their_files_trash(store, project_id: str) -> bool:
    listed = [*store.projects.files(project_id, False, 0, 1_000).items]
    listed += store.projects.files(project_id, True, 0, 1_000).items
    return all(
        version.trashed_at == stored.trashed_at
        for stored in listed
        for version in store.projects.versions(stored.id)
    )


def apply(store, step: tuple, projects: list[str], files: list[list[str]], providers: list[str]):
    kind, project, which, provider, size = step
    if kind == "create":
        files[project].append(store.projects.create_file(projects[project], "f", T0).id)
        return
    if not files[project]:
        return
    file_id = files[project][which % len(files[project])]
    if kind == "version" and store.projects.file(file_id).trashed_at is None:
        store.projects.add_version(file_id, size, "00" * 32, providers[provider], T0)
    elif kind == "trash":
        store.projects.trash_file(file_id, T0 + size)
    elif kind == "restore":
        store.projects.restore_file(file_id)
    elif kind == "purge":
        store.projects.purge_file(file_id)  # [] for a file with no version too: ask the store
        if store.projects.file(file_id) is None:
            files[project].remove(file_id)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stream=steps)
def test_any_sequence_of_file_events_leaves_recount_equal_to_a_recount_by_hand(store, stream):
    providers = [
        store.projects.ensure_provider("Local", "", LOCAL).id,
        store.projects.ensure_provider("GridFS", "", GRIDFS).id,
    ]
    organization = str(uuid.uuid4())  # hypothesis reuses the fixture: fresh projects each time
    projects = [
        store.projects.create_project(organization, f"p{n}", "", providers[0], T0).id
        for n in range(PROJECTS)
    ]
    files: list[list[str]] = [[] for _ in projects]
    for step in stream:
        apply(store, step, projects, files, providers)
    for project_id in projects:
        assert store.projects.recount(project_id) == figures_from_listings(store, project_id)
        assert versions_share_their_files_trash(store, project_id)
