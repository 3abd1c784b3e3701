"""The components' HTTP endpoint answers its paths, refuses everything else with the right
status, survives clients that send garbage or nothing, and stops at once on close."""
from __future__ import annotations

import contextlib
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from hyperpod_deps.core import http_endpoint
from hyperpod_deps.core.http_endpoint import Answer, Endpoint


def broken() -> Answer:
    raise RuntimeError("a bug in a route")


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint({"/metrics": lambda: Answer(200, "text/plain", b"up 1\n"), "/broken": broken},
                      0, "127.0.0.1")
    yield served
    served.close()


def get(endpoint: Endpoint, path: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{endpoint.port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def raw(endpoint: Endpoint, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as client:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(4096):
            received += chunk
        return received


def test_paths_methods_and_statuses(endpoint: Endpoint) -> None:
    assert get(endpoint, "/metrics") == (200, b"up 1\n")
    assert get(endpoint, "/metrics?x=1") == (200, b"up 1\n")
    assert get(endpoint, "/metrics", "HEAD") == (200, b"")
    assert get(endpoint, "/nothing")[0] == 404
    assert get(endpoint, "/metrics", "POST")[0] == 405
    assert get(endpoint, "/broken") == (500, b"RuntimeError\n")


def test_garbage_and_silent_clients_leave_it_serving(endpoint: Endpoint,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert raw(endpoint, b"\x00\xff garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(endpoint, b"").startswith(b"HTTP/1.1 400 ")
    # Headers beyond the limit: whatever that client gets (the rest is never read), the next is served.
    with contextlib.suppress(OSError):
        raw(endpoint, b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 5000)
    assert get(endpoint, "/metrics") == (200, b"up 1\n")
    # A client that connects and says nothing is dropped after the timeout; the next is served.
    monkeypatch.setattr(http_endpoint, "CLIENT_TIMEOUT_SECONDS", 0.2)
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10):
        assert get(endpoint, "/metrics") == (200, b"up 1\n")


def test_close_stops_at_once_and_frees_the_port() -> None:
    served = Endpoint({"/metrics": lambda: Answer(200, "text/plain", b"")}, 0, "127.0.0.1")
    port = served.port
    started = time.monotonic()
    served.close()
    assert time.monotonic() - started < 1  # the shutdown wakes the accept: no poll interval
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    Endpoint({}, port, "127.0.0.1").close()  # the port can be bound again at once
