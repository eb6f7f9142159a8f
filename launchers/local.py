"""`python -m launchers.local PACKAGE.zip`: process a zip on disk through the worker's code path.

Parse, aggregate, seal and store exactly as the worker does, without a broker or a download;
the documents land in the configured store, so the API serves them. Prints the package id, the
`about` figures and the time taken. The key material comes from `--link`, or a random Discord-style
link is generated and printed (keep it: it is the only way to read the statistics).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from parsers.ahead import read_ahead

# The settings, the store and the pipeline are imported by the functions that use them: `main`
# first opens and maps the zip and sets the activity process reading its activity, on the other
# core while they load (a tenth of a second), so a big package's activity is read from the
# command's first moments.
if TYPE_CHECKING:
    from settings import Settings
    from storage import Store

UPN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def random_discord_link() -> str:
    """A fresh Discord-style package link with a 600-character UPN."""
    upn = "".join(secrets.choice(UPN_ALPHABET) for _ in range(600))
    return f"https://click.discord.com/ls/click?upn={upn}"


def process_local_zip(
    zip_path: Path, link: str, settings: Settings, store: Store, started: float | None = None
) -> dict:
    """Queue, claim and process `zip_path` as the package of `link`; returns a summary, its
    `seconds` counted from `started` (a `time.perf_counter()` reading: when the zip was read
    ahead, its activity begun), else from the run's start."""
    from storage.links import parse_package_link
    from tasks.pipeline import run_package

    parsed = parse_package_link(link, settings.whitelisted_origins, settings.server_secret())
    store.packages.delete(parsed.package_id)
    store.statistics.delete_package(parsed.package_id)
    store.app_files.delete_package(parsed.package_id)
    assert store.links is not None  # open_store always sets it (storage.base.Store)
    sealed = store.links.seal(parsed.package_id, link)
    store.packages.enqueue(parsed.package_id, sealed, time.time())
    started = time.perf_counter() if started is None else started
    outcome = run_package(parsed.package_id, settings, store, local_zip=zip_path)
    seconds = time.perf_counter() - started
    summary = {
        "package_id": parsed.package_id,
        "result": outcome.result,
        "views": outcome.views,
        "seconds": round(seconds, 3),
    }
    if outcome.result == "PROCESSED":
        summary["about"] = _read_about(parsed, settings, store)
    return summary


def _read_about(parsed, settings: Settings, store: Store) -> dict:
    from storage.crypto import PackageKey

    record = store.packages.get(parsed.package_id)
    assert record is not None  # just PROCESSED by the caller
    key = PackageKey(parsed.package_id, parsed.key_material, settings.server_secret())
    blob = store.statistics.get(parsed.package_id, record.generation, key.view_id("about"))
    assert blob is not None  # a PROCESSED package has its about view
    return key.open("about", blob)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m launchers.local", description=__doc__.split("\n")[0]
    )
    parser.add_argument("zip", type=Path, help="the package zip on disk")
    parser.add_argument("--link", help="the package link (its UPN is the key); default: generated")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)
    if not args.zip.is_file():
        parser.error(f"no such file: {args.zip}")
    link = args.link or random_discord_link()
    zip_path = args.zip.resolve()
    opened = time.perf_counter()
    with read_ahead(zip_path):  # before the imports of `_process`
        summary = _process(zip_path, link, parser, opened)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary, None if args.link else link)
    return 0 if summary["result"] == "PROCESSED" else 1


def _process(zip_path: Path, link: str, parser: argparse.ArgumentParser, opened: float) -> dict:
    from settings import load_or_exit
    from storage import open_store
    from storage.links import InvalidLink

    settings = load_or_exit()
    store = open_store(settings)
    try:
        return process_local_zip(zip_path, link, settings, store, opened)
    except InvalidLink as exc:
        parser.error(f"invalid --link: {exc}")
    finally:
        store.close()


def _print_summary(summary: dict, generated_link: str | None) -> None:
    print(f"package id : {summary['package_id']}")
    print(f"result     : {summary['result']} ({summary['views']} views)")
    print(f"time       : {summary['seconds']} s")
    if generated_link:
        print(f"link (keep it, it is the only key to the statistics):\n  {generated_link}")
    if "about" in summary:
        print("about      :")
        print(json.dumps(summary["about"], indent=2))


def command(argv: list[str] | None = None) -> NoReturn:
    """`main` as a one-shot process: Python's cyclic garbage collector off for its whole life,
    and its end without the interpreter's teardown.

    Its imports and run leave nothing for the collector to find (its passes during the imports
    alone cost 13-14 ms); a worker pauses it for each run instead
    (`tasks.pipeline.CollectorPause`). The teardown, a last full collection and every module
    freed, took 50-80 ms after the summary was printed; by then the store is closed (`_process`)
    and the activity process ended (`main`), so only the standard streams and logging's
    handlers are left to flush. The exit status is `main`'s (1 for a run that did not end
    PROCESSED); a usage error or an exception still leaves the usual way, teardown included.
    """
    gc.disable()
    code = main(argv)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    command()
