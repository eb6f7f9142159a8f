"""The benchmark's packages: the usual medium and heavy ones and the shapes, generated once.

Each zip is cached in bench/cache/ with its truth beside it (`<name>.truth.json`). The truth file
also records a fingerprint of the spec and of the generator's source: when either changes, the
package is generated again (a zip without its truth file, as older runs left them, too).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict

from samples import SampleSpec, generate_package

CACHE = Path(__file__).resolve().parent / "cache"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


class Shape(TypedDict):
    """The SampleSpec fields the medium-based cases share."""

    layout: str
    messages: int
    events: int


MEDIUM: Shape = {"layout": "D", "messages": 150_000, "events": 300_000}
ALL_FALLBACKS = frozenset({"modeling", "reporting", "tns"})


@dataclass(frozen=True)
class Case:
    """One benchmark package and what it stresses."""

    name: str
    spec: SampleSpec
    about: str


CASES = {
    case.name: case
    for case in (
        Case("medium", SampleSpec(seed=3, **MEDIUM), "the usual shape, a common package"),
        Case(
            "heavy",
            SampleSpec(layout="D", messages=675_000, events=1_400_000, channels=2_000, seed=5),
            "the usual shape, a heavy 2022-like export",
        ),
        Case(
            "voice-heavy",
            SampleSpec(voice_channels=400, voice_weight=40, seed=41, **MEDIUM),
            "voice sessions in 400 server voice channels (and DM calls)",
        ),
        Case(
            "many-entities",
            SampleSpec(channels=5_000, dms=500, seed=42, **MEDIUM),
            "5,000 channels, 500 DMs, ~290 servers",
        ),
        Case("long-history", SampleSpec(days=8 * 365, seed=43, **MEDIUM), "8 years of history"),
        Case(
            "many-shards",
            SampleSpec(
                shards=64,
                fallback_folders=ALL_FALLBACKS,
                fallback_shards=16,
                fallback_share=0.15,
                seed=44,
                **MEDIUM,
            ),
            "analytics in 64 shards, modeling, reporting and tns in 16 each",
        ),
        Case(
            "key-order",
            SampleSpec(key_order="per_line", seed=45, **MEDIUM),
            "keys of activity lines in varied order, unknown keys interleaved",
        ),
    )
}


def fingerprint(spec: SampleSpec) -> str:
    """A digest of the spec and of the generator's source code."""
    digest = hashlib.sha256(json.dumps(asdict(spec), sort_keys=True, default=_plain).encode())
    for path in sorted(SAMPLES.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _plain(value: object) -> object:
    return sorted(value) if isinstance(value, frozenset) else str(value)


def cached_package(case: Case) -> tuple[Path, dict]:
    """The case's zip and truth, generated on first use (or when the generator changed)."""
    CACHE.mkdir(exist_ok=True)
    path, truth_path = CACHE / f"{case.name}.zip", CACHE / f"{case.name}.truth.json"
    stamp = fingerprint(case.spec)
    if path.exists() and truth_path.exists():
        saved = json.loads(truth_path.read_bytes())
        if saved.get("fingerprint") == stamp:
            return path, saved["truth"]
    print(f"[{case.name}] generating {path.name} (once): {case.about}...", flush=True)
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    truth = asdict(generate_package(partial, case.spec))
    partial.rename(path)
    truth_path.write_text(json.dumps({"fingerprint": stamp, "truth": truth}))
    print(f"[{case.name}] generated in {time.perf_counter() - started:.1f} s", flush=True)
    return path, truth
