"""Caps on the streams one visitor may hold open in one worker.

A stream costs a socket, a file descriptor and some memory for as long as it
is open, and opening one costs a database read: without a cap one anonymous
client opened 400 streams of one conversation on a worker (security probe,
second round). Each open stream holds a lease on a few keys (its conversation
and viewer, its address or login); a stream that would take a key over its
limit is refused with 429 before it reads anything.

Counts are per worker process: with W workers behind one socket a client can
hold up to W times a limit, which still bounds what it costs each worker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

Key = tuple[str, ...]


class Lease:
    """The keys one open stream counts against; release it when the stream ends."""

    __slots__ = ("_caps", "_keys")

    def __init__(self, caps: StreamCaps, keys: list[Key]) -> None:
        self._caps = caps
        self._keys = keys

    def release(self) -> None:
        if self._keys:
            self._caps._release(self._keys)
            self._keys = []


class StreamCaps:
    """Open streams per key, in this process."""

    def __init__(self) -> None:
        self._open: Counter[Key] = Counter()

    def acquire(self, limits: Iterable[tuple[Key, int]]) -> Lease | None:
        """A lease on every key, or None (and nothing counted) if one is at its limit."""
        limits = list(limits)
        if any(self._open[key] >= limit for key, limit in limits):
            return None
        for key, _ in limits:
            self._open[key] += 1
        return Lease(self, [key for key, _ in limits])

    def count(self, key: Key) -> int:
        return self._open[key]

    def _release(self, keys: list[Key]) -> None:
        for key in keys:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]


stream_caps = StreamCaps()
