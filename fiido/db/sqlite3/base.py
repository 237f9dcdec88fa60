"""Django's SQLite backend, with one process-wide queue for write transactions.

SQLite lets one connection write at a time. When a second one asks (``BEGIN
IMMEDIATE``), SQLite's busy handler makes it sleep and retry: 1, 2, 5, 10, 25,
50, up to 100 ms per try. Between the request threads of one worker
(``fiido/handler.py``) that is pure waste: with four clients posting at once,
a publishing request's p99 was 112 ms for a ~5 ms request (``bench/postcost.py
--concurrency 4``). Here a thread takes a per-database lock before ``BEGIN``
and gives it back when the transaction ends, so threads of one process wait
their turn on a lock that wakes them at once; only writers in other processes
still meet SQLite's busy handler.

The lock is held until the transaction's on-commit hooks have run, so one
worker queues its events for publishing in commit order (a stream that saw
seq 7 before 6 would have to re-read the database to fill the gap). Those
hooks do no I/O: ``fiido.realtime.publish`` only appends to a queue that the
event loop sends, so no thread waits for Redis while it holds this lock.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _write_lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._holds_write_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        if self._holds_write_lock:
            # An on-commit hook of this connection's last transaction writes
            # again: it still holds the lock (see set_autocommit).
            super()._start_transaction_under_autocommit()
            return
        lock = _write_lock(str(self.settings_dict["NAME"]))
        if not lock.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5))):
            raise OperationalError("database is locked (another thread of this process kept writing)")
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def set_autocommit(self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False) -> None:
        try:
            super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)
        finally:
            if autocommit:
                # The transaction is over (committed or rolled back) and its
                # on-commit hooks have run: events are queued in commit order.
                self._release_write_lock()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_write_lock()

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            _write_lock(str(self.settings_dict["NAME"])).release()
