"""ASGI entry point.

Event streams are routed here, before Django's handler, so they bypass the
middleware stack: each ``MiddlewareMixin`` hook runs in a thread that would
stay held for the stream's whole life (DESIGN §6, known traps). Streams
authenticate from the session cookie themselves. Everything else is Django,
served on a fixed pool of request threads (``fiido/handler.py``).
"""

import gc
import os
import re

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fiido.settings")

from fiido.handler import get_pooled_asgi_application

django_application = get_pooled_asgi_application()  # sets Django up before models are imported

from chatbot.streams import customer_events  # noqa: E402
from workbench.streams import agent_session_events, queue_events_endpoint  # noqa: E402

# What is loaded by now lives as long as the process: move it out of the cyclic
# collector's reach. A full collection over it took ~40 ms here, a latency spike
# for every request and stream of the worker whenever one ran.
gc.freeze()

STREAM_ROUTES = [
    (re.compile(r"^/api/sessions/(?P<name>[A-Za-z0-9_-]{1,64})/events$"), customer_events),
    (re.compile(r"^/workbench/api/sessions/(?P<name>[A-Za-z0-9_-]{1,64})/events$"), agent_session_events),
    (re.compile(r"^/workbench/api/events$"), queue_events_endpoint),
]


async def application(scope, receive, send):
    if scope["type"] == "http":
        path = scope["path"]
        for pattern, endpoint in STREAM_ROUTES:
            match = pattern.match(path)
            if match:
                return await endpoint(scope, receive, send, **match.groupdict())
    return await django_application(scope, receive, send)
