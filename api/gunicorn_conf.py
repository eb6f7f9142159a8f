"""gunicorn settings of the API, shared by the Procfile and `launchers.devstack`.

    gunicorn -c python:api.gunicorn_conf --bind 127.0.0.1:8000 --workers 2 --threads 4 \\
        'api:create_app()'

The address, workers and threads stay on the command line; this module holds what keeps a
package link out of logs and error pages:

- no gunicorn access log (it prints the raw request line, referer and user agent): the app writes
  one line per request with the route template (`api.accesslog`);
- gunicorn's own refusals answered as JSON in the API's error shape (`api.gunicorn_worker`);
- request lines up to 16 KiB and header fields up to 16 KiB, so the path form and the
  `Authorization: Bearer` header of the longest valid UPN (8,192 characters) both fit;
- `logsafe`'s filter on every handler of the arbiter and the workers;

and the process-wide parts of logging and metrics:

- `logconfig`'s configuration (LOG_LEVEL, LOG_FORMAT) in the arbiter and the workers, through
  `logconfig_dict`; a bad value stops gunicorn before it starts, with one line;
- Prometheus' multiprocess mode (`api.metrics`): each worker writes its request figures to files
  under `DATA_DIR/metrics`, emptied when the arbiter starts, and a scrape sums them all.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import logsafe
from api.accesslog import flush_lines
from api.audit import flush as flush_audit

# Not `import logconfig`: gunicorn reads every name of this module, and `logconfig` is one of its
# settings (a logging config file).
from logconfig import dict_config, install_context
from settings import load_or_exit

# Checked in the arbiter before any worker starts: a bad variable stops gunicorn with one line.
_settings = load_or_exit()
METRICS_DIR = (_settings.data_dir / "metrics").absolute()

# Set in the arbiter before any worker starts. prometheus_client picks its multiprocess mode
# once, when first imported: nothing imports it in the arbiter before this (`api.create_app`
# imports `api.metrics` in each worker, and `child_exit` runs only once workers exist).
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={METRICS_DIR}"]
worker_class = "api.gunicorn_worker.JsonErrorWorker"  # gthread, with JSON refusals
logger_class = "api.gunicorn_worker.QuietAccessLogger"  # no gunicorn access lines, ever
accesslog = None
logconfig_dict = dict_config(_settings)
# The Python parser, whose request-line cap our worker raises; gunicorn_h1c (if ever installed)
# would apply its own.
http_parser = "python"
# gunicorn's maximum (0 would mean unlimited): it bounds any parser our worker does not build.
# Plain HTTP/1 connections get api.gunicorn_worker.REQUEST_LINE_LIMIT instead.
limit_request_line = 8190
# "Authorization: Bearer " and an 8,192-character UPN are 8,216 bytes with the line end, over
# gunicorn's 8190 default; no cap applies to this setting but ours.
limit_request_field_size = 16384

# The scheme comes from `api.proxies` alone: gunicorn would otherwise believe X-Forwarded-Proto
# from any loopback peer (its forwarded_allow_ips default), trusted or not.
secure_scheme_headers: dict[str, str] = {}
# Under DATA_DIR, not the shared ~/.gunicorn/gunicorn.ctl: two instances on one host would take
# each other's socket. (A Unix socket path holds at most 107 bytes.)
control_socket = str((_settings.data_dir / "gunicorn.ctl").resolve())


def empty_metrics_dir(directory: Path = METRICS_DIR) -> None:
    """Start with no figures: files left by an earlier run would be summed with this one's."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def on_starting(server) -> None:
    """In the arbiter, once its logging is set up and before any worker starts."""
    empty_metrics_dir()
    install_context()
    logsafe.install()


def post_worker_init(worker) -> None:
    """In each worker, once the app is loaded (its factory may have added handlers).

    The objects made so far (the app, its routes, the libraries) are frozen out of the garbage
    collector's sweeps: a batch of 10,000 events makes some 100,000 objects, and each sweep of
    the oldest generation walked the whole app again (about a third of a batch's CPU).
    """
    install_context()
    logsafe.install()
    gc.freeze()


def worker_exit(server, worker) -> None:
    """In each worker as it exits: the access lines, audit records and request figures it still
    buffers are written."""
    from api.metrics import pending_requests  # see raw_env: imported in workers only

    flush_lines()
    flush_audit()
    pending_requests.flush()


def child_exit(server, worker) -> None:
    """In the arbiter, once a worker has exited (even killed): its live gauges are dropped."""
    from prometheus_client.multiprocess import mark_process_dead  # see raw_env

    mark_process_dead(worker.pid, str(METRICS_DIR))
