"""The audit log's cost to the API, and the usage trends read over a large audit log (not a test).

`python -m bench.audit_log` (`make bench CASE=audit-log`), two parts:

1. Overhead: the embedded broker and two gunicorns exactly as the Procfile's `web:` line on one
   DATA_DIR, differing only in `AUDIT_ENABLED` (1 and 0), each route loaded with bench.api_reads'
   machinery (wrk, or its Python generator; warm-up, re-measured while the machine is busy):
   `/api/data/<id>/overview` (a package's UPN: an anonymous call to the audit log) and
   `/api/v1/accounts/me` (an account token: the record carries account and organization), the
   two servers in turn, `Load.rounds` times, the order swapped every round. Reports req/s of
   each (medians), the ratio on / off of every round and its median, the server's CPU per request
   and the ratio of CPU per request off / on (server and load generator), which a busy machine
   moves far less than the rates.
2. Trends: a DATA_DIR whose SQLite store gets `--calls` recorded calls (10 million by default)
   spread evenly over the last 365 days in time order (as the API records them), `--accounts`
   accounts in `--organizations` organizations (a fifth of the calls anonymous), appended in batches
   through `store.audit.append` (streamed: one batch in memory), then counted by `store.audit.fold`
   in the worker's batches (`tasks.maintenance.FOLD_BATCH`), with the time of each and the file's
   size. Then `GET /api/v1/analytics/usage/trends` with days=30 and 365 for an account (its own), an
   organization (its member's token) and a superuser (every call), `--reads` times each over a
   keep-alive connection to gunicorn: the median and 90th percentile of the server's time (the
   access log's duration, 0.1 ms steps), of the round trip seen by the client, and of the store's
   query alone (`store.audit.daily_calls` in this process).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.api_reads import (
    READ_LIMIT,
    Load,
    Server,
    generator_name,
    generator_note,
    gunicorn,
    load_route,
    prepared_package,
)
from launchers.devstack import LocalStack
from storage import Store, open_store
from storage.audit import ACCOUNT, ALL, ORGANIZATION, AuditRecord, Kind
from storage.identity import Account, new_api_key
from tasks.maintenance import FOLD_BATCH

CALLS = 10_000_000
ACCOUNTS = 1_000
ORGANIZATIONS = 50
DAYS = 365
ANONYMOUS_SHARE = 0.2
APPEND_BATCH = 50_000  # records per store.audit.append while filling
READS = 200
TRENDS = "/api/v1/analytics/usage/trends"
ROUTES = (  # what the recorded calls were: (template, method, status)
    ("/api/data/<package_id>/overview", "GET", 200),
    ("/api/data/<package_id>/stats/<period>", "GET", 200),
    ("/api/data/<package_id>/top/<kind>", "GET", 200),
    (TRENDS, "GET", 200),
    ("/api/v1/accounts/me", "GET", 200),
    ("/api/auth", "POST", 200),
    ("/api/data/<package_id>/overview", "GET", 404),
    ("/api/v1/stores", "GET", 401),
)
_ACCESS_LINE = re.compile(rf"GET {re.escape(TRENDS)} 200 ([\d.]+)ms")


# -- accounts ------------------------------------------------------------------------------------


def make_accounts(store: Store, organizations: int, accounts: int) -> list[Account]:
    """`organizations` organizations and `accounts` accounts spread evenly over them (the first
    one a superuser)."""
    now = time.time()
    orgs = [store.identity.organizations.create(f"bench {i}", now) for i in range(organizations)]
    return [
        store.identity.accounts.create(
            f"bench{i}@example.org", f"bench{i}", orgs[i % organizations].id, i == 0, now
        )
        for i in range(accounts)
    ]


def access_token(store: Store, url: str, account: Account) -> str:
    """An account token from `POST /api/auth`, for a new API key of `account`."""
    key = new_api_key()
    store.identity.api_keys.create(account.id, "bench", key, time.time())
    answer = requests.post(f"{url}/api/auth", json={"api_key": key}, timeout=10)
    answer.raise_for_status()
    return answer.json()["access_token"]


# -- 1. overhead ---------------------------------------------------------------------------------


def overhead_figures(load: Load) -> dict:
    """req/s of two routes with the audit log on and off, in turn, `load.rounds` times."""
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-audit-") as tmp:
        stack = LocalStack(Path(tmp), extra_env={"RATE_LIMIT_READ": READ_LIMIT})
        package_id, upn = prepared_package(stack)
        store = open_store(stack.settings)
        stack.start_broker()
        try:
            (account,) = make_accounts(store, 1, 1)
            broker = (stack.processes["broker"].pid,) if "broker" in stack.processes else ()
            with (
                gunicorn(stack, "audit-on", "/health", env={"AUDIT_ENABLED": "1"}) as on,
                gunicorn(stack, "audit-off", "/health", env={"AUDIT_ENABLED": "0"}) as off,
            ):
                token = access_token(store, on[0], account)
                routes = {
                    "overview": (f"/api/data/{package_id}/overview", f"Bearer {upn}"),
                    "accounts_me": ("/api/v1/accounts/me", f"Bearer {token}"),
                }
                servers = {"on": on, "off": off}
                rounds = []
                for number in range(load.rounds):
                    order = ["on", "off"] if number % 2 == 0 else ["off", "on"]
                    rounds.append(
                        {
                            (route, audit): load_route(
                                servers[audit][0] + path,
                                {"Authorization": auth},
                                load,
                                Server(servers[audit][1], broker),
                            )
                            for route, (path, auth) in routes.items()
                            for audit in order
                        }
                    )
        finally:
            store.close()
            stack.stop()
    return overhead_summary(rounds, list(routes), load)


def overhead_summary(
    rounds: list[dict[tuple[str, str], dict]], routes: list[str], load: Load
) -> dict:
    """Medians over the rounds of req/s and server CPU per request; ratios on / off."""

    def cpu(figures: dict) -> int:
        return figures["server_us_per_request"] + figures["client_us_per_request"]

    def median(route: str, audit: str, field: str) -> int:
        return round(statistics.median(r[route, audit][field] for r in rounds))

    figures: dict = {
        "tool": "wrk" if generator_name(load) == "wrk" else "python-asyncio",
        "connections": load.connections,
        "seconds": load.seconds,
        "rounds": len(rounds),
        "routes": {},
    }
    for route in routes:
        ratios = [r[route, "on"]["rps"] / r[route, "off"]["rps"] for r in rounds]
        # CPU per request, server and load generator, off / on: what the rates' ratio becomes
        # once other processes leave the cores alone (they move it far less than the rates).
        cpu_ratios = [cpu(r[route, "off"]) / max(cpu(r[route, "on"]), 1) for r in rounds]
        figures["routes"][route] = {
            "rps_on": median(route, "on", "rps"),
            "rps_off": median(route, "off", "rps"),
            "ratio": round(statistics.median(ratios), 3),
            "ratios_each_round": [round(x, 3) for x in ratios],
            "cpu_ratio": round(statistics.median(cpu_ratios), 3),
            "server_us_per_request_on": median(route, "on", "server_us_per_request"),
            "server_us_per_request_off": median(route, "off", "server_us_per_request"),
            "others_share": max(r[route, a]["others_share"] for r in rounds for a in ("on", "off")),
        }
    figures["errors"] = sum(f["non200"] + f["errors"] for r in rounds for f in r.values())
    return figures


def overhead_report(figures: dict) -> str:
    """Part 1 as a few readable lines."""
    lines = [
        f"Audit log overhead ({figures['tool']}, {figures['connections']} keep-alive "
        f"connections, {figures['seconds']:g} s per route and server, {figures['rounds']} "
        "rounds, medians; AUDIT_ENABLED=1 against 0, target: on / off 0.95 or more)"
    ]
    for route, f in figures["routes"].items():
        each = " ".join(map(str, f["ratios_each_round"]))
        lines.append(
            f"  {route:<12} on {f['rps_on']:>6} req/s  off {f['rps_off']:>6} req/s  "
            f"on/off {f['ratio']:.3f} (rounds: {each}; by CPU per request {f['cpu_ratio']:.3f})"
            f"  server CPU/request on {f['server_us_per_request_on']} us, off "
            f"{f['server_us_per_request_off']} us  other processes up to {f['others_share']:.0%}"
        )
    lines.append(f"  errors (non-200 or socket): {figures['errors']}")
    return "\n".join(lines)


# -- 2. trends over a large audit log ------------------------------------------------------------


def recorded_calls(
    calls: int, accounts: list[Account], today: datetime
) -> Iterator[list[AuditRecord]]:
    """`calls` audit records over the `DAYS` days ending `today`, in time order (as the API
    records them), in batches of APPEND_BATCH."""
    rng = random.Random(7)
    start = today.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    first = start.timestamp()
    days = [(start + timedelta(days=d)).date().isoformat() for d in range(DAYS)]
    left, made = calls, 0
    while left:
        batch = []
        for _ in range(min(APPEND_BATCH, left)):
            offset = (made + rng.random()) * DAYS / calls
            made += 1
            who = None if rng.random() < ANONYMOUS_SHARE else rng.choice(accounts)
            route, method, status = rng.choice(ROUTES)
            batch.append(
                AuditRecord(
                    days[int(offset)],
                    first + offset * 86_400,
                    who.id if who else None,
                    who.organization_id if who else None,
                    route,
                    method,
                    status,
                    rng.random() * 20,
                )
            )
        left -= len(batch)
        yield batch


def fill_and_fold(store: Store, calls: int, accounts: list[Account]) -> dict:
    """Append `calls` records, then fold them all; seconds of each."""
    started = time.perf_counter()
    for batch in recorded_calls(calls, accounts, datetime.now(UTC)):
        store.audit.append(batch)
    filled = time.perf_counter()
    folded = 0
    while done := store.audit.fold(FOLD_BATCH, time.time()):
        folded += done
    fold_seconds = time.perf_counter() - filled
    return {
        "calls": calls,
        "fill_s": round(filled - started, 1),
        "fill_per_s": round(calls / (filled - started)),
        "fold_s": round(fold_seconds, 1),
        "folded": folded,
        "fold_per_s": round(folded / fold_seconds),
    }


def file_mb(path: Path) -> float:
    """The SQLite file and its WAL, in MB."""
    files = [path, path.with_name(path.name + "-wal")]
    return round(sum(p.stat().st_size for p in files if p.exists()) / 1e6, 1)


def percentiles(values: list[float]) -> dict:
    """Median and 90th percentile, in ms."""
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)], 2),
    }


def access_durations(
    log: Path, offset: int, line: re.Pattern[str] = _ACCESS_LINE
) -> tuple[list[float], int]:
    """The durations of the access lines matching `line` (default: the trends reads) the log
    wrote after `offset`, and the log's new end."""
    with open(log, "rb") as lines:
        lines.seek(offset)
        text = lines.read().decode(errors="replace")
    return [float(ms) for ms in line.findall(text)], offset + len(text.encode())


