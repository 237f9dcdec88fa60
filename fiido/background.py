"""Slow work (LLM calls) off every request and stream: a small thread pool per process.

A request or the state machine hands a job over after its transaction
commits (``run_after_commit``) and returns at once; the job runs on one of
``settings.COPILOT_THREADS`` threads, so a slow or dead endpoint ties up
those threads and nothing else (no request thread, no stream, no event
loop). A job that fails is logged; what it should have produced is made up
by a periodic job (``chatbot.translation.retry_missing``), so nothing depends
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

# Jobs queued or running per process before new ones are turned away (logged once
# per burst): an LLM slower than the messages come must not grow memory without
# bound; a translation turned away is made up by the periodic retry.
MAX_PENDING_JOBS = 500

_lock = threading.Lock()
_refusing = False
_executor: ThreadPoolExecutor | None = None
_pending: set[Future] = set()


def run_after_commit(job: Callable[..., object], *args: object) -> None:
    """Run ``job(*args)`` on the pool once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: submit(job, *args))


def submit(job: Callable[..., object], *args: object) -> Future | None:
    """Run ``job(*args)`` on the pool; never blocks the caller. None when
    ``MAX_PENDING_JOBS`` are waiting already: the job is not run."""
    global _executor, _refusing
    with _lock:
        if len(_pending) >= MAX_PENDING_JOBS:
            if not _refusing:
                logger.warning("Background pool full (%d jobs): new ones are skipped until it drains", len(_pending))
            _refusing = True
            return None
        _refusing = False
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
