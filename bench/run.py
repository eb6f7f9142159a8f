"""`make bench`: speed and memory of package processing against the inflate floor (not a test).

Generates each package once into bench/cache/ (bench/cases.py: medium, heavy and the shapes),
then for each, measured `--repeat` times (3) with the floor and ours in turn, prints the medians
of: the time to merely inflate every entry on one core (the floor), the time of our processing
from zip to stored documents (`launchers.local`, the worker's code path, in a child process), their
ratio (with its spread over the runs), the worker's own part of ours (from the zip's opening,
without the interpreter's start and the command's first imports, which a Celery worker pays
once; the settings, store and pipeline that load while the activity is read are counted) and its
ratio, messages and activity lines per second; the largest peak
resident memory of the child's process tree, the load average before the case (figures from a
busy machine mislead), and whether the figures of the package's views agree with the
generator's counts on every run (bench/check.py).
Then `api-reads` (bench/api_reads.py): requests per second of two data routes against a
hello-world Flask route under the Procfile's gunicorn; `audit-log` (bench/audit_log.py): requests
per second with the audit log on and off, and the usage trends read over 10 million recorded calls;
`store-events` (bench/store_events.py): stores' event intake, and their statistics read over 10
million stored events; `uploads` (bench/uploads.py): direct uploads' speed against writing the
same bytes to disk, and what the bandwidth metering costs; `projects` (bench/projects.py): the
project statistics routes over 1,000 projects and 1 million versions, and a recount's time.
`--case NAME` runs one; `--list` lists them.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import NamedTuple

from bench import api_reads, audit_log, projects, store_events, uploads
from bench.cases import CASES, Case, cached_package
from bench.check import check_views, read_views
from launchers.local import random_discord_link

ROOT = Path(__file__).resolve().parent.parent
READ_CHUNK = 1 << 20


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
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process ended since its parent listed it
        return []
    kids = []
    for task in tasks:
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


# The project's own code, compiled once before the runs as an installed wheel is (pip compiles it
# on install): without it each run would compile every module from source wherever
# PYTHONDONTWRITEBYTECODE is set, which no deployment pays.
SOURCES = ("accounts", "api", "launchers", "parsers", "samples", "storage", "tasks")


def compile_sources() -> None:
    """Byte-compile the project's packages and top-level modules (into __pycache__)."""
    for name in SOURCES:
        compileall.compile_dir(ROOT / name, quiet=1)
    for module in ROOT.glob("*.py"):
        compileall.compile_file(module, quiet=1)


def process_in_child(path: Path, data_dir: Path, link: str) -> tuple[float, int, dict]:
    """Run `launchers.local` in a child; returns (seconds, peak RSS of its process tree, summary).

    The peak is the larger of the sampled sum over the child and its descendants and the
    kernel's own high-water mark of the child alone (which sampling could miss between ticks).
    """
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("MONGO_URL", None)
    command = [sys.executable, "-m", "launchers.local", str(path), "--json", "--link", link]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE)
    sampler = TreeMemorySampler(child.pid)
    sampler.start()
    assert child.stdout is not None  # stdout=PIPE just above
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


class Run(NamedTuple):
    """One floor, then one run of ours."""

    floor: float  # seconds
    inflated: int  # bytes
    seconds: float  # ours
    rss: int  # peak of the process tree, bytes
    summary: dict  # what launchers.local printed
    mismatches: list[str]  # with the generator's counts


def measure_once(path: Path, truth: dict) -> Run:
    """One floor, then one run of ours."""
    floor, inflated = inflate_floor(path)
    link = random_discord_link()
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-") as data_dir:
        seconds, rss, summary = process_in_child(path, Path(data_dir), link)
        mismatches = check_views(read_views(Path(data_dir), link), truth)
    return Run(floor, inflated, seconds, rss, summary, mismatches)


def run_case(case: Case, repeat: int = 1) -> dict:
    """Measure one case `repeat` times (floor and ours in turn) and print its figures: the
    medians of the floor, of ours and of the ratios of each pair, the spread of the ratios, the
    largest peak RSS; the counts must agree on every run."""
    path, truth = cached_package(case)
    load = os.getloadavg()[0]
    runs = [measure_once(path, truth) for _ in range(repeat)]
    floor, inflated = statistics.median(run.floor for run in runs), runs[0].inflated
    seconds = statistics.median(run.seconds for run in runs)
    ratios = sorted(run.seconds / run.floor for run in runs)
    # What a long-running worker pays per package, at most: from the zip's opening (the command
    # reads it ahead, `parsers.ahead`) to the end, without the interpreter's start and the
    # command's first imports, which a Celery worker pays once.
    worker_ratios = sorted(run.summary["seconds"] / run.floor for run in runs)
    rss, summary = max(run.rss for run in runs), runs[0].summary
    mismatches = sorted({mismatch for run in runs for mismatch in run.mismatches})
    about = summary["about"]
    messages = int(about["read"]["lines"].get("messages", 0))
    lines = activity_lines(about)
    figures = {
        "package": case.name,
        "zip_mb": round(path.stat().st_size / 1e6, 1),
        "inflated_mb": round(inflated / 1e6, 1),
        "inflate_floor_s": round(floor, 2),
        "processing_s": round(seconds, 2),
        "ratio": round(statistics.median(ratios), 2),
        "ratio_spread": [round(ratios[0], 2), round(ratios[-1], 2)],
        "worker_s": round(statistics.median(run.summary["seconds"] for run in runs), 2),
        "worker_ratio": round(statistics.median(worker_ratios), 2),
        "runs": repeat,
        "messages_per_s": round(messages / seconds),
        "activity_lines_per_s": round(lines / seconds),
        "peak_rss_mb": round(rss / 1e6, 1),  # all processes of the tree
        "views": summary["views"],
        "load_before": round(load, 2),
        "counts": "ok" if not mismatches else "; ".join(mismatches),
    }
    print(json.dumps(figures), flush=True)
    return figures