def time_reads(stack: LocalStack, store: Store, accounts: list[Account], reads: int) -> dict:
    """The trends read for an account, an organization and every call, days=30 and 365."""
    member = accounts[1]  # not the superuser
    cases: dict[str, tuple[Account, dict, tuple[Kind, str]]] = {
        "account": (member, {}, (ACCOUNT, member.id)),
        "organization": (
            member,
            {"organization_id": member.organization_id},
            (ORGANIZATION, member.organization_id),
        ),
        "all (superuser)": (accounts[0], {}, (ALL, "")),
    }
    figures: dict = {}
    with gunicorn(stack, "trends", "/health") as (url, _pid), requests.Session() as session:
        tokens = {who.id: access_token(store, url, who) for who in (member, accounts[0])}
        log = stack.log_path("trends")
        for name, (who, params, (kind, subject)) in cases.items():
            for days in (30, 365):
                headers = {"Authorization": f"Bearer {tokens[who.id]}"}
                query = {**params, "days": days}
                first = session.get(url + TRENDS, params=query, headers=headers, timeout=10)
                first.raise_for_status()
                time.sleep(0.5)  # the access lines of earlier reads are written
                _, offset = access_durations(log, 0)
                trips = []
                for _ in range(reads):
                    started = time.perf_counter()
                    session.get(url + TRENDS, params=query, headers=headers, timeout=10)
                    trips.append((time.perf_counter() - started) * 1000)
                time.sleep(0.5)
                server, _ = access_durations(log, offset)
                today = datetime.now(UTC).date()
                first_day = (today - timedelta(days=days - 1)).isoformat()
                store_ms = []
                for _ in range(reads):
                    started = time.perf_counter()
                    store.audit.daily_calls(kind, subject, first_day, today.isoformat())
                    store_ms.append((time.perf_counter() - started) * 1000)
                figures[f"{name}, days={days}"] = {
                    "total_calls": first.json()["total_calls"],
                    "server": percentiles(server),
                    "round_trip": percentiles(trips),
                    "store_query": percentiles(store_ms),
                    "reads": len(server),
                }
    return figures


