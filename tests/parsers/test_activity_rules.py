"""The activity rules table: every rule gives the same tally on the C loop, the Python loop and
the exact reader, the fast paths take its usual lines, and a change to the table changes all."""

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import parsers.activity.rules as rules
import parsers.activity.scan as scan
from parsers.activity.day_counts import DayCounts, fast_plans, native_plans
from parsers.activity.pick import PAIRINGS
from parsers.activity.rules import (
    INSTANT,
    RULES,
    TEXT,
    Field,
    Kind,
    SourceTally,
    counted,
    listed,
    rulebook,
    text_field,
)
from tests.parsers.test_activity_paths import on_every_path, tally_with

STAMP = "2024-03-02T13:00:00.250Z"
TRACK = "2024-03-02T12:59:59.500Z"
STAMPS = {
    "quoted": f'"\\"{STAMP}\\""',
    "unquoted": f'"{STAMP}"',
    "no fraction": '"\\"2024-03-02T13:00:00Z\\""',
}
# Field values as JSON text ("": absent). Lines whose values are all of FAST and whose
# timestamp is quoted stay on the fast paths of both loops; the others may not.
COMMON = {"absent": "", "null": "null", "null text": '"null"', "empty": '""', "padded": '" x "'}
TEXTS = {**COMMON, "digits": '"1709384399500"', "skipped": None}
INSTANTS = {
    **COMMON,
    "unquoted": f'"{TRACK}"',
    "millis": '"1709384399500"',
    "before Discord": '"\\"2001-03-02T12:59:59.500Z\\""',
    "no such day": '"\\"2023-02-29T12:59:59.500Z\\""',
}
SLOW = {"number": "7", "escaped": '"a\\"b"', "no fraction": '"\\"2024-03-02T12:59:59Z\\""'}
FAST = {"plain", *TEXTS, *INSTANTS}
FILLER = '"os_version":"14","user_id":"870064851762610817","day":"3"'


def values_of(spec: Field) -> dict[str, str | None]:
    """The variants of one field's value as JSON text ("": absent, None: none such)."""
    variants = {**(INSTANTS if spec.kind is INSTANT else TEXTS), **SLOW}
    skipped = [value for value in spec.skip if value is not None]
    variants["skipped"] = f'"{skipped[0]}"' if skipped else None
    return variants


def line_of(rule, fields: dict[str, str], stamp: str, order: str) -> bytes:
    """One event line with its keys in one of three orders."""
    pairs = [f'"{name}":{value}' for name, value in fields.items() if value != ""]
    named = {"event_type": f'"event_type":"{rule.event_type}"', "timestamp": f'"timestamp":{stamp}'}
    if "client_track_timestamp" not in fields:
        pairs.append(f'"client_track_timestamp":"\\"{TRACK}\\""')
    if order == "usual":
        keys = [named["event_type"], *pairs, named["timestamp"], FILLER]
    elif order == "timestamp first":
        keys = [named["timestamp"], *reversed(pairs), named["event_type"], FILLER]
    else:
        keys = [FILLER, *pairs, named["timestamp"], named["event_type"]]
    return ("{" + ",".join(keys) + "}").encode()


def lines_of(rule) -> tuple[list[bytes], list[bytes]]:
    """(lines the fast paths must take, all lines) of a rule: each field varied in turn."""
    usual = {spec.name: f'"{spec.name}-1"' for spec in rule.fields}
    usual.update({spec.name: f'"\\"{TRACK}\\""' for spec in rule.fields if spec.kind is INSTANT})
    cases = [("plain", usual)]
    for spec in rule.fields:
        for variant, value in values_of(spec).items():
            if value is not None:
                cases.append((variant, {**usual, spec.name: value}))
    fast, every = [], []
    orders = ("usual", "timestamp first", "event_type last")
    for (variant, fields), (form, stamp), order in itertools.product(cases, STAMPS.items(), orders):
        line = line_of(rule, fields, stamp, order)
        every.append(line)
        if variant in FAST and form == "quoted":
            fast.append(line)
    return fast, every


def spied(monkeypatch) -> list[str]:
    """Calls of the Python loop's line counter and of the exact paths, by name."""
    calls: list[str] = []
    for owner, name in ((scan, "read_line"), (scan, "count_event"), (DayCounts, "add")):
        original = getattr(owner, name)

        def spy(*args, _original=original, _name=name):
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(owner, name, spy)
    return calls


@pytest.mark.parametrize("rule", RULES, ids=[rule.event_type for rule in RULES])
def test_every_rule_counts_alike_on_the_three_paths(rule):
    _fast, every = lines_of(rule)
    tally, skipped, lines = on_every_path(b"\n".join(every) + b"\n")
    assert lines == len(every) and not skipped
    assert sum(tally["events"][rule.event_type].values()) == len(every)
    assert all(tally[into.target] for into in rule.into)


