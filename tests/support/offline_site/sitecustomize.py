"""Loaded by every Python process started with this folder on PYTHONPATH: refuses any name
lookup or connection that would leave the machine, and notes each refusal in the file named
by HYPERPOD_DEPS_OFFLINE_LOG (one line each), so a test can say what a client tried to reach.

The SageMaker HyperPod client sends telemetry to an AWS endpoint on every command and has no
switch to stop it; under this module the request fails at the lookup, before any packet.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

_LOG = os.environ.get("HYPERPOD_DEPS_OFFLINE_LOG", "")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", ""})
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _note(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(what + "\n")


def _loopback(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _loopback(host):
        _note(f"refused lookup {host}")
        raise socket.gaierror(socket.EAI_NONAME, f"offline: {host} is not on this machine")
    return _real_getaddrinfo(host, *args, **kwargs)


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _note(f"refused connect {address[0]}")
        raise ConnectionRefusedError(f"offline: {address[0]} is not on this machine")


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


socket.getaddrinfo = _getaddrinfo
socket.socket.connect = _connect  # type: ignore[method-assign, assignment]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign, assignment]
_note("guard loaded")
