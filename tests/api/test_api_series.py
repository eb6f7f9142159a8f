"""Per-day series stored sparse are served zero-filled: every view of packages of several shapes,
byte for byte what the reference blocks (tests/parsers/reference_periods.py) serve."""

from __future__ import annotations

import zlib

import orjson
import pytest

from api.data import narrow_to_period
from api.series import served_period, zero_filled
from parsers.package import analyze_package
from samples import SampleSpec, generate_package
from tests.api.api_support import bearer, new_upn
from tests.parsers.reference_periods import reference_views

PERIODS = ("l4w", "l1m", "ly", "lifetime")
ENTITY_KINDS = ("guild", "dm", "channel")
PACKAGES = {
    "A": SampleSpec(layout="A", messages=1500, events=3000, seed=41, days=400),
    "B-long-history": SampleSpec(layout="B", messages=2000, events=3000, seed=42, days=8 * 365),
    "C-many-entities": SampleSpec(
        layout="C", messages=3000, events=3000, channels=600, dms=80, seed=43, days=3 * 365
    ),
    "D-voice-heavy": SampleSpec(
        messages=1500, events=6000, voice_channels=120, voice_weight=40, seed=44, days=4 * 365
    ),
}


@pytest.fixture(scope="module", params=list(PACKAGES))
def built(request, tmp_path_factory):
    """(stored views, reference views) of one generated package: new and reference blocks."""
    path = tmp_path_factory.mktemp(request.param) / "package.zip"
    generate_package(path, PACKAGES[request.param])
    analysis = analyze_package(path, package_id="0" * 32)
    stored = dict(analysis.views())
    return stored, reference_views(analysis, stored)


def as_stored(document: dict) -> dict:
    """A document as the API reads it back: sealed as JSON, then parsed."""
    return orjson.loads(orjson.dumps(document))


def old_narrow(document: dict, period: str) -> dict:
    """The entity route's narrowing as it was, for documents holding zero-filled series."""
    narrowed = {k: v for k, v in document.items() if k != "periods"}
    return {**narrowed, "period": period, **document["periods"][period]}


def served_documents(name: str, document: dict, narrow) -> list[tuple[str, bytes]]:
    """(route suffix, served JSON) of every route serving this view."""
    kind = name.split(":")[0]
    if kind in ENTITY_KINDS:
        return [(p, orjson.dumps(narrow(as_stored(document), p))) for p in PERIODS]
    return [("", orjson.dumps(document))]  # stats: sent as stored, never expanded


def test_every_view_is_served_as_the_reference_serves_it(built):
    stored, reference = built
    assert list(stored) == list(reference)
    for name, document in stored.items():
        expected = served_documents(name, reference[name], old_narrow)
        assert served_documents(name, document, narrow_to_period) == expected, name


def test_sparse_series_do_not_grow_the_stored_views(built):
    # On a short, dense history gaps compress about as well as zeros (within 1%); on the
    # others the sparse forms are smaller.
    stored, reference = built
    sealed = sum(len(zlib.compress(orjson.dumps(doc), 1)) for doc in stored.values())
    dense = sum(len(zlib.compress(orjson.dumps(doc), 1)) for doc in reference.values())
    assert sealed <= dense * 1.01


def test_the_routes_serve_the_reference_bytes(built, client, packages):
    stored, reference = built
    upn = new_upn()
    package_id = packages.processed(upn, stored)
    routes = [(f"stats/{p}", reference[f"stats:{p}"]) for p in PERIODS]
    for kind in ENTITY_KINDS:
        for name in [name for name in reference if name.startswith(f"{kind}:")][:4]:
            entity = name.split(":", 1)[1]
            if kind == "dm" and not entity.isdigit():  # a deleted user: by a DM channel id
                entity = reference[name]["channel_ids"][0]
            routes += [
                (f"{kind}/{entity}/stats/{p}", old_narrow(reference[name], p)) for p in PERIODS
            ]
    for route, expected in routes:
        response = client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn))
        assert (response.status_code, response.data) == (200, orjson.dumps(expected)), route


def test_a_zero_filled_list_is_served_as_stored():
    series = [0, 3, 0]
    assert zero_filled(series) is series


def test_a_sparse_series_is_zero_filled_with_its_own_zero():
    assert zero_filled({"days": 5, "zero": 0.0, "gaps": [1, 2.5, 2, 0.1]}) == [
        0.0,
        2.5,
        0.0,
        0.0,
        0.1,
    ]
    assert orjson.dumps(zero_filled({"days": 2, "zero": 0, "gaps": []})) == b"[0,0]"
    figures = {
        "days": 2,
        "messages": {"total": 1, "per_day": {"days": 2, "zero": 0, "gaps": [1, 1]}},
    }
    assert served_period(figures) == {"days": 2, "messages": {"total": 1, "per_day": [0, 1]}}
