"""The one encoder, and the shape of every wire event (DESIGN §5)."""

from __future__ import annotations

import json
import typing

import pytest

from chatbot import conversations
from chatbot.models import Event
from fiido.realtime.events import EVENT_TYPES
from fiido.realtime.sse import RETRY_FRAME, encode


def test_encode_writes_one_unnamed_event_with_an_optional_id():
    assert encode({"type": "heartbeat", "at": "x"}) == b'data: {"type":"heartbeat","at":"x"}\n\n'
    assert encode('{"type":"status"}', id=7) == b'id: 7\ndata: {"type":"status"}\n\n'
    assert RETRY_FRAME == b"retry: 3000\n\n"


def test_newlines_in_content_never_split_the_data_line():
    frame = encode({"type": "message", "content": "two\nlines\r\nand <script>"})
    assert frame.count(b"\n") == 2
    assert json.loads(frame[len(b"data: ") : -2])["content"] == "two\nlines\r\nand <script>"


def assert_shape(payload: dict) -> None:
    schema = EVENT_TYPES[payload["type"]]
    assert set(payload) >= set(typing.get_type_hints(schema)), payload


@pytest.mark.django_db
def test_stored_events_match_their_declared_shapes(agent_user):
    session = conversations.start()
    conversations.post_customer_message(session, content="Hi [PRODUCT]|Bike|1|£1|Shipped|||[/PRODUCT]")
    conversations.escalate(session, reason="r")
    conversations.take_over(session, agent=agent_user)
    payloads = [json.loads(p) for p in Event.objects.filter(session=session).values_list("payload", flat=True)]
    assert {p["type"] for p in payloads} == {"message", "status"}
    for payload in payloads:
        assert_shape(payload)
        if payload["type"] == "message":
            message = payload["message"]
            assert set(message) == {
                "id",
                "seq",
                "role",
                "content",
                "code",
                "params",
                "name",
                "agent",
                "client_id",
                "created_at",
                "parts",
                "html",
            }
            assert message["seq"] == payload["seq"]
    customer_message = payloads[1]["message"]
    assert [part["type"] for part in customer_message["parts"]] == ["text"]  # cards come from the bot alone
