"""Direct uploads: throughput against writing the same bytes to disk, and what the bandwidth
metering costs (not a test).

`python -m bench.uploads` (`make bench CASE=uploads`), on the embedded defaults (SQLite, the
embedded Redis broker, no worker: the uploads stay queued) and the Procfile's `web:` gunicorn:

1. Throughput: a zip of `--mb` MB (one stored member of random bytes, so nothing in it shrinks),
   `--repeat` times each, alternating:
   - the floor: the same bytes written to a new file beside the data directory, 1 MiB at a time,
     then fsynced (what keeping an upload costs at the least);
   - ours: `POST /api/process/upload` streamed from the file by a client on loopback, each time
     by a new account (so none is `ALREADY_UPLOADED`), from the first byte sent to the 202:
     the token checked, the charge, the body read, encrypted and hashed as it arrives, fsynced,
     the zip checked, the package sealed and queued.
   Medians in MB/s, their ratio (target: at most 1.5), and the peak resident memory of the
   gunicorn workers (flat in the upload's size: the body streams).
2. Metering: `charge` then `settle` of one transfer on the store, in one process
   (`--transfers` times: microseconds each); then `POST /api/usage/log-upload` loaded like the
   api-reads routes (requests per second), next to a hello-world route in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

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
from launchers.devstack import LocalStack
from settings import Settings
from storage import Store, open_store
from storage.bandwidth import account_meter
from storage.events import utc_day
from storage.identity import new_api_key
from storage.metering import charge

MB = 1_000_000
CHUNK = 1 << 20
UPLOAD_MB, REPEAT, TRANSFERS = 200, 3, 2000
NO_LIMIT = str(10**15)  # the throughput part measures uploads, not refusals
TARGET_RATIO = 1.5


SINK_APP = "bench.uploads:sink_app()"


def sink_app():
    """The HTTP floor: a minimal Flask app whose one route streams its body to a file in the
    data directory, 1 MiB at a time, fsyncs it and answers 202 (no token, no check, no
    encryption, no hash)."""
    from flask import Flask, request

    app = Flask("sink")

    def sink():
        target = Path(os.environ["DATA_DIR"]) / f"sink-{os.getpid()}.bin"
        with target.open("wb") as out:
            while chunk := request.stream.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        target.unlink()
        return {"ok": True}, 202

    app.add_url_rule("/sink", "sink", sink, methods=["POST"])
    app.add_url_rule("/ready", "ready", lambda: "ready")
    return app


def make_zip(path: Path, megabytes: int) -> int:
    """A zip of about `megabytes` MB whose one member is random bytes, stored; its size."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive,
        archive.open("package/random.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(megabytes):
            member.write(os.urandom(MB))
    return path.stat().st_size


def write_floor(source: Path, target: Path) -> float:
    """Seconds to write `source`'s bytes to `target` 1 MiB at a time, fsynced."""
    started = time.perf_counter()
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def new_account(store: Store, number: int) -> str:
    """A new account's API key."""
    identity, now = store.identity, time.time()
    organization = identity.organizations.create(f"bench {number}", now)
    account = identity.accounts.create(f"up{number}@bench.io", "u", organization.id, False, now)
    key = new_api_key()
    identity.api_keys.create(account.id, "bench", key, now)
    return key


def bearer(url: str, key: str) -> dict[str, str]:
    answer = requests.post(f"{url}/api/auth", json={"api_key": key}, timeout=10)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def upload_seconds(url: str, headers: dict[str, str], path: Path) -> float:
    """Seconds from the first byte of `path` sent to `url` to its 202. The client is a socket
    and `sendfile`: the kernel sends the file, so the client costs next to nothing on the two
    cores it shares with the server (requests sends 8 KiB at a time, which capped both routes
    near 450 MB/s)."""
    parts = urlsplit(url)
    head = "".join(
        [
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n",
            "Content-Type: application/zip\r\nConnection: close\r\n",
            *(f"{name}: {value}\r\n" for name, value in headers.items()),
            f"Content-Length: {path.stat().st_size}\r\n\r\n",
        ]
    ).encode()
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port)) as sock, path.open("rb") as body:
        started = time.perf_counter()
        sock.sendall(head)
        sock.sendfile(body)
        answer = _whole_answer(sock)
        seconds = time.perf_counter() - started
    status = answer.split(b" ", 2)[1]
    if status != b"202":
        raise SystemExit(f"the upload answered {answer[:400]!r}")
    return seconds


def _whole_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    pieces = []
    while piece := sock.recv(65536):
        pieces.append(piece)
    return b"".join(pieces)


def peak_rss_mb(master: int) -> float:
    """The largest peak resident memory of gunicorn's workers (VmHWM), in MB."""
    peaks = []
    for task in Path(f"/proc/{master}/task").glob("*"):
        for child in (task / "children").read_text().split():
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


