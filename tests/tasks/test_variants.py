"""Every package variant and shape through the worker's code path (parse, aggregate, seal,
store), each figure checked against the sample generator's own counts, made while writing, not by
parsing. Each package is read three ways: the C loop, the Python fast loop and the exact reader."""

import zipfile

import pytest

import parsers.activity.exact as exact
import parsers.activity.scan as scan
import parsers.reading as reading
from launchers.local import process_local_zip, random_discord_link
from parsers.limits import ParseLimits
from samples import SampleSpec, generate_package
from storage.crypto import PackageKey
from storage.links import parse_package_link

SMALL = {"messages": 700, "events": 1200}
VARIANTS = {
    "A": SampleSpec(layout="A", seed=1, **SMALL),
    "B": SampleSpec(layout="B", seed=2, **SMALL),
    "C": SampleSpec(layout="C", seed=3, **SMALL),
    "D-en": SampleSpec(layout="D", seed=4, **SMALL),
    "D-fr": SampleSpec(layout="D", language="fr", seed=5, **SMALL),
    "D-de": SampleSpec(layout="D", language="de", seed=6, **SMALL),
    "D-es": SampleSpec(layout="D", language="es", seed=7, **SMALL),
    "D-pt": SampleSpec(layout="D", language="pt", seed=8, **SMALL),
    "wrapped-macosx": SampleSpec(layout="D", wrap=True, macosx=True, seed=9, **SMALL),
    "no-dir-entries": SampleSpec(layout="B", directory_entries=False, seed=10, **SMALL),
    "zip64": SampleSpec(layout="C", zip64=True, seed=11, **SMALL),
    "3-shards": SampleSpec(layout="D", shards=3, seed=13, **SMALL),
    "no-account": SampleSpec(layout="D", partial=frozenset({"account"}), seed=14, **SMALL),
    "no-messages": SampleSpec(layout="C", partial=frozenset({"messages"}), seed=15, **SMALL),
    "no-servers": SampleSpec(layout="A", partial=frozenset({"servers"}), seed=16, **SMALL),
    "no-activity": SampleSpec(layout="D", partial=frozenset({"activity"}), seed=17, **SMALL),
    "messages-only": SampleSpec(
        layout="B", partial=frozenset({"account", "servers", "activity"}), seed=18, **SMALL
    ),
}
ALL_FALLBACKS = frozenset({"modeling", "reporting", "tns"})
# The shapes of the benchmark (bench/run.py), small: a few thousand lines each.
SHAPES = {
    "voice-heavy": SampleSpec(
        voice_channels=300, voice_weight=40, seed=21, messages=700, events=3000
    ),
    "many-entities": SampleSpec(layout="C", channels=2000, dms=250, seed=22, messages=3000),
    "long-history": SampleSpec(layout="B", days=8 * 365, seed=23, messages=2000, events=3000),
    "many-shards": SampleSpec(
        shards=12, fallback_folders=ALL_FALLBACKS, fallback_shards=3, fallback_share=0.2,
        seed=24, messages=700, events=3000,
    ),
    "key-order-per-line": SampleSpec(key_order="per_line", seed=25, messages=700, events=4000),
    "key-order-per-shard": SampleSpec(
        layout="A", key_order="per_shard", shards=9, fallback_folders=ALL_FALLBACKS,
        fallback_shards=2, fallback_share=0.1, seed=26, messages=700, events=4000,
    ),
    "key-order-voice": SampleSpec(
        key_order="per_line", voice_channels=120, voice_weight=40, seed=27, messages=500,
        events=3000,
    ),
}  # fmt: skip
PACKAGES = {**VARIANTS, **SHAPES}
LOOPS = ("native", "python", "exact")


def force_loop(patch: pytest.MonkeyPatch, loop: str) -> None:
    """Make the worker read activity shards with one of the three reading paths."""
    if loop == "native":
        assert scan._linescan is not None, "parsers/activity/_linescan.c is not built: make venv"
    elif loop == "python":
        patch.setattr(scan, "_linescan", None)
    else:
        patch.setattr(reading, "read_activity_fast", exact.read_activity)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """Each package generated once for the three loops: name -> (zip path, truth)."""
    made = {}

    def get(name):
        if name not in made:
            path = tmp_path_factory.mktemp(name) / "package.zip"
            made[name] = path, generate_package(path, PACKAGES[name])
        return made[name]

    return get


def activity_bytes(path) -> int:
    """Inflated size of the activity shards of a zip."""
    with zipfile.ZipFile(path) as archive:
        return sum(i.file_size for i in archive.infolist() if "/events-" in i.filename)


