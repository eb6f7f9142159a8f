"""Layout variants, translated folders, wrappers, __MACOSX, directory entries, partial packages."""

import pytest

from tests.parsers.zipbuild import DM, FRIEND, GENERAL, GUILD, analyze, event, package

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
