"""The agent's HTTP/1.1 reader: bodies framed by Content-Length, chunks or the connection's end,
read whole or line by line across chunk boundaries; an answer that is not HTTP or stops short
is an OSError (the client's ClusterUnreachable), never a hang or a crash. The client over a real
TLS connection is tested in test_lean_client.py."""
from __future__ import annotations

import io

import pytest

from hyperpod_deps.kube.http1 import BadResponse, ServerClosed, read_response


def response(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


def test_a_body_of_known_length() -> None:
    answer = read_response(response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhello"))
    assert (answer.status, answer.reason, answer.headers["content-type"]) == (200, "OK", "x")
    assert not answer.closes
    assert answer.read() == b"hello"
    assert answer.read() == b""


def test_chunks_read_line_by_line_across_their_boundaries() -> None:
    body = b'5\r\n{"a":\r\n6\r\n1}\n{"b\r\n5\r\n":2}\n\r\n0\r\n\r\n'
    answer = read_response(response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body))
    assert answer.readline() == b'{"a":1}\n'
    assert answer.readline() == b'{"b":2}\n'
    assert answer.readline() == b""


def test_chunks_read_whole_with_an_extension_and_trailers() -> None:
    body = b"3;name=x\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
    answer = read_response(response(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n" + body))
    assert answer.read() == b"abcde"


def test_a_body_until_the_connection_ends_marks_it_closing() -> None:
    answer = read_response(response(b"HTTP/1.1 500 Internal\r\nConnection: close\r\n\r\noops"))
    assert answer.closes and answer.read() == b"oops"


@pytest.mark.parametrize(("data", "problem"), [
    (b"", ServerClosed),
    (b"SSH-2.0-OpenSSH\r\n\r\n", BadResponse),
    (b"HTTP/1.1 2xx OK\r\n\r\n", BadResponse),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n", BadResponse),  # headers stop short
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 300 + b"\r\n", BadResponse),
])
def test_what_is_not_an_answer_is_refused(data: bytes, problem: type[OSError]) -> None:
    with pytest.raises(problem):
        read_response(response(data))


@pytest.mark.parametrize("data", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",  # the stream ends with no last chunk
])
def test_a_body_that_stops_short_is_an_os_error(data: bytes) -> None:
    answer = read_response(response(data))
    with pytest.raises(OSError):
        answer.read()