@pytest.fixture(
    params=[(name, loop) for name in PACKAGES for loop in LOOPS],
    ids=lambda param: f"{param[0]}-{param[1]}",
    scope="module",
)
def processed(request, packages, tmp_path_factory):
    from settings import Settings
    from storage import open_store

    name, loop = request.param
    path, truth = packages(name)
    # Smaller than this, the shards are read in this process, where the loop is forced.
    assert activity_bytes(path) < ParseLimits().activity_process_min_bytes
    root = tmp_path_factory.mktemp(f"{name}-{loop}")
    settings = Settings(data_dir=root / "data", secret_key="variants")
    store = open_store(settings)
    link = random_discord_link()
    with pytest.MonkeyPatch.context() as patch:
        force_loop(patch, loop)
        summary = process_local_zip(path, link, settings, store)
    assert summary["result"] == "PROCESSED", summary
    parsed = parse_package_link(link)
    key = PackageKey(parsed.package_id, parsed.key_material, settings.server_secret())
    generation = store.packages.get(parsed.package_id).generation

    def view(name):
        blob = store.statistics.get(parsed.package_id, generation, key.view_id(name))
        return None if blob is None else key.open(name, blob)

    yield PACKAGES[name], truth, view
    store.close()


def test_about_names_layout_language_and_missing_sections(processed):
    spec, truth, view = processed
    about = view("about")
    assert about["package_date"] == truth.package_date
    assert about["is_partial"] == bool(truth.missing_sections)
    assert sorted(about["missing_sections"]) == sorted(truth.missing_sections)
    if "messages" not in spec.partial:
        assert about["layout"] == spec.layout
        assert about["folder_language"] == (spec.language if spec.layout == "D" else "en")
    if "activity" not in spec.partial:
        assert about["activity_sources"] == truth.event_sources


def test_overview_counts_equal_what_was_written(processed):
    _, truth, view = processed
    overview = view("overview")
    assert overview["messages"] == truth.messages
    assert overview["channels"] == truth.channels_with_messages
    assert overview["servers"] == truth.guilds_with_messages
    assert overview["friends"] == truth.friends and overview["blocked"] == truth.blocked
    assert overview["payments"]["by_currency"] == truth.payments_by_currency
    assert overview["payments"]["virtual"] == truth.payments_virtual
    assert overview["reactions"] == sum(truth.reactions_by_emoji.values())
    assert overview["sessions"]["count"] == truth.sessions
    assert overview["sessions"]["minutes"] == round(truth.session_minutes, 1)
    assert overview["voice_minutes"] == round(truth.voice_minutes, 1)


def test_lifetime_event_counts_equal_the_chosen_source(processed):
    _, truth, view = processed
    events = view("stats:lifetime")["events"]
    counted = {k: v for k, v in truth.events.items() if v}
    assert {k: events.get(k, 0) for k in counted} == counted


def test_messages_per_day_match(processed):
    _, truth, view = processed
    stats = view("stats:lifetime")  # stored zero-filled, as the API serves it
    if truth.messages == 0:
        assert stats["messages"]["total"] == 0
        return
    from datetime import date, timedelta

    start = date.fromisoformat(stats["start"])
    per_day = {
        (start + timedelta(days=i)).isoformat(): n
        for i, n in enumerate(stats["messages"]["per_day"])
        if n
    }
    assert per_day == truth.messages_per_day


def test_top_lists_hold_every_channel_guild_and_person(processed):
    _, truth, view = processed
    channels = view("top:channels:lifetime")["entries"]
    assert {e["channel_id"]: e["messages"] for e in channels if e["messages"]} == (
        truth.messages_per_channel
    )
    guilds = view("top:guilds:lifetime")["entries"]
    assert {e["guild_id"]: e["messages"] for e in guilds if e["messages"]} == (
        truth.messages_per_guild
    )
    people = {e["user_id"]: e["messages"] for e in view("top:dms:lifetime")["entries"]}
    expected = {k: v for k, v in truth.messages_per_dm_person.items() if k != "Deleted User"}
    assert {k: v for k, v in people.items() if not k.startswith("deleted-") and v} == expected
    deleted = sum(v for k, v in people.items() if k.startswith("deleted-"))
    assert deleted == truth.messages_per_dm_person.get("Deleted User", 0)


def test_every_shard_and_line_of_every_folder_is_read(processed):
    spec, truth, view = processed
    read = view("about")["read"]
    folders = len(truth.activity_lines)
    shards = spec.shards + spec.fallback_shards * (folders - 1) if folders else 0
    assert read["files"]["activity"] == shards
    assert read["lines"]["activity"] == sum(truth.activity_lines.values())
    assert read["skipped"]["by_reason"].get("no_event_type", 0) == truth.lines_without_event_type


def test_voice_minutes_per_channel_match(processed):
    _, truth, view = processed
    channels = view("top:channels:lifetime")["entries"]
    voice = {e["channel_id"]: e["voice_minutes"] for e in channels if e["voice_minutes"]}
    assert voice.keys() == truth.voice_minutes_per_channel.keys()
    # Both sides round to 0.1 min: a sum of float minutes may land on the other side of a .05.
    off = {
        c: (m, voice[c])
        for c, m in truth.voice_minutes_per_channel.items()
        if abs(m - voice[c]) > 0.1 + 1e-9
    }
    assert not off, f"channel: (written, read) minutes {off}"
