"""Layout variants, translated folders, wrappers, __MACOSX, directory entries, partial packages."""

import zipfile

import pytest

from parsers.archive.package_map import activity_shards, map_package
from tests.parsers.zipbuild import DM, FRIEND, GENERAL, GUILD, analyze, event, package, write_zip

ROWS = {GENERAL: [("1", "2024-05-01 12:00:00", "hi")], DM: [("2", "2024-05-01 13:00:00", "")]}


@pytest.mark.parametrize("layout", ["A", "B", "C", "D"])
def test_every_layout_is_read_and_detected(tmp_path, layout):
    _, views = analyze(tmp_path, package(layout, messages=ROWS))
    about = views["about"]
    assert about["layout"] == layout
    assert about["folder_language"] == "en"
    assert about["is_partial"] is False
    assert views["overview"]["messages"] == 2
    assert views["overview"]["people_messaged"] == 1
    assert views[f"dm_channel:{DM}"] == {"user_id": FRIEND}


@pytest.mark.parametrize("language", ["fr", "de", "es", "pt"])
def test_translated_layout_d_folders(tmp_path, language):
    _, views = analyze(tmp_path, package("D", language=language, messages=ROWS))
    about = views["about"]
    assert about["layout"] == "D"
    assert about["folder_language"] == language
    assert about["missing_sections"] == []
    assert about["owner"]["username"] == "alice"
    assert views["overview"]["messages"] == 2
    assert views[f"guild:{GUILD}"]["name"] == "Guild"


def test_wrapper_folder_macosx_and_directory_entries(tmp_path):
    files = package("B", wrapper="package-2024/", messages=ROWS)
    files["__MACOSX/package-2024/messages/c1234567890123456789/._channel.json"] = b"\x00\x05junk"
    files["__MACOSX/package-2024/account/._user.json"] = b"\x00\x05junk"
    _, views = analyze(tmp_path, files, directories=True)
    assert views["about"]["layout"] == "B"
    assert views["about"]["read"]["files"]["channels"] == 3
    assert views["overview"]["messages"] == 2
    assert views["about"]["read"]["skipped"]["total"] == 0


@pytest.mark.parametrize(
    ("sections", "missing"),
    [
        (("messages", "servers", "activity"), ["account"]),
        (("account", "servers", "activity"), ["messages"]),
        (("account", "messages", "activity"), ["servers"]),
        (("account", "messages", "servers"), ["activity"]),
        (("account",), ["messages", "servers", "activity"]),
    ],
)
def test_partial_packages(tmp_path, sections, missing):
    files = package("C", messages=ROWS, sections=sections)
    _, views = analyze(tmp_path, files)
    assert views["about"]["is_partial"] is True
    assert views["about"]["missing_sections"] == missing
    assert ("user:100000000000000001" in views) == ("account" in sections)
    if "account" not in sections:
        assert views["about"]["owner"] is None
    assert len(views["stats:l4w"]["messages"]["per_day"]) == views["stats:l4w"]["days"]


def test_account_only_package_has_no_dates(tmp_path):
    analysis, views = analyze(tmp_path, package("C", sections=("account",)))
    assert analysis.package_date is None
    assert views["about"]["package_date"] is None
    assert views["stats:l4w"]["days"] == 0
    assert views["stats:l4w"]["messages"]["per_day"] == []
    assert views["overview"]["friends"] == 1


def test_owner_guessed_without_user_json(tmp_path):
    files = package("C", messages=ROWS, sections=("messages",))
    _, views = analyze(tmp_path, files)
    assert views[f"dm_channel:{DM}"] == {"user_id": FRIEND}


def test_activity_only_package_dates(tmp_path):
    lines = [event("app_opened", "2024-03-10T08:00:00Z", os="Android")]
    analysis, views = analyze(tmp_path, package("C", sections=("activity",), events={"tns": lines}))
    assert views["about"]["package_date"] == "2024-03-10T08:00:00Z"
    assert analysis.package_date.isoformat() == "2024-03-10T08:00:00+00:00"
    assert views["about"]["activity_sources"] == {"app_opened": "tns"}
    assert views["stats:lifetime"]["days"] == 1


def shard_names(shards) -> list[tuple[str, str]]:
    return [(source, info.filename) for source, info in shards]


@pytest.mark.parametrize("layout", ["A", "B", "C", "D", "D-fr", "wrapped", "many sources"])
def test_the_activity_shards_alone_are_the_map_s(tmp_path, layout):
    """`activity_shards` (the activity process's job, found before the rest is mapped) is the
    whole map's `activity`, in the same order, noise and look-alikes left out."""
    base, _, language = layout.partition("-")
    files = package(
        base if base in "ABCD" else "D",
        language=language or "en",
        wrapper="export/" if layout == "wrapped" else "",
        events={source: [] for source in ("tns", "reporting", "analytics", "modeling")},
    )
    activity = next(name for name in files if "/analytics/" in name).rsplit("/analytics/", 1)[0]
    files[f"{activity}/analytics/events-2024-00003-of-00004.json"] = b""
    files[f"{activity}/analytics/events-2024-00001-of-00004.json"] = b""
    files[f"__MACOSX/{activity}/analytics/._events-2024-00000-of-00001.json"] = b"junk"
    files[f"{activity}/analytics/events-notes.txt"] = b"not a shard"
    files[f"{activity}\\modeling\\events-2024-00002-of-00004.json"] = b""  # backslashes
    files[f"old/{activity}/tns/events-2023-00000-of-00001.json"] = b""  # another root
    path = write_zip(tmp_path / "p.zip", files, directories=True)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    expected = map_package(infos).activity
    assert len(expected) == 8
    assert shard_names(activity_shards(infos)) == shard_names(expected)
