"""Slow work (LLM calls) off every request and stream: a small thread pool per process.

A request or the state machine hands a job over after its transaction
commits (``run_after_commit``) and returns at once; the job runs on one of
``settings.COPILOT_THREADS`` threads, so a slow or dead endpoint ties up
those threads and nothing else (no request thread, no stream, no event
loop). A job that fails is logged; what it should have produced is made up
by a periodic job (``chatbot.translation.fill_missing``), so nothing depends
on a job running. Work queued in a process that dies is lost the same way
and made up the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import close_old_connections, connection, transaction

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_pending: set[Future] = set()


def run_after_commit(job: Callable[..., object], *args: object) -> None:
    """Run ``job(*args)`` on the pool once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: submit(job, *args))


def submit(job: Callable[..., object], *args: object) -> Future:
    """Run ``job(*args)`` on the pool; never blocks the caller."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.COPILOT_THREADS, thread_name_prefix="fiido-background")
        future = _executor.submit(_run, job, args)
        _pending.add(future)
    future.add_done_callback(_pending.discard)
    return future


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait until every job submitted so far has finished (tests, shutdown); False on time-out."""
    with _lock:
        futures = set(_pending)
    _done, not_done = wait(futures, timeout=timeout)
    return not not_done


def _run(job: Callable[..., object], args: tuple) -> None:
    close_old_connections()
    try:
        job(*args)
    except Exception:
        logger.exception("Background job %s failed", getattr(job, "__qualname__", job))
    finally:
        connection.close()  # the pool's threads hold no connection between jobs
