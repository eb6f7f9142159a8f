"""API read throughput against a hello-world Flask route, same gunicorn settings, same run.

`python -m bench.api_reads` (or `api_read_figures()` from `bench.run`): processes a small generated
package into a temporary DATA_DIR, starts the embedded broker (rate limits count in Redis, as in
production), then two gunicorns exactly as the Procfile's `web:` line, serving (1) a minimal
Flask app and (2) the API, and loads each route on loopback with `wrk` (keep-alive connections,
bounded in time and requests): hello, overview, stats/lifetime in turn, `Load.rounds` times, so
that each ratio compares measurements taken under the same background load (medians reported).
The read limit is raised to `READ_LIMIT` so limiting is on (every request is counted in Redis)
but never reached. Every response must be 200.

Besides requests per second, each route reports the server's CPU time per request (gunicorn's
processes and the broker) and the share of the machine other processes used meanwhile; a route
measured while others used more than `QUIET_SHARE` of the CPUs is measured again (up to
`ATTEMPTS` times). Without `wrk` (`apt-get install wrk`) a Python load generator stands in
(`--generator python` forces it) and the output says so: it shares the cores with the server as
wrk does, costs a little more CPU per request (about 20 us against 15) and varies more.
`make bench CASE=api-reads` runs it from `bench.run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from launchers.devstack import PROJECT_ROOT, LocalStack, free_port

READ_LIMIT = "100000000/minute"
HELLO_APP = "bench.api_reads:hello_app()"
READY_SECONDS = 60
QUIET_SHARE = 0.10
# gunicorn's workers race to accept wrk's connections: now and then one gets all of them and
# the other idles, which halves any route's figure. Such a measurement is made again.
MIN_BALANCE = 0.5
ATTEMPTS = 5
TICKS = os.sysconf("SC_CLK_TCK")
# Counts every non-200 answer and stops each thread after its share of the request bound.
WRK_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) limit = tonumber(args[1]); expect = tonumber(args[2]); count = 0; bad = 0 end
function response(status, headers, body)
  count = count + 1
  if status ~= expect then bad = bad + 1 end
  if count >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local non200 = 0
  for _, t in ipairs(threads) do non200 = non200 + t:get("bad") end
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %d, "seconds": %f, "non200": %d, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, non200, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Server:
    """The processes serving a measured route: gunicorn's arbiter (its workers are its
    children) and helpers whose CPU counts too (the broker, which holds the rate limits)."""

    master: int
    helpers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Load:
    """How hard and how long each route is loaded."""

    seconds: float = 8.0
    connections: int = 32
    max_requests: int = 1_000_000
    warmup_seconds: float = 1.0
    generator: str = "auto"  # "wrk", "python", or "auto": wrk when installed
    rounds: int = 3  # hello, overview, stats/lifetime measured in turn this many times

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """The command-line options of a load (`from_arguments` reads them back)."""
        parser.add_argument("--seconds", type=float, default=Load.seconds)
        parser.add_argument("--connections", type=int, default=Load.connections)
        parser.add_argument("--rounds", type=int, default=Load.rounds)
        parser.add_argument("--generator", choices=("auto", *GENERATORS), default="auto")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Load:
        return cls(
            seconds=args.seconds,
            connections=args.connections,
            generator=args.generator,
            rounds=args.rounds,
        )


def hello_app():
    """The baseline: a minimal Flask app with one route answering a small JSON."""
    from flask import Flask, jsonify

    app = Flask("hello")
    app.add_url_rule("/hello", "hello", lambda: jsonify(hello="world"))
    return app


def web_command(port: int, app_spec: str | None = None) -> list[str]:
    """The Procfile's `web:` line on 127.0.0.1:port (optionally serving another app)."""
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    line = next(ln for ln in lines if ln.startswith("web:"))[4:]
    line = line.replace("${BIND:-127.0.0.1}", "127.0.0.1").replace("${PORT:-8000}", str(port))
    words = shlex.split(line)
    if words[0] == "exec":  # the Procfile execs its commands (signals reach gunicorn itself)
        words = words[1:]
    if words[0] != "gunicorn" or not re.fullmatch(r"\S+:\S+\(\)", words[-1]):
        raise SystemExit(f"unexpected Procfile web line: {line}")
    return [sys.executable, "-m", "gunicorn", *words[1:-1], app_spec or words[-1]]