@pytest.mark.parametrize("rule", RULES, ids=[rule.event_type for rule in RULES])
def test_the_fast_paths_take_every_usual_line_of_every_rule(monkeypatch, rule):
    fast, _every = lines_of(rule)
    data = b"\n".join(fast) + b"\n"
    calls = spied(monkeypatch)
    tally_with("native", data)
    assert calls == [], "the C loop left lines to Python"
    tally_with("python", data)
    assert set(calls) == {"add"}, "the Python loop sent lines to the exact path"


def test_the_table_is_consistent():
    book = rulebook()
    assert len(book.by_type) == len(RULES)
    empty = SourceTally()
    for rule in RULES:
        for into in rule.into:
            target = getattr(empty, into.target)
            assert isinstance(target, list if into.listed else dict)
            if into.listed:
                assert into.target in PAIRINGS
            names = {"day", "seconds", *(spec.name for spec in rule.fields)}
            assert {part for part in into.entry if isinstance(part, str)} <= names
    assert set(native_plans(book)) == set(fast_plans(book)) == set(book.by_type)


def with_rule(monkeypatch, event_type: str, **changes) -> None:
    """Replace one rule of the table for the test."""
    table = [replace(r, **changes) if r.event_type == event_type else r for r in RULES]
    monkeypatch.setattr(rules, "RULES", tuple(table))


def event_line(name: str, *pairs: str, stamp: str = STAMP) -> bytes:
    body = "".join(f",{pair}" for pair in pairs)
    return f'{{"event_type":"{name}"{body},"timestamp":"\\"{stamp}\\""}}'.encode()


APP_OPENS = b"\n".join(
    event_line("app_opened", '"os":"Android"', f'"browser":"{browser}"')
    for browser in ("Discord Android", "Discord iOS", "Discord Android")
)
DAY = 19784  # 2024-03-02


def test_changing_the_fields_of_a_rule_changes_every_path(monkeypatch):
    assert on_every_path(APP_OPENS)[0]["app_opens"] == {(DAY, "Android"): 3}
    browser = Field("browser", default="unknown")
    into = (counted("app_opens", "day", "browser"),)
    with_rule(monkeypatch, "app_opened", fields=(browser,), into=into)
    tally = on_every_path(APP_OPENS)[0]
    assert tally["app_opens"] == {(DAY, "Discord Android"): 2, (DAY, "Discord iOS"): 1}


def test_changing_what_a_rule_adds_changes_every_path(monkeypatch):
    entries = (listed("sessions", "seconds", True, "os"), counted("app_opens", "day", "os"))
    with_rule(monkeypatch, "session_start", into=entries)
    data = event_line("session_start", '"os":"Linux"') + b"\n" + event_line("session_start")
    tally = on_every_path(data + b"\n")[0]
    assert tally["app_opens"] == {(DAY, "Linux"): 1, (DAY, "unknown"): 1}
    assert [entry[1:] for entry in tally["sessions"]] == [(True, "Linux"), (True, "unknown")]


def test_a_field_the_c_loop_cannot_read_leaves_the_rule_to_python(monkeypatch):
    python_only = Kind("text", text_field, None)
    channel = Field("channel_id", python_only, default="none")
    into = (counted("guilds_joined", "day", "channel_id"),)
    with_rule(monkeypatch, "send_message", fields=(channel,), into=into)
    assert "send_message" not in native_plans(rulebook())
    data = event_line("send_message", '"channel_id":"12"') + b"\n" + event_line("join_call")
    calls = spied(monkeypatch)
    tally = tally_with("native", data + b"\n")[0]
    assert calls == ["add"] and tally["guilds_joined"] == {(DAY, "12"): 1}
    assert on_every_path(data + b"\n")[0] == tally


def test_two_kinds_of_one_name_keep_their_own_values_on_every_path(monkeypatch):
    shouted = Kind("text", lambda value: str(value).upper(), 0)
    into = (counted("guilds_joined", "day", "guild_id"),)
    with_rule(monkeypatch, "send_message", fields=(Field("guild_id", shouted),), into=into)
    data = b"\n".join(
        [
            event_line("guild_joined", '"guild_id":"ab"'),
            event_line("send_message", '"guild_id":"ab"'),
        ]
    )
    tally = on_every_path(data + b"\n")[0]
    assert tally["guilds_joined"] == {(DAY, "ab"): 1, (DAY, "AB"): 1}


