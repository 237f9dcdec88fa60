"""Bodies over API_MAX_BODY_BYTES are refused with 413 from their declared
length, before daphne reads them (fiido/realtime/daphne_io.py)."""

from __future__ import annotations

import socket

import psutil
import pytest

from tests.support import Browserless

pytestmark = [pytest.mark.e2e]


def raw_request(port: int, head: bytes, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(head + body)
    return sock


def read_all(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return received


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"], ids=["plain", "expect-100-continue"])
def test_a_huge_declared_body_is_refused_before_it_is_read(workers, expect, record):
    (worker,) = workers(1)
    server = psutil.Process(worker.process.pid)
    rss_before = server.memory_info().rss
    head = (
        b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000000\r\n" + expect + b"\r\n"
    )
    sock = raw_request(worker.port, head, b"{" + b" " * 65536)
    answer = read_all(sock)  # the server answers and closes without waiting for 300 MB
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"100 Continue" not in answer
    assert answer.endswith(b'{"error": "The request body is too large."}')
    growth = server.memory_info().rss - rss_before
    record(
        "body-limit",
        declared_body_mb=300,
        limit_kib=64,
        answer=answer.split(b"\r\n", 1)[0].decode(),
        rss_growth_mib=round(growth / 2**20, 1),
    )
    assert growth < 32 * 2**20
    assert "Traceback" not in worker.output()


def test_a_chunked_body_is_cut_off_once_it_grows_past_the_limit(workers):
    (worker,) = workers(1)
    head = b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"8000\r\n" + b" " * 0x8000 + b"\r\n"  # 32 KiB a chunk
    sock = raw_request(worker.port, head, chunk * 3)
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_bodies_within_the_limit_still_reach_the_application(workers):
    (worker,) = workers(1)
    visitor = Browserless(worker.url)
    response = visitor.post("/api/sessions", {"customer_name": "x" * 50, "padding": "y" * 60000})
    assert response.status_code == 201, response.text