def prepared_package(stack: LocalStack) -> tuple[str, str]:
    """Generate and process a small sample package into the stack's store: (package id, UPN)."""
    from launchers.local import process_local_zip, random_discord_link
    from samples import SampleSpec, generate_package
    from storage import open_store

    zip_path = stack.data_dir / "sample.zip"
    generate_package(zip_path, SampleSpec(layout="D", messages=2_000, events=4_000, seed=7))
    link, settings = random_discord_link(), stack.settings
    store = open_store(settings)
    try:
        summary = process_local_zip(zip_path, link, settings, store)
    finally:
        store.close()
    if summary["result"] != "PROCESSED":
        raise SystemExit(f"the sample package was not processed: {summary['result']}")
    return summary["package_id"], link.partition("upn=")[2]


@contextlib.contextmanager
def gunicorn(
    stack: LocalStack,
    name: str,
    ready_path: str,
    app_spec: str | None = None,
    env: dict[str, str] | None = None,
):
    """gunicorn as the Procfile runs it, in the stack's environment with `env` on top; yields
    (base URL, pid) once `ready_path` answers 200."""
    port = free_port()
    log = stack.log_path(name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            web_command(port, app_spec),
            env={**stack.env, **(env or {})},
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=out,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(process, url + ready_path, log)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url} in time; see {log}")


# -- CPU accounting ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        pids.append(todo.pop())
        todo += _children(pids[-1])
    return pids