def trends_figures(calls: int, accounts: int, organizations: int, reads: int) -> dict:
    """Fill, fold, then time the trends reads."""
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-trends-") as tmp:
        stack = LocalStack(Path(tmp), extra_env={"RATE_LIMIT_READ": READ_LIMIT})
        store = open_store(stack.settings)
        stack.start_broker()
        try:
            people = make_accounts(store, organizations, accounts)
            figures = fill_and_fold(store, calls, people)
            figures.update(
                accounts=accounts,
                organizations=organizations,
                sqlite_mb=file_mb(stack.settings.sqlite_path),
                reads=time_reads(stack, store, people, reads),
            )
        finally:
            store.close()
            stack.stop()
    return figures


def trends_report(figures: dict) -> str:
    """Part 2 as a few readable lines."""
    lines = [
        f"Usage trends over {figures['calls']:,} recorded calls ({DAYS} days, "
        f"{figures['accounts']:,} accounts, {figures['organizations']} organizations, SQLite "
        f"{figures['sqlite_mb']:,} MB): filled in {figures['fill_s']} s "
        f"({figures['fill_per_s']:,} records/s through store.audit.append), folded in "
        f"{figures['fold_s']} s ({figures['fold_per_s']:,} records/s)",
        "  trends read, median / p90 in ms (target: server under 10 ms)",
    ]
    for name, f in figures["reads"].items():
        server, trip, query = f["server"], f["round_trip"], f["store_query"]
        lines.append(
            f"  {name:<26} server {server['median_ms']:>5} / {server['p90_ms']:<5} "
            f"round trip {trip['median_ms']:>5} / {trip['p90_ms']:<5} "
            f"store query {query['median_ms']:>5} / {query['p90_ms']:<5} "
            f"({f['reads']} reads, {f['total_calls']:,} calls in the period)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.audit_log [--calls N] [--reads N] [--seconds S] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.audit_log", description=__doc__)
    parser.add_argument("--calls", type=int, default=CALLS, help=f"recorded calls ({CALLS:,})")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--organizations", type=int, default=ORGANIZATIONS)
    parser.add_argument("--reads", type=int, default=READS, help="reads per trends case")
    Load.add_arguments(parser)
    parser.add_argument("--part", choices=("overhead", "trends", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="one JSON line per part")
    args = parser.parse_args(argv)
    if args.accounts < 2 or args.organizations < 1 or args.calls < 1 or args.reads < 1:
        parser.error("at least 2 accounts, 1 organization, 1 call and 1 read")
    failed = False
    if args.part in ("overhead", "both"):
        load = Load.from_arguments(args)
        print(generator_note(load), file=sys.stderr, flush=True)
        figures = overhead_figures(load)
        print(json.dumps(figures) if args.json else overhead_report(figures), flush=True)
        failed = figures["errors"] > 0
    if args.part in ("trends", "both"):
        figures = trends_figures(args.calls, args.accounts, args.organizations, args.reads)
        print(json.dumps(figures) if args.json else trends_report(figures), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