def throughput(stack: LocalStack, url: str, pid: int, sink_url: str, sizes: tuple) -> dict:
    megabytes, repeat = sizes
    source = stack.data_dir.parent / "upload.zip"
    size = make_zip(source, megabytes)
    store = open_store(stack.settings)
    try:
        keys = [new_account(store, n) for n in range(repeat + 1)]
    finally:
        store.close()
    upload = f"{url}/api/process/upload"
    upload_seconds(upload, bearer(url, keys[0]), source)  # warm-up: first writes, imports
    upload_seconds(f"{sink_url}/sink", {}, source)
    floors, sinks, ours = [], [], []
    for key in keys[1:]:
        floors.append(write_floor(source, stack.data_dir.parent / "floor.bin"))
        sinks.append(upload_seconds(f"{sink_url}/sink", {}, source))
        ours.append(upload_seconds(upload, bearer(url, key), source))
    floor, sink, mine = (statistics.median(times) for times in (floors, sinks, ours))
    return {
        "upload_bytes": size,
        "floor_mb_s": round(size / MB / floor, 1),
        "sink_mb_s": round(size / MB / sink, 1),
        "ours_mb_s": round(size / MB / mine, 1),
        "ratio": round(mine / floor, 2),
        "ratios": [round(o / f, 2) for o, f in zip(ours, floors, strict=True)],
        "sink_ratio": round(mine / sink, 2),
        "peak_rss_mb": round(peak_rss_mb(pid), 1),
    }


def charge_micros(settings: Settings, transfers: int) -> float:
    """Microseconds of one `charge` and its `settle` on the store, in this process."""
    store = open_store(settings)
    try:
        meter, limit = account_meter("bench-meter"), 10**15
        started = time.perf_counter()
        for _ in range(transfers):
            at = time.time()
            charged = charge(store.bandwidth, meter, 1000, limit, "bench", at)
            assert charged is not None and utc_day(at) == charged.day
            charged.settle(900)
        return (time.perf_counter() - started) / transfers * 1e6
    finally:
        store.close()


def metering(stack: LocalStack, url: str, pid: int, load: Load, transfers: int) -> dict:
    store = open_store(stack.settings)
    try:
        key = new_account(store, 10_000)
    finally:
        store.close()
    headers = bearer(url, key)
    check = Post(orjson.dumps({"file_size": 1000}), expect=200)
    checked = load_route(
        f"{url}/api/usage/check-upload-bandwidth", headers, load, Server(pid), check
    )
    log = Post(orjson.dumps({"file_name": "bench.bin", "file_size": 1}), expect=200)
    logged = load_route(f"{url}/api/usage/log-upload", headers, load, Server(pid), log)
    return {
        "charge_settle_us": round(charge_micros(stack.settings, transfers), 1),
        "check_rps": checked["rps"],
        "check_server_us": checked["server_us_per_request"],
        "log_upload_rps": logged["rps"],
        "log_upload_server_us": logged["server_us_per_request"],
    }


def figures(megabytes: int, repeat: int, load: Load, transfers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-uploads-") as tmp:
        env = {"RATE_LIMIT_READ": READ_LIMIT, "RATE_LIMIT_SUBMIT": READ_LIMIT}
        stack = LocalStack(Path(tmp) / "data", {**env, "DAILY_BANDWIDTH_LIMIT": NO_LIMIT})
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        stack.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        stack.start_broker()
        try:
            with (
                gunicorn(stack, "hello", "/hello", HELLO_APP) as (hello_url, hello_pid),
                gunicorn(stack, "sink", "/ready", SINK_APP) as (sink_url, _sink_pid),
                gunicorn(stack, "api", "/health") as (url, pid),
            ):
                result = throughput(stack, url, pid, sink_url, (megabytes, repeat))
                result |= metering(stack, url, pid, load, transfers)
                hello = load_route(hello_url + "/hello", {}, load, Server(hello_pid))
                return {**result, "hello_rps": hello["rps"]}
        finally:
            stack.stop()


def report(result: dict, load: Load) -> str:
    ratio = "meets" if result["ratio"] <= TARGET_RATIO else "misses"
    return "\n".join(
        [
            generator_note(load),
            f"Direct uploads (SQLite, the Procfile's gunicorn; target: at most {TARGET_RATIO}x "
            "writing the same bytes to disk)",
            f"  {result['upload_bytes'] / MB:,.0f} MB zip: writing it to disk "
            f"{result['floor_mb_s']} MB/s, POST /api/process/upload {result['ours_mb_s']} MB/s: "
            f"{result['ratio']}x ({ratio} the target; runs {result['ratios']}); gunicorn "
            f"workers' peak RSS {result['peak_rss_mb']} MB",
            f"  the same body to a minimal route of the same gunicorn that only writes it to "
            f"disk: {result['sink_mb_s']} MB/s (ours {result['sink_ratio']}x that)",
            f"  metering: charge + settle {result['charge_settle_us']} us per transfer (on the "
            f"store, one process); POST /api/usage/check-upload-bandwidth "
            f"{result['check_rps']:,} req/s ({result['check_server_us']} us of server CPU "
            f"each); POST /api/usage/log-upload {result['log_upload_rps']:,} req/s "
            f"({result['log_upload_server_us']} us each: every answer lists the day's newest "
            f"uploads, up to BANDWIDTH_LIST_MAX); a hello-world route in the same gunicorn "
            f"configuration, same run: {result['hello_rps']:,} req/s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.uploads` and `make bench CASE=uploads`."""
    parser = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__)
    parser.add_argument("--mb", type=int, default=UPLOAD_MB, help=f"upload size ({UPLOAD_MB})")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="uploads and floors")
    parser.add_argument("--transfers", type=int, default=TRANSFERS, help="charges timed")
    Load.add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    load = Load.from_arguments(args)
    result = figures(args.mb, args.repeat, load, args.transfers)
    print(json.dumps(result) if args.json else report(result, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
