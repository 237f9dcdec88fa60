"""``LOG_FORMAT=json``: one JSON object per line, with the request's id and the
conversation's name where there is one."""

from __future__ import annotations

import io
import json
import logging

import pytest

from fiido.logs import ContextFilter, JsonFormatter

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_line_logged_during_a_request_names_the_request_and_the_conversation(client, json_lines, monkeypatch):
    from chatbot import payloads

    original = payloads.session_state

    def logging_state(*args, **kwargs):
        logging.getLogger("chatbot.test").warning("looked at %s", "it")
        return original(*args, **kwargs)

    name = client.post("/api/sessions", content_type="application/json", data={}).json()["session_name"]
    monkeypatch.setattr(payloads, "session_state", logging_state)
    response = client.get(f"/api/sessions/{name}", headers={"X-Request-ID": "req-42.abc"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-42.abc"
    (line,) = [entry for entry in json_lines() if entry["logger"] == "chatbot.test"]
    assert line["message"] == "looked at it"
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-42.abc"
    assert line["conversation"] == name
    assert line["time"].endswith("Z") and line["worker"]


def test_a_request_without_an_id_gets_one_and_free_text_is_not_taken(client, json_lines):
    made = client.get("/healthz")["X-Request-ID"]
    assert len(made) == 32
    refused = client.get("/healthz", headers={"X-Request-ID": 'two words "quoted"'})["X-Request-ID"]
    assert " " not in refused and len(refused) == 32


def test_outside_a_request_a_line_has_no_request_fields_and_keeps_its_traceback(json_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("fiido.test").exception("failed")
    (line,) = [entry for entry in json_lines() if entry["logger"] == "fiido.test"]
    assert "request_id" not in line and "conversation" not in line
    assert "ValueError: boom" in line["exception"]


def test_log_format_is_validated():
    import subprocess
    import sys

    from tests.support import ROOT

    result = subprocess.run(
        [sys.executable, "-c", "import fiido.settings"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "LOG_FORMAT must be 'plain' or 'json'" in result.stderr