def test_a_field_no_fast_path_reads_sends_the_rule_to_the_exact_path(monkeypatch):
    number = Kind("number", lambda value: value, None)
    into = (counted("guilds_joined", "day", "n"),)
    with_rule(monkeypatch, "send_message", fields=(Field("n", number),), into=into)
    assert "send_message" not in fast_plans(rulebook())
    tally = on_every_path(event_line("send_message", '"n":"7"') + b"\n")[0]
    assert tally["guilds_joined"] == {(DAY, "7"): 1}


def test_the_kinds_read_decoded_values_and_raw_texts_alike():
    assert TEXT.read(" x ") == TEXT.read(b" x ".decode()) == "x"
    assert INSTANT.read(f'"{TRACK}"') == INSTANT.read(TRACK)


# Raw values a fast path may hand a field: absent (None), a skipped value, its default, other
# texts (null and empty among them); for an instant also the float the C loop reads, or its text.
def raw_values(spec: Field):
    texts = [*spec.skip, spec.default, "12", "x", "-1", " x ", "null", ""]
    options: list = [None, *(text.encode() for text in texts if text is not None)]
    if spec.kind is INSTANT:
        options += [1709384399.5, TRACK.encode(), b"2024-13-02T12:59:59.500Z", b'"x"']
    return st.sampled_from(options)


def read_raw(kind: Kind, raw):
    """What the exact reader's `Kind.read` gives for a raw value."""
    return raw if raw is None or isinstance(raw, float) else kind.read(raw.decode())


def fold_raw(counts: DayCounts, event_type: str, *head, count: int | None = None) -> None:
    """The raw fold of a pending entry (event type, hour, instant, *raws), or of a counted key
    (event type, day, *raws) and its count."""
    fold, caches = counts.folds[event_type], (counts.known, counts.learn, counts.instant)
    if count is None:
        fold(counts.tally, (event_type, *head), *caches)
    else:
        fold(counts.tally, (event_type, *head), count, *caches)


@pytest.mark.parametrize("rule", RULES, ids=[rule.event_type for rule in RULES])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_each_rules_raw_fold_adds_what_the_generic_fold_adds(rule, data):
    counts, generic = DayCounts(SourceTally(), rulebook()), SourceTally()
    for _ in range(data.draw(st.integers(1, 6))):
        hour = data.draw(st.integers(19_000 * 24, 19_002 * 24 + 23))
        raws = [data.draw(raw_values(spec)) for spec in rule.fields]
        values = [read_raw(spec.kind, raw) for spec, raw in zip(rule.fields, raws, strict=True)]
        if rule.per_event:
            fold_raw(counts, rule.event_type, hour, hour * 3600.0 + 5, *raws)
            rules.fold(generic, rule, hour // 24, hour * 3600.0 + 5, values)
        else:
            count = data.draw(st.integers(1, 3))
            fold_raw(counts, rule.event_type, hour // 24, *raws, count=count)
            rules.fold(generic, rule, hour // 24, None, values, count)
    assert counts.tally == generic


def test_a_raw_fold_follows_a_changed_rule():
    rule = replace(
        rulebook().by_type["app_opened"],
        fields=(Field("os", default="unknown", skip=("skip me",)), Field("at", INSTANT)),
        into=(listed("sessions", "at", 1, "os"), counted("guilds_joined", "os")),
    )
    counts = DayCounts(SourceTally(), rules.Rulebook((rule,)))
    fold_raw(counts, "app_opened", DAY * 24, 5.0, None, None)
    fold_raw(counts, "app_opened", DAY * 24, 6.0, b"Linux", 7.0)
    fold_raw(counts, "app_opened", DAY * 24, 8.0, b"skip me", 9.0)
    assert counts.tally.events == {"app_opened": {DAY: 3}}  # a skipped entry's event still counts
    assert counts.tally.sessions == [(5.0, 1, "unknown"), (7.0, 1, "Linux")]
    assert counts.tally.guilds_joined == {"unknown": 1, "Linux": 1}  # one part: a bare value
    source = counts.folds["app_opened"].source
    assert "if v0 in S0: return" in source and "for " not in source


def test_a_rule_with_entries_and_no_fields_folds_as_the_generic_fold():
    rule = rules.Rule("x", into=(counted("app_opens", "day"), listed("sessions", "seconds", 1)))
    counts, generic = DayCounts(SourceTally(), rules.Rulebook((rule,))), SourceTally()
    fold_raw(counts, "x", DAY * 24, 5.0)
    rules.fold(generic, rule, DAY, 5.0, [])
    assert counts.tally == generic and generic.app_opens == {DAY: 1}


def test_a_target_that_is_no_attribute_name_is_refused():
    for target in ("if", "a.b"):
        with pytest.raises(ValueError):
            rules.Rule("x", into=(counted(target, "day"),))
