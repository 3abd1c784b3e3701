"""A real HTTPS server on loopback that answers the lean client's requests as the test scripts
them, and records what it was sent: for what the real API server will not do on demand (drop a
kept connection, expire a watch, rotate a token). Certificates from the local cluster's PKI."""
from __future__ import annotations

import json
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None  # JSON; a list of them for a watch, each sent as one line (chunked)
    watch: bool = False
    hang_up: bool = False  # close the connection after answering (a server ending keep-alive)
    block: threading.Event | None = None  # a watch that then waits for this before ending


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    client: str  # the client certificate's CN, or ""
    connection: int  # which TCP connection it came on (0, 1, ...)


@dataclass
class Script:
    answers: queue.SimpleQueue[Answer] = field(default_factory=queue.SimpleQueue)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch bodies
    server: _Server

    def setup(self) -> None:
        super().setup()
        script = self.server.script
        self.number, script.connections = script.connections, script.connections + 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        names: Any = peer.get("subject", ()) if peer else ()  # ((("commonName", "x"),), ...)
        client = next((str(value) for part in names for key, value in part if key == "commonName"), "")
        self.server.script.seen.append(Seen(self.command, self.path, dict(self.headers), body, client,
                                            self.number))
        answer = self.server.script.answers.get_nowait()
        if answer.watch:
            self._stream(answer)
        else:
            data = json.dumps(answer.body if answer.body is not None else {}).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        if answer.hang_up:
            self.close_connection = True

    def _stream(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in answer.body or []:
            line = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        if answer.block is not None:
            answer.block.wait(30)
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script


def serve(pki: Path, script: Script) -> Iterator[int]:
    """Serve on a free loopback port (yielded) until the generator is closed."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.script = script
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
    tls.load_cert_chain(str(pki / "kube-apiserver.crt"), str(pki / "kube-apiserver.key"))
    tls.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is recorded when one is sent
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