def tree_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of these processes and all their descendants."""
    total = 0
    for pid in {p for root in pids for p in _tree(root)}:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def _self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- load generators -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """A request body to POST instead of a GET, and the status each answer should have."""

    body: bytes
    expect: int = 201
    content_type: str = "application/json"


def run_wrk(
    url: str, headers: dict[str, str], load: Load, seconds: float, post: Post | None = None
) -> dict:
    """Load `url` with wrk (one thread: the server keeps the other core); figures and wrk's CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if post is not None:
            body = post.body.decode().replace("\\", "\\\\").replace('"', '\\"')
            script.write(f'wrk.method = "POST"\nwrk.body = "{body}"\n')
            headers = {**headers, "Content-Type": post.content_type}
        script.write(WRK_LUA)
        script.flush()
        command = ["wrk", "-t1", f"-c{load.connections}", f"-d{max(1, round(seconds))}s"]
        command += ["--timeout", "5s", "-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        command += [url, "--", str(load.max_requests), str(post.expect if post else 200)]
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        watchdog = threading.Timer(seconds + 60, wrk.kill)
        watchdog.start()
        out = wrk.stdout.read() if wrk.stdout else ""
        _, _, usage = os.wait4(wrk.pid, 0)
        watchdog.cancel()
    found = re.search(r"^WRK_JSON (.*)$", out, re.M)
    if found is None:
        raise SystemExit(f"wrk gave no figures:\n{out[-2000:]}")
    return {**json.loads(found.group(1)), "client_cpu": usage.ru_utime + usage.ru_stime}


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending the same GET again as soon as the answer is complete."""

    def __init__(
        self, request: bytes, tally: dict, deadline: float, done: asyncio.Future, expect: bytes
    ):
        self.request, self.tally, self.deadline, self.done = request, tally, deadline, done
        self.expect = expect
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", self.buffer[:head_end])
        total = head_end + 4 + int(length.group(1) if length else 0)
        if len(self.buffer) < total:
            return
        self.tally["requests"] += 1
        self.tally["non200"] += self.buffer[9:12] != self.expect
        self.buffer = self.buffer[total:]
        if time.monotonic() < self.deadline and self.tally["requests"] < self.tally["limit"]:
            self.transport.write(self.request)
        elif not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.tally["errors"] += 1
            self.done.set_result(None)


def _request(host: str, port: str, path: str, headers: dict[str, str], post: Post | None) -> bytes:
    lines = [f"{'POST' if post else 'GET'} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if post is not None:
        lines += [f"Content-Type: {post.content_type}", f"Content-Length: {len(post.body)}"]
    head = "\r\n".join(lines + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n"
    return head.encode() + (post.body if post else b"")


async def _python_load(
    url: str, headers: dict[str, str], load: Load, seconds: float, post: Post | None
) -> dict:
    parts = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    if parts is None:
        raise ValueError(f"not a plain http URL: {url}")
    host, port, path = parts.groups()
    request = _request(host, port, path, headers, post)
    expect = str(post.expect if post else 200).encode()
    tally = {"requests": 0, "non200": 0, "errors": 0, "limit": load.max_requests}
    loop, started = asyncio.get_running_loop(), time.monotonic()
    futures, transports = [], []
    for _ in range(load.connections):
        done = loop.create_future()
        factory = lambda d=done: _Connection(request, tally, started + seconds, d, expect)  # noqa: E731
        transports.append((await loop.create_connection(factory, host, int(port)))[0])
        futures.append(done)
    await asyncio.wait_for(asyncio.gather(*futures), seconds + 30)
    elapsed = time.monotonic() - started
    for transport in transports:
        transport.close()
    return {"requests": tally["requests"], "seconds": elapsed, "non200": tally["non200"],
            "errors": tally["errors"]}  # fmt: skip


def run_python(
    url: str, headers: dict[str, str], load: Load, seconds: float, post: Post | None = None
) -> dict:
    """Load `url` from this process (asyncio, raw keep-alive connections) when wrk is missing."""
    before = _self_cpu_seconds()
    figures = asyncio.run(_python_load(url, headers, load, seconds, post))
    return {**figures, "client_cpu": _self_cpu_seconds() - before}


GENERATORS = {"wrk": run_wrk, "python": run_python}


def generator_name(load: Load) -> str:
    """The load generator `load` asks for; "auto" is wrk when installed, else the Python one."""
    if load.generator == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if load.generator == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    return load.generator


def load_generator(load: Load):
    """The function loading a route with the generator `load` asks for."""
    return GENERATORS[generator_name(load)]


# -- measurement ---------------------------------------------------------------------------------


def balance(worker_cpu: list[float]) -> float:
    """1.0 when every worker did its share of the work, 0.0 when one did none."""
    if not worker_cpu:
        return 1.0
    return round(min(worker_cpu) * len(worker_cpu) / max(sum(worker_cpu), 1e-9), 2)


def measure_once(
    url: str, headers: dict[str, str], load: Load, server: Server, post: Post | None = None
) -> dict:
    """One measurement: req/s, errors, server CPU per request, how evenly the workers shared the
    work, and the share of the CPUs other processes used meanwhile."""
    workers = _children(server.master)
    processes = [server.master, *server.helpers]
    worker_before = [tree_cpu_seconds([w]) for w in workers]
    server_before, (busy_before, total_before) = tree_cpu_seconds(processes), machine_cpu_seconds()
    figures = load_generator(load)(url, headers, load, load.seconds, post)
    server_cpu = tree_cpu_seconds(processes) - server_before
    worker_cpu = [tree_cpu_seconds([w]) - b for w, b in zip(workers, worker_before, strict=True)]
    busy_after, total_after = machine_cpu_seconds()
    others = busy_after - busy_before - server_cpu - figures["client_cpu"]
    return {
        **figures,
        "rps": round(figures["requests"] / figures["seconds"]),
        "server_us_per_request": round(server_cpu / max(1, figures["requests"]) * 1e6),
        "client_us_per_request": round(figures["client_cpu"] / max(1, figures["requests"]) * 1e6),
        "workers_balance": balance(worker_cpu),
        "others_share": round(max(0.0, others) / max(total_after - total_before, 1e-9), 3),
    }


def _usable(figures: dict) -> bool:
    return figures["others_share"] <= QUIET_SHARE and figures["workers_balance"] >= MIN_BALANCE


def load_route(
    url: str, headers: dict[str, str], load: Load, server: Server, post: Post | None = None
) -> dict:
    """Warm up, then measure a route; again (new connections) when the workers did not share
    the load or other processes used the machine, keeping the most representative attempt."""
    load_generator(load)(url, headers, load, load.warmup_seconds, post)
    attempts = []
    for _ in range(ATTEMPTS):
        attempts.append(measure_once(url, headers, load, server, post))
        if _usable(attempts[-1]):
            break
    return min(attempts, key=lambda f: (not _usable(f), f["others_share"] - f["workers_balance"]))


def api_read_figures(load: Load | None = None) -> dict:
    """One run: requests/s of hello, overview and lifetime stats, their ratios and error counts."""
    load = load or Load()
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-api-") as tmp:
        stack = LocalStack(Path(tmp), extra_env={"RATE_LIMIT_READ": READ_LIMIT})
        package_id, upn = prepared_package(stack)
        stack.start_broker()
        try:
            return _measure(stack, package_id, upn, load)
        finally:
            stack.stop()


def _measure(stack: LocalStack, package_id: str, upn: str, load: Load) -> dict:
    """Both servers up (an idle one costs nothing); the routes measured in turn, `load.rounds`
    times, so each ratio compares measurements minutes apart at most, under the same load."""
    broker = (stack.processes["broker"].pid,) if "broker" in stack.processes else ()
    auth = {"Authorization": f"Bearer {upn}"}
    base = f"/api/data/{package_id}"
    with (
        gunicorn(stack, "hello", "/hello", HELLO_APP) as (hello_url, hello_pid),
        gunicorn(stack, "api", "/health") as (api_url, api_pid),
    ):
        plan = {
            "hello": (hello_url + "/hello", {}, Server(hello_pid, broker)),
            "overview": (f"{api_url}{base}/overview", auth, Server(api_pid, broker)),
            "stats_lifetime": (f"{api_url}{base}/stats/lifetime", auth, Server(api_pid, broker)),
        }
        rounds = [
            {
                name: load_route(url, headers, load, server)
                for name, (url, headers, server) in plan.items()
            }
            for _ in range(load.rounds)
        ]
    return summary(rounds, load)


def summary(rounds: list[dict[str, dict]], load: Load) -> dict:
    """Medians over the rounds; a ratio is the median of each round's route / hello."""
    names = list(rounds[0])

    def median_of(field: str) -> dict:
        return {n: round(statistics.median([r[n][field] for r in rounds]), 3) for n in names}

    ratios = {n: [r[n]["rps"] / r["hello"]["rps"] for r in rounds] for n in names if n != "hello"}
    # CPU of a request, server and load generator: what the rates become once other processes
    # leave the cores alone (a busy machine moves the rates far more than the CPU per request).
    cpu = {n: [r[n]["server_us_per_request"] + r[n]["client_us_per_request"] for r in rounds]
           for n in names}  # fmt: skip
    cpu_ratios = {
        n: [h / max(c, 1) for h, c in zip(cpu["hello"], cpu[n], strict=True)] for n in ratios
    }
    return {
        "tool": "wrk" if generator_name(load) == "wrk" else "python-asyncio",
        "connections": load.connections,
        "seconds": load.seconds,
        "rounds": len(rounds),
        "rate_limit_read": READ_LIMIT,
        "rps": {n: round(v) for n, v in median_of("rps").items()},
        "ratios": {n: round(statistics.median(v), 2) for n, v in ratios.items()},
        "ratios_each_round": {n: [round(x, 2) for x in v] for n, v in ratios.items()},
        "cpu_ratios": {n: round(statistics.median(v), 2) for n, v in cpu_ratios.items()},
        "server_us_per_request": {
            n: round(v) for n, v in median_of("server_us_per_request").items()
        },
        "client_us_per_request": {
            n: round(v) for n, v in median_of("client_us_per_request").items()
        },
        "workers_balance": median_of("workers_balance"),
        "others_share": {n: max(r[n]["others_share"] for r in rounds) for n in names},
        "errors": sum(r[n]["non200"] + r[n]["errors"] for r in rounds for n in names),
    }


def report(figures: dict) -> str:
    """The figures as a few readable lines."""
    rps, cpu, others = figures["rps"], figures["server_us_per_request"], figures["others_share"]
    client, shares, ratios = (
        figures["client_us_per_request"],
        figures["workers_balance"],
        figures["ratios"],
    )
    lines = [
        f"API reads ({figures['tool']}, {figures['connections']} keep-alive connections, "
        f"{figures['seconds']:g} s per route, {figures['rounds']} rounds, medians; rate limiting "
        f"ON, counted in Redis, at {figures['rate_limit_read']} so never reached)"
    ]
    for name in rps:
        ratio = f"ratio {ratios[name]:.2f}" if name in ratios else " " * 10
        lines.append(
            f"  {name:<15} {rps[name]:>6} req/s  {ratio}  CPU/request: server {cpu[name]:>4} us,"
            f" load generator {client[name]:>4} us  workers balance {shares[name]:.2f}"
            f"  other processes up to {others[name]:.0%}"
        )
    each = "; ".join(
        f"{n} {' '.join(map(str, v))}" for n, v in figures["ratios_each_round"].items()
    )
    lines.append(f"  ratios of each round: {each}")
    by_cpu = "; ".join(f"{n} {v:.2f}" for n, v in figures["cpu_ratios"].items())
    lines.append(
        f"  ratios by CPU per request (hello's / the route's, server + generator): {by_cpu}"
    )
    lines.append(f"  errors (non-200 or socket): {figures['errors']}")
    return "\n".join(lines)


def generator_note(load: Load) -> str:
    """Which load generator measures, and what its figures are worth."""
    if generator_name(load) == "wrk":
        return "API reads: load generator wrk (one thread), on the same 2 cores as the server"
    return (
        "API reads: load generator Python asyncio in this process (asked for, or wrk not found: "
        "`apt-get install wrk`). Like wrk it shares the 2 cores with the server; it costs a "
        "little more CPU per request and its figures vary more. docs/performance.md quotes wrk"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.api_reads [--runs N] [--seconds S] [--generator G]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.api_reads", description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    Load.add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON line per run")
    args = parser.parse_args(argv)
    load = Load.from_arguments(args)
    print(generator_note(load), file=sys.stderr, flush=True)
    failed = False
    for _ in range(args.runs):
        figures = api_read_figures(load)
        print(json.dumps(figures) if args.json else report(figures), flush=True)
        failed |= figures["errors"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
