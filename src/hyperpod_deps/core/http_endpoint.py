"""A component's HTTP endpoint (/metrics, /healthz): GET and HEAD of a few fixed paths, answered
one at a time from a thread that sleeps in accept until a request arrives.

Scrapes and probes come every few seconds and need no more. Neither socketserver's
serve_forever (it wakes twice a second to look for a stop) nor http.server and wsgiref (about
1.3 MiB resident on every node for the agent, decision 17) are used. `close()` wakes the thread
by shutting the listening socket down, so a stop is immediate and the port is free at once.
A client that sends garbage or nothing gets an error or a timeout; the component never notices.
"""
from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

REQUEST_LIMIT = 8192  # bytes of request line and headers read; a scrape sends a few hundred
CLIENT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


Route = Callable[[], Answer]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}


class Endpoint:
    """Serves `routes` (path -> a function giving the answer) on `address:port` (port 0: any)."""

    def __init__(self, routes: Mapping[str, Route], port: int, address: str = "") -> None:
        self._routes = dict(routes)
        self._socket = socket.create_server((address, port))
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="http-endpoint", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept; it fails, the loop ends
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue  # closed (the loop ends), or a connection reset before it was taken
            with connection, contextlib.suppress(OSError):
                connection.settimeout(CLIENT_TIMEOUT_SECONDS)
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        request = _read_head(connection)
        parts = request.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            answer = Answer(400, "text/plain", b"bad request\n")
        elif parts[0] not in (b"GET", b"HEAD"):
            answer = Answer(405, "text/plain", b"only GET and HEAD\n")
        else:
            answer = self._routed(parts[1].split(b"?", 1)[0].decode("latin-1"))
        head = (f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Unknown')}\r\n"
                f"Content-Type: {answer.content_type}\r\nContent-Length: {len(answer.body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        connection.sendall(head if parts[0] == b"HEAD" else head + answer.body)

    def _routed(self, path: str) -> Answer:
        route = self._routes.get(path)
        if route is None:
            return Answer(404, "text/plain", b"not found\n")
        try:
            return route()
        except Exception as error:  # a bug in a route must not end the endpoint
            return Answer(500, "text/plain", f"{type(error).__name__}\n".encode())


def _read_head(connection: socket.socket) -> bytes:
    """The request up to its blank line (at most REQUEST_LIMIT bytes); a body is not read."""
    received = b""
    while b"\r\n\r\n" not in received and len(received) < REQUEST_LIMIT:
        chunk = connection.recv(REQUEST_LIMIT - len(received))
        if not chunk:
            break
        received += chunk
    return received
