"""Photos and files on real daphne workers: an upload on one worker reaches a
stream on the other once, the file is served by either to the conversation's
people only, and daphne takes a 10 MiB upload but refuses a larger one early."""

from __future__ import annotations

import io
import socket
import uuid

import httpx
import psutil
import pytest
from PIL import Image

from tests.chatbot.test_attachments import PDF, SVG, jpeg_with_gps
from tests.support import SSEReader, agent, customer

pytestmark = [pytest.mark.e2e]


def upload(visitor, path: str, data: bytes, filename: str, client: httpx.Client | None = None, **fields):
    client = client or visitor.client
    headers = {"X-CSRFToken": visitor.csrf, "Referer": str(client.base_url)}
    return client.post(path, files={"file": (filename, data, "application/octet-stream")}, data=fields, headers=headers)


@pytest.mark.redis
def test_a_photo_sent_on_one_worker_reaches_the_other_once(workers, redis_url):
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = workers(2, REDIS_URL=redis_url)
    visitor, name = customer(first.url)
    assert visitor.post(f"/api/sessions/{name}/escalate", {"reason": "Broken rack"}).status_code == 200
    staff = agent(second.url, "alice", "alice-password")
    assert staff.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200

    agent_stream = SSEReader(f"{second.url}/workbench/api/sessions/{name}/events", cookies=staff.client.cookies)
    customer_stream = SSEReader(f"{second.url}/api/sessions/{name}/events", cookies=visitor.client.cookies)
    try:
        for stream in (agent_stream, customer_stream):
            stream.wait_connected().wait_for(lambda r: r.of_type("history"), what="history")

        client_id = str(uuid.uuid4())
        sent = upload(visitor, f"/api/sessions/{name}/attachments", jpeg_with_gps(), "rack.jpg", client_id=client_id)
        assert sent.status_code == 201, sent.text
        message = sent.json()["message"]
        again = upload(visitor, f"/api/sessions/{name}/attachments", jpeg_with_gps(), "rack.jpg", client_id=client_id)
        assert again.status_code == 200 and again.json()["message"] == message
        # A text after it: once that has arrived, anything the photo caused has too.
        marker = staff.post(f"/workbench/api/sessions/{name}/messages", {"content": "Got it, thanks."})
        assert marker.status_code == 201
        marker_id = marker.json()["message"]["id"]
        for stream in (agent_stream, customer_stream):
            stream.wait_for(lambda r: marker_id in [m["id"] for m in r.messages()], what="the marker message")
            shown = [m for m in stream.messages() if m["id"] == message["id"]]
            assert shown == [message], "the photo must arrive exactly once, as the upload answered"
            assert len(stream.ids()) == len(set(stream.ids()))
        (part,) = message["parts"]
        assert part["type"] == "image" and part["name"] == "rack.jpg"

        # The file, from the other worker, to the agent; to the customer; to nobody else.
        with staff.at(second.url) as client:
            served = client.get(part["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
        with Image.open(io.BytesIO(served.content)) as image:
            assert not image.getexif() and image.size == (600, 800)
        with visitor.at(second.url) as client:
            assert client.get(part["thumbnail"]).headers["content-type"] == "image/webp"
        stranger, _ = customer(second.url)
        refused = stranger.client.get(part["url"])
        assert refused.status_code == 404 and refused.json() == {"error": "File not found."}
    finally:
        agent_stream.close()
        customer_stream.close()


def test_a_ten_mib_upload_goes_through_daphne_and_a_larger_one_is_refused(workers, attachments_root):
    (worker,) = workers(1)
    visitor, name = customer(worker.url)
    path = f"/api/sessions/{name}/attachments"
    limit = 10 * 1024 * 1024  # the default ATTACHMENT_MAX_BYTES
    full = PDF + b"%" * (limit - len(PDF))
    accepted = upload(visitor, path, full, "scan.pdf")
    assert accepted.status_code == 201, accepted.text[:300]
    assert accepted.json()["message"]["parts"][0]["size"] == limit

    over = upload(visitor, path, full + b"%", "scan.pdf")  # within the envelope's room: the app refuses it
    assert over.status_code == 413 and over.json() == {"error": f"The file is larger than {limit} bytes."}

    # Declared far over: daphne answers at once, without reading (or keeping) the body.
    server = psutil.Process(worker.process.pid)
    rss_before = server.memory_info().rss
    sock = socket.create_connection(("127.0.0.1", worker.port), timeout=15)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        "Content-Length: 300000000\r\n\r\n".encode()
        + b"x" * 65536
    )
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert answer.endswith(b'{"error": "The request body is too large."}')
    assert server.memory_info().rss - rss_before < 32 * 2**20
    # The JSON endpoints keep their 64 KiB limit.
    big_json = visitor.post(f"/api/sessions/{name}/messages", {"content": "x", "pad": "y" * 70000})
    assert big_json.status_code == 413

    refused = upload(visitor, path, SVG, "photo.jpg")
    assert refused.status_code == 415
    stored = sorted(p.name for p in attachments_root.rglob("*") if p.is_file())
    assert len(stored) == 1 and stored[0].endswith(".pdf"), stored
    assert "Traceback" not in worker.output()
