"""Prometheus metrics of one worker process, served at ``/metrics``.

Every daphne worker is its own process with its own figures, so each serves
its own registry, and every sample carries the worker's identity
(``worker`` label, ``worker_id()``). Behind supervisor
the shared socket reaches a random worker, so each worker also listens on a
port of its own (``METRICS_PORT`` + its number, ``deploy/supervisord.conf``),
which Prometheus scrapes one by one (README, "Metrics").

The delivery path only adds to plain integers on the event loop (no lock,
no I/O, no label look-up per delivery); they become Prometheus samples when
``/metrics`` is read. Request latency is a prometheus_client histogram, as
requests run on several threads.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable

from django.conf import settings
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.process_collector import ProcessCollector

logger = logging.getLogger(__name__)

# Publish -> written to the client's socket, in seconds.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STREAM_KINDS = ("customer", "agent", "queue")


class Stats:
    """The delivery path's counters: plain integers, touched on the event loop only."""

    __slots__ = (
        "catch_up_events",
        "catch_ups",
        "delivered",
        "lag_counts",
        "lag_sum",
        "publish_failures",
        "published",
        "published_dropped",
        "slow_readers_cut",
        "streams",
    )

    def __init__(self) -> None:
        self.published = 0  # layer messages sent (one event goes to its session's group and maybe the queue)
        self.publish_failures = 0  # batches the layer refused or timed out
        self.published_dropped = 0  # layer messages not sent (failed or skipped batches): streams catch up
        self.delivered = 0  # live events written to streams
        self.catch_ups = 0  # database reads a stream made for events the layer did not bring
        self.catch_up_events = 0  # events those reads found
        self.slow_readers_cut = 0
        self.streams = dict.fromkeys(STREAM_KINDS, 0)
        self.lag_counts = [0] * (len(LAG_BUCKETS) + 1)
        self.lag_sum = 0.0


stats = Stats()


def observe_lag(published_at: float, count: int = 1) -> None:
    """``count`` deliveries of an event published at ``published_at`` (``time.time()``) happened now."""
    lag = time.time() - published_at
    if lag < 0:
        lag = 0.0  # another machine's clock ahead of ours
    stats.lag_counts[bisect_left(LAG_BUCKETS, lag)] += count
    stats.lag_sum += lag * count
    stats.delivered += count


# Queue length and oldest wait come from the app (fiido imports neither app).
QueueProbe = Callable[[], tuple[int, float | None]]
_queue_probe: QueueProbe | None = None


def register_queue_probe(probe: QueueProbe) -> None:
    """Install the app's count of waiting conversations and the oldest one's wait in seconds."""
    global _queue_probe
    _queue_probe = probe


def worker_id() -> str:
    """``WORKER_ID``; under supervisor ``<host>/<program name>`` (stable across
    restarts); else ``<host>:<pid>``."""
    if settings.WORKER_ID:
        return settings.WORKER_ID
    supervised = os.environ.get("SUPERVISOR_PROCESS_NAME")
    if supervised:
        return f"{socket.gethostname()}/{supervised}"
    return f"{socket.gethostname()}:{os.getpid()}"


