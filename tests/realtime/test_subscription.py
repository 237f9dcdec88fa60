"""When the hub writes an event straight to a client (Subscription.push) and
when it leaves it to the stream's own task: only the next seq, only while the
stream is parked with nothing queued, only if the writer takes it."""

from __future__ import annotations

import asyncio

from fiido.realtime.hub import CATCH_UP, Envelope, Signal, Subscription


class Client:
    def __init__(self, accepts: bool = True) -> None:
        self.accepts = accepts
        self.frames: list[bytes] = []

    def __call__(self, frame: bytes) -> bool:
        if self.accepts:
            self.frames.append(frame)
        return self.accepts


async def parked(subscription: Subscription) -> asyncio.Task:
    task = asyncio.ensure_future(subscription.get())
    await asyncio.sleep(0)  # let it park on its waiter
    return task


async def test_a_parked_stream_gets_the_next_event_written_directly():
    client = Client()
    subscription = Subscription("g", client)
    subscription.last = 4
    waiting = await parked(subscription)
    subscription.push(Envelope(5, '{"seq": 5}', group="g"))
    subscription.push(Envelope(6, '{"seq": 6}', group="g"))
    assert client.frames == [
        Envelope(5, '{"seq": 5}', group="g").with_id(),
        Envelope(6, '{"seq": 6}', group="g").with_id(),
    ]
    assert subscription.last == 6
    assert not waiting.done()  # the stream's task was never woken
    waiting.cancel()


async def test_a_gap_goes_to_the_stream_which_fills_it_from_the_database():
    client = Client()
    subscription = Subscription("g", client)
    subscription.last = 4
    waiting = await parked(subscription)
    subscription.push(Envelope(6, "{}", group="g"))
    assert client.frames == []
    assert (await waiting).seq == 6
    assert subscription.last == 4


async def test_an_old_or_repeated_event_is_not_written():
    client = Client()
    subscription = Subscription("g", client)
    subscription.last = 4
    waiting = await parked(subscription)
    subscription.push(Envelope(4, "{}", group="g"))
    assert client.frames == []
    assert (await waiting).seq == 4  # the stream drops it (seq <= last)


async def test_a_writer_that_refuses_leaves_the_event_to_the_stream():
    client = Client(accepts=False)
    subscription = Subscription("g", client)
    waiting = await parked(subscription)
    subscription.push(Envelope(1, "{}", group="g"))
    assert (await waiting).seq == 1
    assert subscription.last == 0


async def test_nothing_is_written_past_what_the_stream_still_has_queued():
    client = Client()
    subscription = Subscription("g", client)
    subscription.push(CATCH_UP)  # the stream is busy: not parked, something queued
    subscription.push(Envelope(1, "{}", group="g"))
    assert client.frames == []
    assert await subscription.get() is CATCH_UP
    assert (await subscription.get()).seq == 1


async def test_a_heartbeat_to_a_parked_stream_is_written_directly():
    client = Client()
    subscription = Subscription("g", client)
    subscription.last = 3
    waiting = await parked(subscription)
    subscription.push(Signal(b": heartbeat\n\n"))
    subscription.push(CATCH_UP)  # no frame: always the stream's job
    assert client.frames == [b": heartbeat\n\n"]
    assert subscription.last == 3
    assert await waiting is CATCH_UP


async def test_without_a_writer_everything_is_queued():
    subscription = Subscription("g")
    waiting = await parked(subscription)
    subscription.push(Envelope(1, "{}", group="g"))
    assert (await waiting).seq == 1


async def test_a_writer_that_raises_leaves_the_event_to_the_stream():
    def broken(frame: bytes) -> bool:
        raise OSError("transport in a state nobody expected")

    subscription = Subscription("g", broken)
    waiting = await parked(subscription)
    subscription.push(Envelope(1, "{}", group="g"))
    assert (await waiting).seq == 1
    assert subscription.last == 0
