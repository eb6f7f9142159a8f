"""`make bench`: speed and memory of package processing against the inflate floor (not a test).

Generates a medium and a heavy package once into bench/cache/, then for each prints: the time to
merely inflate every entry on one core (the floor), the time of our processing from zip to stored
documents (`tasks.local`, the worker's code path, in a child process), their ratio, messages and
activity lines per second, and the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from samples import SampleSpec, generate_package

CACHE = Path(__file__).resolve().parent / "cache"
ROOT = Path(__file__).resolve().parent.parent
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Case:
    """One benchmark package."""

    name: str
    spec: SampleSpec


CASES = {
    "medium": Case("medium", SampleSpec(layout="D", messages=150_000, events=300_000, seed=3)),
    "heavy": Case(
        "heavy",
        SampleSpec(layout="D", messages=675_000, events=1_400_000, channels=2_000, seed=5),
    ),
}


def cached_package(case: Case) -> Path:
    """The case's zip, generated on first use."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{case.name}.zip"
    if not path.exists():
        print(f"[{case.name}] generating {path.name} (once)...", flush=True)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        generate_package(partial, case.spec)
        partial.rename(path)
        print(f"[{case.name}] generated in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def inflate_floor(path: Path) -> tuple[float, int]:
    """Seconds to read every member to its end on one core, and the inflated byte count."""
    started = time.perf_counter()
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                while chunk := member.read(READ_CHUNK):
                    total += len(chunk)
    return time.perf_counter() - started, total


def _children_of(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeMemorySampler(threading.Thread):
    """Samples the summed resident memory of a process and all its descendants every 20 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            tree, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo += _children_of(pid)
            self.peak = max(self.peak, sum(_rss_bytes(pid) for pid in tree))


def process_in_child(path: Path, data_dir: Path) -> tuple[float, int, dict]:
    """Run `tasks.local` in a child; returns (seconds, peak RSS of its process tree, summary).

    The peak is the larger of the sampled sum over the child and its descendants and the
    kernel's own high-water mark of the child alone (which sampling could miss between ticks).
    """
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("MONGO_URL", None)
    command = [sys.executable, "-m", "tasks.local", str(path), "--json"]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE)
    sampler = TreeMemorySampler(child.pid)
    sampler.start()
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    sampler.done.set()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"processing failed: {output.decode(errors='replace')[-2000:]}")
    return seconds, max(sampler.peak, usage.ru_maxrss * 1024), json.loads(output)


def activity_lines(about: dict) -> int:
    """Activity lines read, from the package's `about`."""
    return int(about.get("read", {}).get("lines", {}).get("activity", 0))


def run_case(case: Case) -> dict:
    """Measure one case and print its figures."""
    path = cached_package(case)
    floor, inflated = inflate_floor(path)
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-") as data_dir:
        seconds, rss, summary = process_in_child(path, Path(data_dir))
    about = summary["about"]
    messages = int(about["read"]["lines"].get("messages", 0))
    lines = activity_lines(about)
    figures = {
        "package": case.name,
        "zip_mb": round(path.stat().st_size / 1e6, 1),
        "inflated_mb": round(inflated / 1e6, 1),
        "inflate_floor_s": round(floor, 2),
        "processing_s": round(seconds, 2),
        "ratio": round(seconds / floor, 2),
        "messages_per_s": round(messages / seconds),
        "activity_lines_per_s": round(lines / seconds),
        "peak_rss_mb": round(rss / 1e6, 1),  # all processes of the tree
        "views": summary["views"],
    }
    print(json.dumps(figures), flush=True)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Entry point of `make bench`."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    results = [run_case(CASES[name]) for name in args.cases or CASES]
    print("\npackage  zip MB  inflated MB  floor s  ours s  ratio  msg/s  lines/s  peak RSS MB")
    for r in results:
        print(
            f"{r['package']:<8} {r['zip_mb']:>6} {r['inflated_mb']:>12} "
            f"{r['inflate_floor_s']:>8} {r['processing_s']:>7} {r['ratio']:>6} "
            f"{r['messages_per_s']:>6} {r['activity_lines_per_s']:>8} {r['peak_rss_mb']:>12}"
        )


if __name__ == "__main__":
    main()
