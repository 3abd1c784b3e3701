"""HTTP/1.1 over one TLS connection, as much as the node agent's client needs: a request, then
its response read whole (Content-Length or chunked) or line by line (a watch's stream).

The standard library's http.client would do, at 1.8 MiB of resident memory on every node (it
brings the email package to parse headers; decision 17). The API server's answers are plain:
a status line, headers, a body framed by Content-Length or chunked encoding.

Every failure is an OSError (ConnectionError for a connection the server closed, or a
response that stops short), which the client turns into ClusterUnreachable.
"""
from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Mapping
from typing import BinaryIO

LINE_LIMIT = 65536  # a status line, a header line or a chunk size line longer than this is refused
HEADER_LIMIT = 200


class ServerClosed(ConnectionError):
    """The server closed the connection before answering: on a kept connection, nothing was done."""


class BadResponse(ConnectionError):
    """The answer is not HTTP/1.1 as this module reads it, or stops short."""


class Connection:
    """One connection to host:port, opened by the first request (again after `close()`)."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext, connect_seconds: float,
                 read_seconds: float) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.connect_seconds, self.read_seconds = connect_seconds, read_seconds
        self.sock: ssl.SSLSocket | None = None
        self._file: BinaryIO | None = None

    def request(self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]) -> None:
        if self.sock is None:
            self._open()
        assert self.sock is not None
        host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{self.port}", "Accept-Encoding: identity",
                 *(f"{name}: {value}" for name, value in headers.items())]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def getresponse(self) -> Response:
        if self._file is None:
            raise ServerClosed("no request was sent on this connection")
        return read_response(self._file)

    def close(self) -> None:
        for part in (self._file, self.sock):
            if part is not None:
                with contextlib.suppress(OSError):
                    part.close()
        self._file, self.sock = None, None

    def _open(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.connect_seconds)
        try:
            self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(self.read_seconds)
        self._file = self.sock.makefile("rb")


def read_response(stream: BinaryIO) -> Response:
    """The status line and headers from `stream`; the body is read from the Response."""
    status_line = stream.readline(LINE_LIMIT + 1)
    if not status_line:
        raise ServerClosed("the server closed the connection without answering")
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise BadResponse(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(HEADER_LIMIT):
        line = stream.readline(LINE_LIMIT + 1)
        if line in (b"\r\n", b"\n"):
            return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, stream)
        if not line or len(line) > LINE_LIMIT:
            raise BadResponse("the response's headers stop short or are too long")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raise BadResponse(f"more than {HEADER_LIMIT} header lines")


class Response:
    """The status, the headers (names in lower case) and the body, read once."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], stream: BinaryIO) -> None:
        self.status, self.reason, self.headers = status, reason, headers
        # The server will close the connection after this response.
        self.closes = headers.get("connection", "").lower() == "close"
        self._stream = stream
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left: int | None = int(length) if length and length.isdigit() else None
        if not self._chunked and self._left is None:
            self.closes = True  # the body runs until the server closes
        self._pending = b""  # decoded bytes of the current chunk not yet returned
        self._done = not self._chunked and self._left == 0

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        parts = [self._pending]
        self._pending = b""
        while not self._done:
            parts.append(self._next_piece())
        return b"".join(parts)

    def readline(self) -> bytes:
        """The body's next line with its newline; b"" at its end."""
        while b"\n" not in self._pending and not self._done:
            self._pending += self._next_piece()
        line, newline, rest = self._pending.partition(b"\n")
        self._pending = rest
        return line + newline

    def _next_piece(self) -> bytes:
        if self._chunked:
            return self._next_chunk()
        if self._left is None:  # until the server closes
            self._done = True
            return self._stream.read()
        piece = self._stream.read(self._left)
        if len(piece) < self._left:
            raise BadResponse(f"the body stops {self._left - len(piece)} bytes short")
        self._left, self._done = 0, True
        return piece

    def _next_chunk(self) -> bytes:
        size_line = self._stream.readline(LINE_LIMIT + 1)
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadResponse(f"not a chunk size: {size_line[:40]!r}") from None
        if size == 0:
            while self._stream.readline(LINE_LIMIT + 1) not in (b"\r\n", b"\n", b""):
                pass  # trailers, unused
            self._done = True
            return b""
        data = self._stream.read(size)
        if len(data) < size or self._stream.read(2) != b"\r\n":
            raise BadResponse("a chunk stops short")
        return data
