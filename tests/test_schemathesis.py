"""Schemathesis against a live server: the served OpenAPI description is true.

One real daphne worker runs on the test database; the test reads
``/api/schema/`` from it and lets schemathesis generate requests for every
JSON operation, schema-valid and schema-invalid, as a customer (with the
cookie of the conversations it owns) and as an agent. Every response must be
no 500, have a status code, content type, headers and body the schema
declares. The SSE operations are described (text/event-stream) but never end,
so they are left to tests/test_authorization.py.

Path parameters are drawn from real session names (the customer's own, one
that is someone else's, one that does not exist), so generated requests reach
the state machine instead of only its 404.
"""

from __future__ import annotations

import re

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import agent, customer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25  # x 2 modes x 35 operations: about 1,750 requests, seconds on one worker


def auth_headers(visitor) -> dict[str, str]:
    cookies = "; ".join(f"{name}={value}" for name, value in visitor.client.cookies.items())
    return {"Cookie": cookies, "X-CSRFToken": visitor.csrf}


def run_operation(operation, *, base_url: str, headers: dict[str, str], names: list[str], mode) -> None:
    if "{name}" in operation.path:
        strategy = st.sampled_from(names).flatmap(
            lambda name: operation.as_strategy(generation_mode=mode, path_parameters={"name": name})
        )
    else:
        strategy = operation.as_strategy(generation_mode=mode)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=15)

    exercise()


@pytest.mark.e2e
def test_the_live_api_matches_its_openapi_description(workers):
    """The workers inherit the suite's generous rate limits (tests/conftest.py), so no 429 interferes."""
    (worker,) = workers(1)
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    visitor, own = customer(worker.url)
    second = visitor.post("/api/sessions").json()["session_name"]
    _, someone_elses = customer(worker.url)
    staff = agent(worker.url, "alice", "alice-password")
    names = [own, second, someone_elses, "no-such-session"]

    raw = httpx.get(f"{worker.url}/api/schema/", timeout=15).json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]
    json_operations = [op for op in operations if not op.path.endswith("/events")]
    assert {op.path for op in operations} == set(raw["paths"])
    assert len(json_operations) == 37  # with the copilot's, the rating and the reports endpoints

    # Starting conversations gets a visitor of its own: a visitor's cookie remembers
    # only its newest conversations (chatbot.selectors.OWNED_SESSIONS_KEPT).
    starter, _ = customer(worker.url)
    for operation in json_operations:
        if operation.path.startswith("/workbench/"):
            headers = auth_headers(staff)
        else:
            headers = auth_headers(starter if operation.path == "/api/sessions" else visitor)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, base_url=worker.url, headers=headers, names=names, mode=mode)

    # The run reached real sessions: the customer's conversation holds generated messages.
    state = visitor.client.get(f"/api/sessions/{own}")
    assert state.status_code == 200, state.text
    assert state.json()["message_count"] > 1  # more than the bot's greeting


def test_the_schema_is_served_and_describes_every_api_route(client):
    """Every JSON route Django knows appears in the description, and nothing else."""
    from django.urls import URLPattern, URLResolver, get_resolver

    response = client.get("/api/schema/")
    assert response.status_code == 200
    paths = response.json()["paths"]

    def routes(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from routes(pattern, route)
            elif isinstance(pattern, URLPattern):
                yield route

    api_routes = {
        "/" + re.sub(r"<(?:str|int):(\w+)>", r"{\1}", route)
        for route in routes(get_resolver())
        if "api/" in route and route != "api/schema/"
    }
    streams = {p for p in paths if p.endswith("/events")}
    assert api_routes == set(paths) - streams
    assert streams == {"/api/sessions/{name}/events", "/workbench/api/sessions/{name}/events", "/workbench/api/events"}
    for path in streams:
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"text/event-stream"}
