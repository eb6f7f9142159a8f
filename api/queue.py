"""The queue facade: the only place the API talks to the broker.

Tasks are sent by name (`tasks/names.py`) with the package id as the only argument and as the
task id, so Flower, logs and storage line up and no link or UPN ever reaches the broker.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kombu.exceptions import ChannelError, OperationalError

from tasks import names

RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
PING_TIMEOUT_SECONDS = 2.0
# A broker that accepts connections and then stops answering (stalled, out of memory, paused)
# must not hold a request thread: every socket operation of the API's broker calls has this bound.
SEND_TIMEOUT_SECONDS = 5.0


def _connection_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OperationalError, OSError, ConnectionError)
    try:
        from redis import exceptions as redis_errors
    except ImportError:  # another broker transport without redis installed
        return errors
    return (*errors, redis_errors.ConnectionError, redis_errors.TimeoutError)


class QueueUnavailable(Exception):
    """The broker could not take the message."""


class PackageQueue:
    """Sends package jobs to the workers through an injected Celery app."""

    def __init__(self, celery_app: Any) -> None:
        self.celery_app = celery_app

    def submit(self, package_id: str) -> None:
        """Queue the processing of one package; raise QueueUnavailable if the broker is down."""
        self._send(names.package_message(package_id))

    def recount_project(self, project_id: str) -> None:
        """Queue a recount of a project's statistics; QueueUnavailable if the broker is down
        (beat sends it again later: `tasks.projects.resend_project_recounts`)."""
        self._send(names.recount_message(project_id))

    def _send(self, message: dict[str, Any]) -> None:
        try:
            with self._connection(SEND_TIMEOUT_SECONDS) as conn:
                self.celery_app.send_task(
                    **message, connection=conn, retry=True, retry_policy=RETRY_POLICY
                )
        except _connection_errors() as exc:
            raise QueueUnavailable(type(exc).__name__) from exc

    def _connection(self, timeout: float) -> Any:
        """A broker connection whose every socket operation gives up after `timeout` seconds."""
        return self.celery_app.connection_for_write(
            connect_timeout=timeout, transport_options=_read_timeouts(timeout)
        )

    def ping(self) -> bool:
        """True when the broker accepts a connection within a couple of seconds."""
        try:
            conn = self._connection(PING_TIMEOUT_SECONDS)
        except Exception:  # a broken broker URL is an unreachable broker, not a 500
            return False
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=PING_TIMEOUT_SECONDS)
            return True
        except Exception:  # any failure means unreachable for /health
            return False
        finally:
            conn.release()

    def has_consumer(self, queue: str, timeout: float) -> bool:
        """Whether a worker consumes `queue`, asked of every worker within `timeout` seconds.

        One broadcast (`inspect().active_queues()`) whose replies are awaited for `timeout`.
        Raises QueueUnavailable when the broker cannot be reached to ask.
        """
        try:
            with self._connection(timeout) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
                inspector = self.celery_app.control.inspect(timeout=timeout, connection=conn)
                replies = inspector.active_queues() or {}
        except Exception as exc:  # a broken broker URL is an unreachable broker too
            raise QueueUnavailable(type(exc).__name__) from exc
        return any(q.get("name") == queue for queues in replies.values() for q in queues or ())

    def depths(self, queues: tuple[str, ...], timeout: float) -> dict[str, int]:
        """Messages waiting in each queue (the API's /metrics); raises when the broker does not
        answer within about `timeout` seconds."""
        conn = self.celery_app.connection_for_read(
            connect_timeout=timeout, transport_options=_read_timeouts(timeout)
        )
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            return {name: _depth(conn, name) for name in queues}
        finally:
            conn.release()


def _read_timeouts(seconds: float) -> dict[str, float]:
    """Socket timeouts of a broker read, under the names of the Redis and the AMQP transports
    (each reads its own and ignores the others)."""
    return {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "read_timeout": seconds,
        "write_timeout": seconds,
    }


def _depth(conn: Any, queue: str) -> int:
    """`queue_declare(passive=True)`'s message count on a channel of its own; a queue the broker
    does not know (Redis drops an empty one) holds nothing."""
    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except ChannelError as exc:
        if "NOT_FOUND" in str(exc) or str(getattr(exc, "reply_code", "")) == "404":
            return 0
        raise
    finally:
        # The broker closes an AMQP channel itself after NOT_FOUND.
        with contextlib.suppress(Exception):
            channel.close()
