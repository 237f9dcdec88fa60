"""An agent who loses access loses their open streams too: logging out ends
them at once on every worker; deactivation, a new password or leaving the
agents group end them at the next heartbeat. Each ends with ``revoked``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.support import SSEReader, agent, customer, holds_for

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def open_streams(worker, desk, name: str) -> list[SSEReader]:
    streams = [
        SSEReader(f"{worker.url}/workbench/api/events", cookies=desk.client.cookies),
        SSEReader(f"{worker.url}/workbench/api/sessions/{name}/events", cookies=desk.client.cookies),
    ]
    for stream in streams:
        stream.wait_connected()
        stream.wait_for(lambda r: r.of_type("queue") or r.of_type("history"), what="the opening snapshot")
    return streams


def assert_ended(streams: list[SSEReader], reason: str) -> None:
    for stream in streams:
        stream.wait_for(lambda r: r.finished, timeout=30, what="the stream to end")
        assert stream.events[-1]["data"] == {"type": "revoked", "reason": reason}
        assert stream.events[-1]["id"] is None


def test_logging_out_ends_the_streams_of_that_login_at_once_on_another_worker(workers, redis_url, agent_user):
    first, second = workers(2, REDIS_URL=redis_url, SSE_HEARTBEAT_SECONDS="60")  # no heartbeat re-check in time
    desk = agent(first.url, "alice", "alice-password")
    visitor, name = customer(first.url)
    other_login = agent(second.url, "alice", "alice-password")  # the same agent in another browser
    streams = open_streams(second, desk, name)
    untouched = open_streams(second, other_login, name)
    try:
        response = desk.client.post(
            "/workbench/logout/", headers={"X-CSRFToken": desk.csrf, "Referer": f"{first.url}/workbench/"}
        )
        assert response.status_code == 302
        assert_ended(streams, "logged_out")
        # A customer message after the logout reaches the other login, never the ended one.
        assert visitor.post(f"/api/sessions/{name}/messages", {"content": "after the logout"}).status_code == 201
        untouched[1].wait_for(lambda r: any(m["content"] == "after the logout" for m in r.messages()))
        assert all("after the logout" not in str(stream.events) for stream in streams)
        holds_for(lambda: not any(s.finished for s in untouched), seconds=1, what="the other login's streams stay")
    finally:
        for stream in streams + untouched:
            stream.close()


@pytest.mark.parametrize(
    "revoke, reason", [("deactivate", "logged_out"), ("password", "logged_out"), ("group", "not_an_agent")]
)
def test_losing_access_ends_the_streams_at_the_next_heartbeat(workers, redis_url, agent_user, revoke, reason):
    (worker,) = workers(1, REDIS_URL=redis_url, SSE_HEARTBEAT_SECONDS="1")
    desk = agent(worker.url, "alice", "alice-password")
    visitor, name = customer(worker.url)
    streams = open_streams(worker, desk, name)
    try:
        if revoke == "deactivate":
            agent_user.is_active = False
            agent_user.save()
        elif revoke == "password":
            agent_user.set_password("a-new-password-42")
            agent_user.save()
        else:
            agent_user.groups.remove(Group.objects.get(name="agents"))
        assert_ended(streams, reason)
        assert visitor.post(f"/api/sessions/{name}/escalate", {"reason": "secret reason"}).status_code == 200
        holds_for(lambda: all("secret reason" not in str(s.events) for s in streams), seconds=1)
    finally:
        for stream in streams:
            stream.close()
