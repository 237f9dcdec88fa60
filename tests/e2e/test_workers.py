"""Real daphne workers sharing one Redis: events cross processes, resume, survive outages."""

from __future__ import annotations

import pytest

from tests.support import SSEReader, customer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_message_posted_on_one_worker_reaches_a_stream_on_the_other(workers, redis_url):
    first, second = workers(2, REDIS_URL=redis_url)
    visitor, name = customer(first.url)
    stream = SSEReader(f"{second.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected()
    try:
        response = visitor.post(f"/api/sessions/{name}/messages", {"content": "Hello from worker one"})
        assert response.status_code == 201
        stream.wait_for(
            lambda r: any(
                m["content"] == "Hello from worker one"
                for m in r.of_type("message") and [e["message"] for e in r.of_type("message")]
            )
        )
        ids = stream.ids()
        assert ids == sorted(set(ids))
    finally:
        stream.close()
        visitor.close()
