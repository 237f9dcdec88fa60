"""Django's ASGI handler, with each request served in one hop to a fixed thread pool.

Django's stock ``ASGIHandler`` runs every request through its async
middleware path: each ``MiddlewareMixin`` hook and the sync view hop between
the event loop and a thread made for that request, and since that thread dies
with the request, so does its database connection (which is why Django says
to keep ``CONN_MAX_AGE=0`` under ASGI). Profiled under load, those hops, the
thread start and the connection open/close (on SQLite, closing the last
connection also checkpoints the WAL) cost more than the request's own work.

Here the middleware chain is built in sync mode and a request runs on one of
``settings.WEB_THREADS`` long-lived threads from start to finish, as under a
threaded WSGI server: one hop in, one hop out, and each thread keeps its own
database connection between requests (``CONN_MAX_AGE``, with health checks).
The event loop still reads bodies and writes responses, and event streams
never reach this handler (``fiido/asgi.py`` routes them first). Streaming
responses (WhiteNoise's static files) are iterated as Django's own handler
does, then closed on the pool.

Trade-off: at most ``WEB_THREADS`` requests run at once per process; more
wait for a free thread. A slow bot (an LLM) holds a thread while it thinks, so
deployments with a slow bot and many simultaneous customers raise it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from fiido.realtime.publish import publisher

logger = logging.getLogger(__name__)


class PooledASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(max_workers=settings.WEB_THREADS, thread_name_prefix="fiido-request")

    async def handle(self, scope: dict, receive: Callable, send: Callable) -> None:
        publisher.attach(asyncio.get_running_loop())  # events committed by requests go out on this loop
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        response = None
        try:
            response = await self._in_pool(self._respond, scope, body_file)
            await self.send_response(response, send)
        finally:
            body_file.close()
            if response is not None and response.streaming:
                # Even when daphne cancels us (a client gone for long): close the file.
                await asyncio.shield(self._in_pool(response.close))

    def _respond(self, scope: dict, body_file: IO[bytes]) -> HttpResponseBase:
        """The whole request on a pool thread, as a WSGI server would run it."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            # The body is in memory: finish the request here, so request_finished
            # (connection upkeep) runs on the thread that owns the connection.
            # What it commits is committed: a failure here is logged, as Django
            # logs one after the response, and does not turn the answer into a 500.
            try:
                response.close()
            except Exception:
                logger.exception("Finishing the request failed after its response was built")
        return response

    async def _in_pool(self, function: Callable, *args: Any) -> Any:
        # Through asgiref rather than run_in_executor: async_to_sync inside the
        # thread (publishing events) then finds this event loop.
        return await sync_to_async(function, thread_sensitive=False, executor=self.executor)(*args)


def get_pooled_asgi_application() -> PooledASGIHandler:
    """Set Django up and return the handler (``django.core.asgi.get_asgi_application``'s twin)."""
    import django

    django.setup(set_prefix=False)
    return PooledASGIHandler()
