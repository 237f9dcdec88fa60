"""The pooled ASGI handler (fiido/handler.py): requests run whole on a fixed pool of
threads that keep their database connections, and behave as under Django's own handler."""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core import signals
from django.db import connection, connections
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from fiido.handler import PooledASGIHandler
from tests.support import asgi_scope

pytestmark = [pytest.mark.django_db(transaction=True)]


def where(request):
    """Which thread and which database connection served this request."""
    connection.ensure_connection()
    return JsonResponse({"thread": threading.current_thread().name, "connection": id(connection.connection)})


def boom(request):
    raise RuntimeError("view failed")


def streamed(request):
    return StreamingHttpResponse(iter([b"one,", b"two,", b"three"]))


@csrf_exempt
def posted(request):
    return HttpResponse(request.body[::-1], content_type="text/plain")


urlpatterns = [
    path("where", where),
    path("boom", boom),
    path("streamed", streamed),
    path("posted", posted),
    path("", include("fiido.urls")),  # the login rate limit reverses the login pages
]


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = __name__
    settings.WEB_THREADS = 2
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    handler = PooledASGIHandler()
    yield handler
    # Each pool thread keeps its connection; close them (one task per thread)
    # so the test database can be dropped at the end of the run.
    barrier = threading.Barrier(settings.WEB_THREADS)

    def close_connection():
        barrier.wait(10)
        connections.close_all()

    for done in [handler.executor.submit(close_connection) for _ in range(settings.WEB_THREADS)]:
        done.result()
    handler.executor.shutdown(wait=True)


async def call(handler, url: str, *, method: str = "GET", body: bytes = b"") -> tuple[int, bytes]:
    scope = {**asgi_scope(url, [(b"content-type", b"text/plain")]), "method": method}
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(10)
    content = b""
    while True:
        message = await communicator.receive_output(10)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], content


async def test_requests_run_on_the_pool_and_keep_their_connection(handler, settings):
    """Requests run on the pool's named threads, and each thread keeps its own
    database connection from one request to the next.

    Which thread serves which request is the scheduler's business:
    ThreadPoolExecutor frees an idle worker only after the result is set, so a
    quick next request may start a second thread. So the test checks the
    guarantee (one connection per thread, never more connections than
    threads), not how many threads the pool happened to use.
    """
    served = []
    for _ in range(12):
        status, body = await call(handler, "/where")
        assert status == 200
        served.append(json.loads(body))
    threads = {row["thread"] for row in served}
    assert all(name.startswith("fiido-request") for name in threads)
    assert len(threads) <= 2  # WEB_THREADS
    if settings.DATABASES["default"]["OPTIONS"].get("pool"):
        return  # DATABASE_POOL: a request borrows a pooled connection and gives it back, by design
    connections_of = {name: {row["connection"] for row in served if row["thread"] == name} for name in threads}
    assert all(len(ids) == 1 for ids in connections_of.values()), connections_of
    assert len({row["connection"] for row in served}) == len(threads)


async def test_request_finished_runs_once_per_request(handler):
    finished = []

    def on_finished(**kwargs):
        finished.append(threading.current_thread().name)

    signals.request_finished.connect(on_finished)
    try:
        assert (await call(handler, "/where"))[0] == 200
        with pytest.warns(Warning, match="synchronous iterators"):  # Django's own, as under ASGIHandler
            assert (await call(handler, "/streamed")) == (200, b"one,two,three")
    finally:
        signals.request_finished.disconnect(on_finished)
    assert len(finished) == 2
    assert all(name.startswith("fiido-request") for name in finished)


async def test_a_failing_view_is_a_500_not_a_crash(handler):
    status, _ = await call(handler, "/boom")
    assert status == 500
    assert (await call(handler, "/where"))[0] == 200


async def test_the_body_reaches_the_view(handler):
    assert await call(handler, "/posted", method="POST", body=b"abc") == (200, b"cba")


def test_async_to_sync_on_a_pool_thread_reaches_the_handlers_loop(handler):
    """Code on a pool thread that calls async_to_sync (publish.send_now, when no loop
    is attached yet) must run on the server's event loop, where the layer's connections live."""
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async

    loops = []

    async def record_loop():
        loops.append(asyncio.get_running_loop())

    def in_request():
        async_to_sync(record_loop)()

    async def main():
        await sync_to_async(in_request, thread_sensitive=False, executor=handler.executor)()
        return asyncio.get_running_loop()

    server_loop = asyncio.run(main())
    assert loops == [server_loop]
