"""Property-based tests: random bytes and random structurally valid packages through the parsers.

Only the documented error (InvalidPackage) may come out, and aggregates over generated data equal a
simple reference computation done here.
"""

import contextlib
import io
import json
import zipfile
from collections import Counter
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.errors import InvalidPackage
from parsers.package import analyze_package
from tests.parsers.zipbuild import DM, GENERAL, GROUP, event, package, served_views, write_zip

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
EPOCH = datetime(2024, 1, 1)
COUNTED = [
    "app_opened",
    "message_edited",
    "message_deleted",
    "notification_clicked",
    "login_successful",
    "send_message",
    "guild_joined",
]
NOISE = ["send_message_failure", "app_opened_extra", "message_edited_v2", "random_event"]


def analyze_bytes(tmp_path, data: bytes):
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    return analyze_package(path, package_id="p" * 32)


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes_only_ever_give_invalid_package(tmp_path, data):
    with contextlib.suppress(InvalidPackage):
        analyze_bytes(tmp_path, data)


VALID_ZIP = io.BytesIO()
with zipfile.ZipFile(VALID_ZIP, "w", zipfile.ZIP_DEFLATED) as _archive:
    for _name, _value in package(
        "D",
        messages={GENERAL: [("1", "2024-05-01 12:00:00", "hi")]},
        events={"analytics": [event("app_opened", "2024-05-01T10:00:00Z", os="Linux")]},
    ).items():
        _archive.writestr(_name, _value if isinstance(_value, bytes) else json.dumps(_value))


@PROPERTY_SETTINGS
@given(
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8)
)
def test_a_corrupted_valid_zip_only_ever_gives_invalid_package(tmp_path, flips):
    data = bytearray(VALID_ZIP.getvalue())
    for position, value in flips:
        data[position % len(data)] = value
    with contextlib.suppress(InvalidPackage):
        views = dict(analyze_bytes(tmp_path, bytes(data)).views())
        assert views["overview"]["messages"] >= 0


@PROPERTY_SETTINGS
@given(
    member=st.sampled_from(
        [
            "account/user.json",
            f"messages/c{GENERAL}/messages.json",
            f"messages/c{GENERAL}/channel.json",
            "messages/index.json",
            "activity/analytics/events-2024-00000-of-00001.json",
            "servers/index.json",
        ]
    ),
    content=st.binary(max_size=2048),
)
def test_random_member_contents_only_ever_give_invalid_package(tmp_path, member, content):
    files = package("C", messages={GENERAL: [("1", "2024-05-01 12:00:00", "hi")]})
    files[member] = content
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in files.items():
            archive.writestr(name, value if isinstance(value, bytes) else json.dumps(value))
    try:
        views = dict(analyze_bytes(tmp_path, buffer.getvalue()).views())
    except InvalidPackage:
        return
    assert views["overview"]["messages"] >= 0


instants = st.integers(min_value=0, max_value=400 * 86400).map(
    lambda s: EPOCH + timedelta(seconds=s)
)
messages = st.lists(st.tuples(st.sampled_from([GENERAL, DM, GROUP]), instants), max_size=60)
events = st.lists(st.tuples(st.sampled_from(COUNTED + NOISE), instants), max_size=60)


@PROPERTY_SETTINGS
@given(sent=messages, seen=events, layout=st.sampled_from("ABCD"))
def test_aggregates_equal_a_reference_computation(tmp_path, sent, seen, layout):
    rows: dict[str, list] = {}
    for index, (channel, when) in enumerate(sent):
        stamp = when.strftime("%Y-%m-%d %H:%M:%S")
        if layout in "AB":
            stamp += "+00:00"
        rows.setdefault(channel, []).append((str(10**18 + index), stamp, f"m{index}"))
    lines = [
        event(
            kind,
            when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            os="Linux",
            channel_id=GENERAL,
            guild_id="1",
        )
        for kind, when in seen
    ]
    files = package(layout, messages=rows, events={"analytics": lines})
    analysis = analyze_package(write_zip(tmp_path / "p.zip", files), package_id="p" * 32)
    views = served_views(analysis.views())

    lifetime = views["stats:lifetime"]
    assert lifetime["messages"]["total"] == len(sent)
    assert views["overview"]["messages"] == len(sent)
    per_channel = Counter(channel for channel, _ in sent)
    top = {e["channel_id"]: e["messages"] for e in views["top:channels:lifetime"]["entries"]}
    assert {k: v for k, v in top.items() if v} == dict(per_channel)
    expected_events = Counter(kind for kind, _ in seen if kind in COUNTED)
    expected_events.pop("app_opened", None)
    got = {k: v for k, v in lifetime["events"].items() if k in expected_events}
    assert got == dict(expected_events)
    assert lifetime["app_opens"]["total"] == sum(1 for kind, _ in seen if kind == "app_opened")
    if sent:
        per_day = Counter(when.date() for _, when in sent)
        first = min(per_day)
        series = {
            first + timedelta(days=i): n
            for i, n in enumerate(_lifetime_series_from(lifetime, first))
            if n
        }
        assert series == dict(per_day)


def _lifetime_series_from(lifetime: dict, first) -> list[int]:
    """The lifetime per-day series re-based to start at `first` (lifetime may start earlier)."""
    start = datetime.fromisoformat(lifetime["start"]).date()
    return lifetime["messages"]["per_day"][(first - start).days :]
