"""``/metrics``: 404 without ``METRICS_TOKEN``, 401 without its bearer token,
Prometheus text with it; every name starts with ``fiido_`` and every sample
names its worker; request latency is by URL name, never by raw path."""

from __future__ import annotations

import pytest
from asgiref.testing import ApplicationCommunicator
from prometheus_client.parser import text_string_to_metric_families

from chatbot import conversations
from fiido.asgi import application
from tests.support import asgi_scope

pytestmark = [pytest.mark.django_db(transaction=True)]


async def get_metrics(headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict, bytes]:
    communicator = ApplicationCommunicator(application, asgi_scope("/metrics", headers or []))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = await communicator.receive_output(10)
    return start["status"], dict(start["headers"]), body["body"]


def families(body: bytes) -> dict:
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


async def test_metrics_are_not_served_without_a_token_configured(settings):
    settings.METRICS_TOKEN = ""
    status, _, body = await get_metrics([(b"authorization", b"Bearer anything")])
    assert status == 404
    assert b"fiido_" not in body


@pytest.mark.parametrize("authorization", [None, b"Bearer wrong-token", b"bearer s3cret-token", b"s3cret-token"])
async def test_metrics_need_the_bearer_token(settings, authorization):
    settings.METRICS_TOKEN = "s3cret-token"
    headers = [(b"authorization", authorization)] if authorization else []
    status, response_headers, body = await get_metrics(headers)
    assert status == 401
    assert response_headers[b"www-authenticate"] == b"Bearer"
    assert b"fiido_" not in body


async def test_metrics_with_the_token_are_prometheus_text_named_fiido_and_labelled_by_worker(settings):
    settings.METRICS_TOKEN = "s3cret-token"
    settings.WORKER_ID = "test-host/worker7"
    status, headers, body = await get_metrics([(b"authorization", b"Bearer s3cret-token")])
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
    found = families(body)
    assert found and all(name.startswith("fiido_") for name in found), sorted(found)
    for family in found.values():
        for sample in family.samples:
            assert sample.labels["worker"] == "test-host/worker7", sample
    for name in (
        "fiido_streams_open",
        "fiido_events_published",
        "fiido_events_delivered",
        "fiido_publish_failures",
        "fiido_catch_ups",
        "fiido_catch_up_events",
        "fiido_delivery_lag_seconds",
        "fiido_slow_readers_cut",
        "fiido_layer_state",
        "fiido_request_seconds",
        "fiido_queue_waiting",
        "fiido_queue_oldest_wait_seconds",
    ):
        assert name in found, name
    kinds = {sample.labels["kind"] for sample in found["fiido_streams_open"].samples}
    assert kinds == {"customer", "agent", "queue"}


async def test_the_queue_gauges_count_the_waiting_conversations(settings):
    from asgiref.sync import sync_to_async

    settings.METRICS_TOKEN = "t"

    @sync_to_async
    def two_waiting() -> None:
        for _ in range(2):
            conversations.escalate(conversations.start(), reason="help")
        conversations.start()  # with the assistant: not waiting

    await two_waiting()
    _, _, body = await get_metrics([(b"authorization", b"Bearer t")])
    found = families(body)
    assert found["fiido_queue_waiting"].samples[0].value == 2
    assert found["fiido_queue_oldest_wait_seconds"].samples[0].value >= 0


def test_request_latency_is_labelled_by_url_name_not_path(client, settings):
    from fiido.metrics import REGISTRY

    visitor_session = client.post("/api/sessions", content_type="application/json", data={})
    name = visitor_session.json()["session_name"]
    client.get(f"/api/sessions/{name}")
    client.get("/no/such/page/at/all")
    samples = [
        sample
        for family in REGISTRY.collect()
        if family.name == "fiido_request_seconds"
        for sample in family.samples
        if sample.name == "fiido_request_seconds_count"
    ]
    endpoints = {sample.labels["endpoint"] for sample in samples}
    assert any(endpoint.startswith("chatbot:") for endpoint in endpoints), endpoints
    assert "unmatched" in endpoints
    assert not any(name in endpoint or "/" in endpoint for endpoint in endpoints), endpoints