HEADER = (
    f"{'package':<14} {'zip MB':>7} {'inflated MB':>11} {'floor s':>8} {'ours s':>7} "
    f"{'ratio':>6} {'spread':>11} {'worker s':>8} {'ratio':>6} {'msg/s':>7} {'lines/s':>8} "
    f"{'peak RSS MB':>11} {'load':>5}  counts"
)


def print_table(results: list[dict]) -> None:
    """The figures of every case, one line each."""
    print("\n" + HEADER)
    for r in results:
        print(
            f"{r['package']:<14} {r['zip_mb']:>7} {r['inflated_mb']:>11} "
            f"{r['inflate_floor_s']:>8} {r['processing_s']:>7} {r['ratio']:>6} "
            f"{'-'.join(map(str, r['ratio_spread'])):>11} "
            f"{r['worker_s']:>8} {r['worker_ratio']:>6} "
            f"{r['messages_per_s']:>7} {r['activity_lines_per_s']:>8} {r['peak_rss_mb']:>11} "
            f"{r['load_before']:>5}  {r['counts']}"
        )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


API_READS = "api-reads"
AUDIT_LOG = "audit-log"
STORE_EVENTS = "store-events"
UPLOADS = "uploads"
PROJECTS = "projects"
# Cases that are not a package to process: name -> (what it measures, how to run it).
OTHER_CASES = {
    API_READS: (
        "requests/s of /api/data/<id>/overview and /stats/lifetime against a hello-world "
        "Flask route, gunicorn as in the Procfile, rate limits and decryption on "
        "(bench/api_reads.py; wrk when installed, else a Python load generator)",
        lambda: api_reads.main([]),
    ),
    AUDIT_LOG: (
        "requests/s with the audit log on and off (AUDIT_ENABLED=1/0, gunicorn as in the "
        "Procfile), then usage trends read times over 10 million recorded calls, with fill and "
        "fold times (bench/audit_log.py; python -m bench.audit_log --calls N for fewer)",
        lambda: audit_log.main([]),
    ),
    STORE_EVENTS: (
        "stores' events: batch and single-event intake through gunicorn with a worker folding, "
        "then statistics reads over 10 million stored events, with append and fold times and "
        "a recount (bench/store_events.py; python -m bench.store_events --events N for fewer)",
        lambda: store_events.main([]),
    ),
    UPLOADS: (
        "direct uploads: MB/s of POST /api/process/upload against writing the same bytes to "
        "disk and against a minimal route of the same gunicorn that only writes its body; the "
        "bandwidth metering's cost per transfer and its routes' requests/s (bench/uploads.py)",
        lambda: uploads.main([]),
    ),
    PROJECTS: (
        "projects' storage statistics: reads of the stats routes over 1,000 projects and "
        "1 million file versions, and the recount's time per project (bench/projects.py)",
        lambda: projects.main([]),
    ),
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of `make bench`."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    names = ", ".join([*CASES, *OTHER_CASES])
    parser.add_argument("cases", nargs="*", help=f"any of {names} (default: all)")
    parser.add_argument("--case", action="append", default=[], help="one case (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument(
        "--repeat", type=_positive, default=3, help="runs per case, medians reported (3)"
    )
    args = parser.parse_args(argv)
    if args.list:
        for case in CASES.values():
            print(f"{case.name:<14} {case.about}")
        for name, (about, _) in OTHER_CASES.items():
            print(f"{name:<14} {about}")
        return
    chosen = [*args.cases, *args.case] or [*CASES, *OTHER_CASES]
    unknown = set(chosen) - set(CASES) - set(OTHER_CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))} (known: {names})")
    started = time.perf_counter()
    packages = [name for name in chosen if name in CASES]
    if packages:
        compile_sources()
        print_table([run_case(CASES[name], args.repeat) for name in packages])
    failed = 0
    for name in [name for name in chosen if name in OTHER_CASES]:
        print(flush=True)
        failed |= OTHER_CASES[name][1]()
    print(f"\n{len(chosen)} case(s) in {time.perf_counter() - started:.0f} s")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