class _Collector:
    """Turns ``stats``, the hub's state and the queue into samples at scrape time."""

    def collect(self) -> Iterable:
        yield _counter("fiido_events_published", "Events handed to the channel layer.", stats.published)
        yield _counter("fiido_publish_failures", "Publish batches the channel layer failed.", stats.publish_failures)
        yield _counter(
            "fiido_events_publish_dropped",
            "Events not handed to the layer (failed or skipped batches); streams catch up from the database.",
            stats.published_dropped,
        )
        yield _counter("fiido_events_delivered", "Live events written to streams.", stats.delivered)
        yield _counter(
            "fiido_catch_ups", "Database reads by streams for events the layer did not bring.", stats.catch_ups
        )
        yield _counter("fiido_catch_up_events", "Events those database reads recovered.", stats.catch_up_events)
        yield _counter(
            "fiido_slow_readers_cut", "Streams closed because their client stopped reading.", stats.slow_readers_cut
        )
        streams = GaugeMetricFamily("fiido_streams_open", "Open event streams by kind.", labels=["kind"])
        for kind, count in stats.streams.items():
            streams.add_metric([kind], count)
        yield streams
        buckets, total = [], 0
        for bound, count in zip((*LAG_BUCKETS, float("inf")), stats.lag_counts, strict=True):
            total += count
            buckets.append((_bound(bound), total))
        yield HistogramMetricFamily(
            "fiido_delivery_lag_seconds",
            "Publish (commit) to written to the client's socket, per live delivery.",
            buckets=buckets,
            sum_value=stats.lag_sum,
        )
        yield from _layer_samples()
        yield from _queue_samples()


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _layer_samples() -> Iterable:
    from fiido.realtime.hub import all_hubs
    from fiido.redis_config import configured_hosts, describe

    hubs = all_hubs()
    state = GaugeMetricFamily(
        "fiido_layer_state", "1 for the channel layer's state: redis, degraded or in-memory.", labels=["state"]
    )
    current = hubs[0].state if hubs else ("redis" if configured_hosts() else "in-memory")
    for name in ("redis", "degraded", "in-memory"):
        state.add_metric([name], 1 if current == name else 0)
    yield state
    if hubs and hubs[0].hosts:
        up = GaugeMetricFamily(
            "fiido_layer_shard_up", "1 while this Redis server answers the worker's hub.", labels=["shard", "server"]
        )
        for index, host in enumerate(hubs[0].hosts):
            up.add_metric([str(index), describe(host)], 0 if index in hubs[0].down else 1)
        yield up


def _queue_samples() -> Iterable:
    if _queue_probe is None:
        return
    try:
        waiting, oldest = _queue_probe()
    except Exception:  # the other metrics still matter; the gauges go absent
        logger.warning("The queue gauges could not be read", exc_info=True)
        return
    yield GaugeMetricFamily("fiido_queue_waiting", "Conversations waiting for an agent.", value=waiting)
    yield GaugeMetricFamily(
        "fiido_queue_oldest_wait_seconds", "How long the longest-waiting conversation has waited.", value=oldest or 0
    )


class _WorkerRegistry(CollectorRegistry):
    """A registry whose every sample carries this worker's identity."""

    def collect(self):
        worker = worker_id()
        for metric in super().collect():
            metric.samples = [sample._replace(labels={**sample.labels, "worker": worker}) for sample in metric.samples]
            yield metric


REGISTRY = _WorkerRegistry()
REGISTRY.register(_Collector())
ProcessCollector(namespace="fiido", registry=REGISTRY)  # fiido_process_cpu_seconds_total, ..._resident_memory_bytes
REQUEST_LATENCY = Histogram(
    "fiido_request_seconds",
    "Time to answer a request (streams excepted), by URL name.",
    ["endpoint", "method", "status"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)


class RequestMetricsMiddleware:
    """Observes every request's latency under its resolved URL name (never the
    raw path, which would make a series per conversation)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            endpoint = match.view_name
        elif request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            endpoint = "static"
        else:
            endpoint = "unmatched"
        REQUEST_LATENCY.labels(endpoint, request.method, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response


def authorized(authorization: str | None) -> int:
    """200, 401 or 404 for a request to ``/metrics`` with this Authorization header."""
    token = settings.METRICS_TOKEN
    if not token:
        return 404
    expected = f"Bearer {token}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode("latin-1"), expected):
        return 401
    return 200


def exposition() -> tuple[bytes, str]:
    """The Prometheus text and its content type (runs the queue probe: a database read)."""
    return generate_latest(REGISTRY), CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus reads


async def endpoint(scope, receive, send) -> None:
    """``GET /metrics``, served ahead of Django (``fiido/asgi.py``): no host
    check or HTTPS redirect stands between a worker's own port and its
    scraper; the bearer token is the gate. 404 while ``METRICS_TOKEN`` is unset."""
    from asgiref.sync import sync_to_async

    from fiido.realtime.sse import security_headers
    from fiido.realtime.stream import header, send_json_error

    status = authorized(header(scope, b"authorization"))
    if status == 404:
        return await send_json_error(send, 404, "Not found.")
    if status == 401:
        return await send_json_error(send, 401, "A bearer token is required.", [(b"www-authenticate", b"Bearer")])
    body, content_type = await sync_to_async(_exposition_closing, thread_sensitive=False)()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"), *security_headers()],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _exposition_closing() -> tuple[bytes, str]:
    from django.db import connection

    try:
        return exposition()
    finally:
        connection.close()
