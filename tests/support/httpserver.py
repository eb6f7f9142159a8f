"""A scripted HTTP server on 127.0.0.1 for download tests: routes map a path to a handler."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable

Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class ScriptedServer:
    """Serves `routes[path](handler)`; 404 for any other path. Use as a context manager."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits.append(path)
                route = server.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def body(data: bytes, *, length: bool = True, status: int = 200) -> Route:
    """A route answering `data` (with or without Content-Length)."""

    def route(handler):
        handler.send_response(status)
        if length:
            handler.send_header("Content-Length", str(len(data)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(data)
        if not length:
            handler.close_connection = True

    return route


def redirect(location: str, status: int = 302) -> Route:
    """A route redirecting to `location`."""

    def route(handler):
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def lying_length(declared: int) -> Route:
    """A route declaring a Content-Length it does not send."""

    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()

    return route


def drip(byte_every_seconds: float, count: int) -> Route:
    """A route sending one byte at a time, slowly (without Content-Length)."""

    def route(handler):
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            for _ in range(count):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(byte_every_seconds)
        except OSError:
            pass  # the client gave up, as it should
        handler.close_connection = True

    return route


def slow_file(path, chunk: int = 64 * 1024, pause: float = 0.05) -> Route:
    """A route serving a file in small chunks with pauses (a download that takes a while)."""

    def route(handler):
        size = path.stat().st_size
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        try:
            with open(path, "rb") as fh:
                while data := fh.read(chunk):
                    handler.wfile.write(data)
                    time.sleep(pause)
        except OSError:
            pass  # the worker died or gave up

    return route


def gated_file(path, gate, wait_seconds: float = 120) -> Route:
    """A route serving the first half of a file, then the rest once `gate` (a threading.Event)
    is set (or after `wait_seconds`): a download that lasts until a test has seen it."""

    def route(handler):
        data = path.read_bytes()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        try:
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            gate.wait(wait_seconds)
            handler.wfile.write(data[len(data) // 2 :])
        except OSError:
            pass  # the worker died or gave up

    return route
