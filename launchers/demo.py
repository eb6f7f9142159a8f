"""`make demo`: the main job end to end on embedded defaults, then everything stops.

Generates a sample package, serves it from 127.0.0.1, starts the embedded broker, a worker and the
API, submits the link through `POST /api/process`, shows progress, prints the statistics.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

from launchers.devstack import FileServer, LocalStack
from samples import SampleSpec, generate_package

POLL_SECONDS = 0.3
DEMO_TIMEOUT_SECONDS = 300
BAR_WIDTH = 30


def _bar(status: dict) -> str:
    percent = (status.get("progress") or {}).get("percent") or 0
    filled = BAR_WIDTH * percent // 100
    step = status.get("processingStep") or ("ERRORED" if status.get("isErrored") else "")
    return f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {step:<12}"


def _wait_until_done(api: str, package_id: str, headers: dict) -> dict:
    deadline = time.monotonic() + DEMO_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        status = requests.get(
            f"{api}/api/process/{package_id}/status", headers=headers, timeout=10
        ).json()
        sys.stdout.write(_bar(status))
        sys.stdout.flush()
        if status["isDataAvailable"] or status["isErrored"]:
            print()
            return status
        time.sleep(POLL_SECONDS)
    raise SystemExit("the demo package was not processed in time")


def _print_overview(overview: dict) -> None:
    print("\nOverview (lifetime)")
    for key in (
        "messages",
        "active_days",
        "first_message_at",
        "last_message_at",
        "people_messaged",
        "servers",
        "channels",
        "voice_minutes",
        "reactions",
        "servers_joined",
        "friends",
        "blocked",
    ):
        print(f"  {key:<18} {overview.get(key)}")
    print(
        f"  {'sessions':<18} {overview['sessions']['count']} "
        f"({overview['sessions']['minutes']} min)"
    )
    print(f"  {'app opens':<18} {overview['app_opens']['total']} {overview['app_opens']['by_os']}")
    print(f"  {'payments':<18} {overview['payments']}")


def _display_name(entry: dict) -> str:
    name = entry.get("display_name") or entry.get("name") or entry.get("username")
    if kind := entry.get("kind"):
        where = entry.get("guild_name") or kind.replace("_", " ")
        return f"{name or 'unnamed'} ({where})"
    return name or "unnamed"


def _print_top(api: str, package_id: str, headers: dict) -> None:
    for kind in ("dms", "guilds", "channels"):
        top = requests.get(
            f"{api}/api/data/{package_id}/top/{kind}/lifetime?limit=5", headers=headers, timeout=10
        ).json()
        print(f"\nTop {kind} (lifetime, {top['total']} in all)")
        for rank, entry in enumerate(top["entries"], 1):
            name = _display_name(entry)
            print(
                f"  {rank}. {name!s:<28} {entry['messages']:>7} messages "
                f"{entry['voice_minutes']:>8} voice min"
            )


def run_demo(work: Path) -> int:
    """Run the demo in `work`; returns the exit code."""
    served = work / "www"
    served.mkdir(parents=True)
    print("Generating a sample package (layout D)...")
    truth = generate_package(
        served / "package.zip", SampleSpec(layout="D", messages=20_000, events=30_000)
    )
    with FileServer(served) as files:
        stack = LocalStack(work / "data", {"DL_ZIP_WHITELISTED_DOMAINS": files.origin})
        with stack:
            print("Starting the embedded broker, a worker and the API...")
            stack.start_all()
            link = f"{files.origin}/package.zip?token={secrets.token_urlsafe(24)}"
            answer = requests.post(
                f"{stack.api_url}/api/process", json={"package_link": link}, timeout=10
            )
            package_id = answer.json()["packageId"]
            print(f"POST /api/process -> {answer.status_code}, package {package_id}")
            headers = {"Authorization": f"Bearer {link}"}
            status = _wait_until_done(stack.api_url, package_id, headers)
            if status["isErrored"]:
                print(f"processing failed: {status['errorMessageCode']}")
                return 1
            overview = requests.get(
                f"{stack.api_url}/api/data/{package_id}/overview", headers=headers, timeout=10
            ).json()
            _print_overview(overview)
            _print_top(stack.api_url, package_id, headers)
            print(
                f"\nThe generator wrote {truth.messages} messages; the API counted "
                f"{overview['messages']}."
            )
            print("Stopping every process...")
    return 0 if overview["messages"] == truth.messages else 1


def main() -> None:
    """Entry point of `make demo`."""
    work = Path(tempfile.mkdtemp(prefix="dumpus-demo-"))
    try:
        sys.exit(run_demo(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
