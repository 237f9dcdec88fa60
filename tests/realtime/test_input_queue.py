"""The per-connection input queue daphne is given (fiido/realtime/daphne_io.py):
what ``receive`` reads must arrive once each, in order, to whoever waits,
and a cancelled wait must not swallow an item."""

from __future__ import annotations

import asyncio

import pytest

from fiido.realtime.daphne_io import InputQueue


async def test_items_arrive_in_order_whether_queued_before_or_after_the_wait():
    queue = InputQueue()
    queue.put_nowait({"type": "http.request", "body": b"a", "more_body": True})
    queue.put_nowait({"type": "http.request", "body": b"b", "more_body": False})
    assert (await queue.get())["body"] == b"a"
    assert (await queue.get())["body"] == b"b"

    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_nowait({"type": "http.disconnect"})
    assert await asyncio.wait_for(waiting, 5) == {"type": "http.disconnect"}


async def test_two_waiters_take_one_item_each():
    queue = InputQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert sorted(await asyncio.wait_for(asyncio.gather(first, second), 5)) == [1, 2]


async def test_a_cancelled_wait_leaves_the_item_for_the_next():
    queue = InputQueue()
    cancelled = asyncio.ensure_future(queue.get())
    other = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("disconnect")  # wakes the first waiter...
    cancelled.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await asyncio.wait_for(other, 5) == "disconnect"


async def test_a_wait_cancelled_before_anything_came_is_forgotten():
    queue = InputQueue()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    queue.put_nowait("later")
    assert await asyncio.wait_for(queue.get(), 5) == "later"


def test_daphne_gives_each_connection_an_input_queue():
    """The patch is in place once the ASGI module is loaded (as daphne loads it)."""
    from daphne.server import Server

    import fiido.asgi  # noqa: F401 - applies the patches

    created = []

    class Protocol:
        pass

    server = Server.__new__(Server)
    protocol = Protocol()
    server.connections = {protocol: {}}

    async def application(scope, receive, send):
        created.append(receive.__self__)

    server.application = application

    async def create():
        queue = server.create_application(protocol, {"type": "http"})
        await server.connections[protocol]["application_instance"]
        return queue

    queue = asyncio.run(create())
    assert isinstance(queue, InputQueue)
    assert created == [queue]
