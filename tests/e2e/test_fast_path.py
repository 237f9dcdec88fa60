"""The stream fast path under real daphne (fiido/realtime/daphne_io.py): in use
with the pinned daphne, and when something hides the socket, a fallback that
says so once and still bounds what a reader that stops reading can cost."""

from __future__ import annotations

import pytest

from tests.e2e.test_faults import live_session, parse_frames, small_buffer_stream
from tests.support import SSEReader, agent, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

FALLBACK_WARNING = "Streams cannot reach the client socket"


def test_streams_use_the_fast_path_under_the_pinned_daphne(workers, redis_url, agent_user):
    """Fails when an upgrade (or a wrapped send) silently turns the direct writes off."""
    (worker,) = workers(1, REDIS_URL=redis_url, LOG_LEVEL="INFO")
    desk = agent(worker.url, "alice", "alice-password")
    visitor, name = live_session(worker, desk)
    reader = SSEReader(f"{worker.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected()
    try:
        reader.wait_for(lambda r: r.of_type("history"), what="the opening history")
        for i in range(5):
            assert desk.post(f"/workbench/api/sessions/{name}/messages", {"content": f"fast {i}"}).status_code == 201
        reader.wait_for(lambda r: len(r.of_type("message")) == 5, what="five live messages")
    finally:
        reader.close()
    wait_until(lambda: "daphne fast path in use" in worker.output(), what="the fast path's log line")
    assert FALLBACK_WARNING not in worker.output()
    assert "Direct socket writes failed" not in worker.output()


def test_behind_a_wrapped_send_streams_warn_once_and_still_bound_a_stalled_reader(workers, redis_url, agent_user):
    """The fallback cannot see the client's backlog, so a stream ends after
    SSE_SEND_BUFFER_BYTES: a reader that stopped holds at most that much, and
    one that reads resumes by Last-Event-ID with nothing lost."""
    (worker,) = workers(
        1,
        app="tests.asgi_wrapped:application",
        REDIS_URL=redis_url,
        SSE_SEND_BUFFER_BYTES="65536",
        MESSAGE_MAX_CHARS="30000",
    )
    desk = agent(worker.url, "alice", "alice-password")
    visitor, name = live_session(worker, desk)
    stalled, first = small_buffer_stream(worker, visitor, name)
    assert b"200 OK" in first
    second, _ = small_buffer_stream(worker, visitor, name)  # a second stream: still one warning

    body = "z" * 25000
    sent = [desk.post(f"/workbench/api/sessions/{name}/messages", {"content": f"{i} {body}"}).json() for i in range(60)]
    # The stalled reader now reads what the server wrote: the response ended
    # after about the budget, long before the 60 messages (~3 MB of events).
    received = first
    stalled.settimeout(10)
    while not received.endswith(b"0\r\n\r\n"):
        chunk = stalled.recv(65536)
        assert chunk, "the connection closed without ending the response"
        received += chunk
    stalled.close()
    second.close()
    ids = [i for i, _ in parse_frames(received) if i is not None]
    assert len(received) < 65536 + 2 * 60_000 + 4096, len(received)  # the budget plus the frame that crossed it
    assert ids and max(ids) < sent[-1]["message"]["seq"]

    # A reading client gets the rest over a few responses, each ending after the
    # budget, resuming by Last-Event-ID as EventSource does.
    last = sent[-1]["message"]["seq"]
    all_ids = list(ids)
    for _ in range(100):
        if all_ids[-1] == last:
            break
        resumed = SSEReader(
            f"{worker.url}/api/sessions/{name}/events",
            cookies=visitor.client.cookies,
            headers={"Last-Event-ID": str(all_ids[-1])},
        ).wait_connected()
        try:
            resumed.wait_for(lambda r: r.finished, timeout=30, what="the response to end after its budget")
        finally:
            resumed.close()
        all_ids += resumed.ids()
    assert all_ids == list(range(all_ids[0], last + 1)), "lost or repeated across the resumes"
    assert worker.output().count(FALLBACK_WARNING) == 1
