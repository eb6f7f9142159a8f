"""Stores' events: intake speed, and the statistics read over many stored events (not a test).

`python -m bench.store_events` (`make bench CASE=store-events`), two parts, each on the embedded
defaults (SQLite, the embedded broker) and the Procfile's `web:` gunicorn line:

1. Intake, with a real worker folding the events meanwhile (as in production):
   - batches: `--batches` POSTs of `/api/events` holding 10,000 events each (JSON arrays made
     before timing), sent by `--senders` client threads over keep-alive connections; events per
     second over the wall time, and the seconds the worker then needed to count the last ones;
   - single events: `POST /api/event` loaded by wrk (or bench.api_reads' Python generator) with
     bench.api_reads' machinery (warm-up, re-measured while the machine is busy); requests per
     second and the server's CPU per request.
   Then every event posted is checked counted once: the counters' total equals the events sent;
   last, a hello-world Flask route under the same gunicorn settings, loaded the same way, shows
   how fast the machine was during the run.
2. Reads: a store with `--events` events (10 million by default) over the last 365 days, from
   `--shoppers` shoppers, of 8 types, appended through `store.events.append` in batches of
   50,000 and counted by `store.events.fold` in the worker's steps (`EVENTS_FOLD_BATCH`), with
   the time of each and the file's size; the counters compared with a recount of the stored
   events (SQL over the events themselves). Then `GET /api/event/amount/<type>`,
   `/avg-time/<type>` and `/store-events-amount/<store_id>` over the last 90 days, `--reads`
   times each over a keep-alive connection to gunicorn: median and 90th percentile of the
   server's time (the access log's duration), of the round trip and of the store's query alone.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests

from bench.api_reads import (
    HELLO_APP,
    READ_LIMIT,
    Load,
    Post,
    Server,
    generator_note,
    gunicorn,
    load_route,
)
from bench.audit_log import access_durations, file_mb, percentiles
from launchers.devstack import LocalStack
from settings import Settings
from storage import Store, open_shopper_vault, open_store
from storage.events import Event, new_event_ids
from storage.identity import new_api_key
from storage.shoppers import ShopperFields
from storage.sqlite_events import events_path

EVENTS = 10_000_000
SHOPPERS = 10_000
DAYS = 365
READ_DAYS = 90
TYPES = ("page_view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase",
         "review", "login")  # fmt: skip
BATCH = 10_000  # events per POST /api/events
APPEND_BATCH = 50_000  # events per store.events.append while filling
BATCHES, SENDERS, READS = 60, 2, 200
INTAKE_SHOPPERS = 1_000


# -- a store, its key and its shoppers ---------------------------------------------------------


def make_store(settings: Settings, store: Store, shoppers: int) -> tuple[str, str, list[str]]:
    """A store with an API key and `shoppers` shoppers: (store id, key, shopper ids)."""
    now = time.time()
    identity = store.identity
    organization = identity.organizations.create("bench", now)
    shop = identity.storefronts.create("bench shop", organization.id, now)
    maker = identity.accounts.create("bench@example.org", "b", organization.id, True, now)
    key = new_api_key()
    identity.api_keys.create(maker.id, "bench", key, now, storefront_id=shop.id)
    vault = open_shopper_vault(settings, role="worker", ensure_indexes=True)
    try:
        ids = [
            vault.create(shop.id, ShopperFields(f"shopper{n}@example.org"), now).id
            for n in range(shoppers)
        ]
    finally:
        vault.close()
    return shop.id, key, ids


def store_token(url: str, key: str) -> dict[str, str]:
    answer = requests.post(f"{url}/api/auth", json={"api_key": key}, timeout=10)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def counted_total(settings: Settings, store_id: str) -> int:
    with sqlite3.connect(events_path(settings.sqlite_path)) as db:
        (total,) = db.execute(
            "SELECT COALESCE(SUM(events), 0) FROM event_store_days WHERE store_id = ?", (store_id,)
        ).fetchone()
    return total


def wait_counted(settings: Settings, store_id: str, expected: int, timeout: float) -> float:
    """Seconds until the counters hold `expected` events (raises past `timeout`)."""
    started = time.monotonic()
    while counted_total(settings, store_id) < expected:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"the worker had not counted {expected} events in {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


# -- 1. intake ------------------------------------------------------------------------------------


def batch_bodies(shoppers: list[str], count: int) -> list[bytes]:
    rng = random.Random(11)

    def event() -> dict:
        data = {"sku": rng.randrange(100_000), "price": rng.randrange(100, 99_999)}
        return {"type": rng.choice(TYPES), "user_id": rng.choice(shoppers), "data": data}

    return [orjson.dumps([event() for _ in range(BATCH)]) for _ in range(count)]


def send_batches(url: str, headers: dict[str, str], bodies: list[bytes], senders: int) -> float:
    """POST every body, `senders` threads each on its own keep-alive connection; seconds."""
    queue = list(reversed(bodies))
    lock, failures = threading.Lock(), []

    def sender() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                answer = session.post(
                    f"{url}/api/events",
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                    timeout=120,
                )
                if answer.status_code != 202:
                    failures.append(answer.text[:200])

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} batches refused: {failures[0]}")
    return time.perf_counter() - started


def intake_figures(batches: int, senders: int, load: Load) -> dict:
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-events-") as tmp:
        stack = LocalStack(Path(tmp), extra_env={"RATE_LIMIT_READ": READ_LIMIT})
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(stack.settings)
        try:
            store_id, key, shoppers = make_store(stack.settings, store, INTAKE_SHOPPERS)
        finally:
            store.close()
        stack.start_broker()
        stack.start_worker("worker")
        stack.start_beat()
        try:
            with (
                gunicorn(stack, "hello", "/hello", HELLO_APP) as (hello_url, hello_pid),
                gunicorn(stack, "api", "/health") as (url, pid),
            ):
                figures = _intake(stack, url, pid, store_id, key, shoppers, batches, senders, load)
                hello = load_route(hello_url + "/hello", {}, load, Server(hello_pid))
                return {**figures, "hello_rps": hello["rps"]}
        finally:
            stack.stop()


def _intake(stack, url, pid, store_id, key, shoppers, batches, senders, load) -> dict:
    headers = store_token(url, key)
    bodies = batch_bodies(shoppers, batches)
    send_batches(url, headers, bodies[:2], senders)  # warm-up: connections, first writes
    warm = 2 * BATCH
    seconds = send_batches(url, headers, bodies[2:], senders)
    sent = (len(bodies) - 2) * BATCH
    lag = wait_counted(stack.settings, store_id, warm + sent, timeout=600)
    single = Post(orjson.dumps({"type": "page_view", "user_id": shoppers[0], "data": {"n": 1}}))
    broker = (stack.processes["broker"].pid,) if "broker" in stack.processes else ()
    figures = load_route(url + "/api/event", headers, load, Server(pid, broker), single)
    time.sleep(1.0)  # the answers still in flight when the load generator stopped are stored
    with sqlite3.connect(events_path(stack.settings.sqlite_path)) as db:
        counted = db.execute("SELECT COUNT(*) FROM events")  # the bench's one store
        (stored,) = counted.fetchone()
    wait_counted(stack.settings, store_id, stored, timeout=600)
    return {
        "batch_events": sent,
        "batch_seconds": round(seconds, 2),
        "batch_events_per_s": round(sent / seconds),
        "senders": senders,
        "fold_lag_s": round(lag, 2),
        "single_rps": figures["rps"],
        "single_server_us": figures["server_us_per_request"],
        "single_errors": figures["non200"] + figures["errors"],
        "others_share": figures["others_share"],
        "stored": stored,
        "counted": counted_total(stack.settings, store_id),
    }


def intake_report(figures: dict) -> str:
    return "\n".join(
        [
            "Event intake (SQLite, the Procfile's gunicorn, a worker folding meanwhile; targets: "
            "batches 50,000 events/s, single events 2,000/s)",
            f"  batches of {BATCH:,}: {figures['batch_events']:,} events in "
            f"{figures['batch_seconds']} s = {figures['batch_events_per_s']:,} events/s "
            f"({figures['senders']} senders); the worker counted the last ones "
            f"{figures['fold_lag_s']} s after",
            f"  single events: {figures['single_rps']:,} req/s, server CPU "
            f"{figures['single_server_us']} us/request, {figures['single_errors']} answers not "
            f"201, other processes up to {figures['others_share']:.0%}; a hello-world Flask "
            f"route in the same gunicorn configuration, same run: {figures['hello_rps']:,} req/s",
            f"  every event counted once: {figures['stored']:,} stored, "
            f"{figures['counted']:,} counted",
        ]
    )


# -- 2. reads over many events -------------------------------------------------------------------


def stored_events(store_id: str, shoppers: list[str], total: int) -> Iterator[list[Event]]:
    """`total` events over the DAYS days ending today, in time order, in APPEND_BATCH batches."""
    rng = random.Random(5)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = (today - timedelta(days=DAYS - 1)).timestamp()
    data = orjson.dumps({"sku": 1234, "price": 999})
    made = 0
    while made < total:
        size = min(APPEND_BATCH, total - made)
        step = DAYS * 86_400 / total
        yield [
            Event(event_id, store_id, rng.choice(shoppers), rng.choice(TYPES), data,
                  first + (made + n) * step)
            for n, event_id in enumerate(new_event_ids(size))
        ]  # fmt: skip
        made += size


def fill_and_fold(store: Store, settings: Settings, store_id: str, shoppers, total) -> dict:
    started = time.perf_counter()
    for batch in stored_events(store_id, shoppers, total):
        store.events.append(batch)
    filled = time.perf_counter()
    folded = 0
    while done := store.events.fold(settings.events_fold_batch, time.time()):
        folded += done
    fold_seconds = time.perf_counter() - filled
    return {
        "events": total,
        "fill_s": round(filled - started, 1),
        "fill_per_s": round(total / (filled - started)),
        "fold_s": round(fold_seconds, 1),
        "fold_per_s": round(folded / fold_seconds),
    }


def recount_matches(settings: Settings, store_id: str) -> bool:
    """The per type and day counters against SQL over the events themselves."""
    with sqlite3.connect(events_path(settings.sqlite_path)) as db:
        recount = db.execute(
            "SELECT e.type, e.day, COUNT(*), COUNT(DISTINCT k.user_id)"
            " FROM events AS e JOIN event_shoppers AS k ON k.key = e.shopper"
            " WHERE k.store_id = ? GROUP BY e.type, e.day",
            (store_id,),
        ).fetchall()
        counters = db.execute(
            "SELECT type, day, events, shoppers FROM event_type_days WHERE store_id = ?",
            (store_id,),
        ).fetchall()
    return sorted(recount) == sorted(counters)


def time_reads(stack: LocalStack, store: Store, store_id: str, key: str, reads: int) -> dict:
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=READ_DAYS - 1)).isoformat()
    query = {"date_from": first, "date_to": today.isoformat()}
    routes = {  # name: (path, the access log's route template, event type)
        "amount/purchase": (
            f"/api/event/amount/{TYPES[5]}",
            "/api/event/amount/<event_type>",
            TYPES[5],
        ),
        "avg-time/purchase": (
            f"/api/event/avg-time/{TYPES[5]}",
            "/api/event/avg-time/<event_type>",
            TYPES[5],
        ),
        "store-events-amount": (
            f"/api/event/store-events-amount/{store_id}",
            "/api/event/store-events-amount/<store_id>",
            None,
        ),
    }
    figures: dict = {}
    with gunicorn(stack, "reads", "/health") as (url, _pid), requests.Session() as session:
        headers = store_token(url, key)
        log = stack.log_path("reads")
        for name, (path, template, event_type) in routes.items():
            line = re.compile(rf"GET {re.escape(template)} 200 ([\d.]+)ms")
            answer = session.get(url + path, params=query, headers=headers, timeout=10)
            answer.raise_for_status()
            time.sleep(0.5)  # the access lines of earlier reads are written
            _, offset = access_durations(log, 0, line)
            trips = []
            for _ in range(reads):
                started = time.perf_counter()
                session.get(url + path, params=query, headers=headers, timeout=10)
                trips.append((time.perf_counter() - started) * 1000)
            time.sleep(0.5)
            server, _ = access_durations(log, offset, line)
            store_ms = []
            for _ in range(reads):
                started = time.perf_counter()
                if event_type:
                    store.events.type_days(store_id, event_type, first, today.isoformat(), 0, 366)
                else:
                    store.events.store_days(store_id, first, today.isoformat(), 0, 366)
                store_ms.append((time.perf_counter() - started) * 1000)
            figures[name] = {
                "days": len(answer.json()),
                "server": percentiles(server),
                "round_trip": percentiles(trips),
                "store_query": percentiles(store_ms),
                "reads": len(server),
            }
    return figures


def read_figures(events: int, shoppers: int, reads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-event-reads-") as tmp:
        stack = LocalStack(Path(tmp), extra_env={"RATE_LIMIT_READ": READ_LIMIT})
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(stack.settings)
        stack.start_broker()
        try:
            store_id, key, ids = make_store(stack.settings, store, shoppers)
            figures = fill_and_fold(store, stack.settings, store_id, ids, events)
            figures.update(
                shoppers=shoppers,
                sqlite_mb=file_mb(events_path(stack.settings.sqlite_path)),
                recount_equal=recount_matches(stack.settings, store_id),
                reads=time_reads(stack, store, store_id, key, reads),
            )
        finally:
            store.close()
            stack.stop()
    return figures


def read_report(figures: dict) -> str:
    lines = [
        f"Event statistics over {figures['events']:,} stored events ({DAYS} days, "
        f"{figures['shoppers']:,} shoppers, {len(TYPES)} types, one store, events.sqlite3 "
        f"{figures['sqlite_mb']:,} MB): appended in {figures['fill_s']} s "
        f"({figures['fill_per_s']:,} events/s through store.events.append), counted in "
        f"{figures['fold_s']} s ({figures['fold_per_s']:,} events/s); counters equal a recount: "
        f"{'yes' if figures['recount_equal'] else 'NO'}",
        f"  reads of the last {READ_DAYS} days, median / p90 in ms (target: under 10 ms)",
    ]
    for name, f in figures["reads"].items():
        server, trip, query = f["server"], f["round_trip"], f["store_query"]
        lines.append(
            f"  {name:<20} server {server['median_ms']:>5} / {server['p90_ms']:<5} "
            f"round trip {trip['median_ms']:>5} / {trip['p90_ms']:<5} "
            f"store query {query['median_ms']:>5} / {query['p90_ms']:<5} "
            f"({f['reads']} reads, {f['days']} days answered)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.store_events [--part intake|reads|both] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.store_events", description=__doc__)
    parser.add_argument("--events", type=int, default=EVENTS, help=f"stored events ({EVENTS:,})")
    parser.add_argument("--shoppers", type=int, default=SHOPPERS)
    parser.add_argument("--batches", type=int, default=BATCHES, help="batches of 10,000 posted")
    parser.add_argument("--senders", type=int, default=SENDERS, help="client threads posting")
    parser.add_argument("--reads", type=int, default=READS, help="reads per statistics route")
    Load.add_arguments(parser)
    parser.add_argument("--part", choices=("intake", "reads", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="one JSON line per part")
    args = parser.parse_args(argv)
    if min(args.events, args.shoppers, args.reads, args.senders) < 1 or args.batches < 3:
        parser.error("at least 1 event, shopper, read and sender, and 3 batches")
    failed = False
    if args.part in ("intake", "both"):
        load = Load.from_arguments(args)
        print(generator_note(load), file=sys.stderr, flush=True)
        figures = intake_figures(args.batches, args.senders, load)
        print(json.dumps(figures) if args.json else intake_report(figures), flush=True)
        failed |= figures["single_errors"] > 0 or figures["stored"] != figures["counted"]
    if args.part in ("reads", "both"):
        figures = read_figures(args.events, args.shoppers, args.reads)
        print(json.dumps(figures) if args.json else read_report(figures), flush=True)
        failed |= not figures["recount_equal"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
