"""The project's ASGI application under ``tracemalloc``, for ``stream_memory.py --trace``.

SIGUSR1 the first time takes the baseline snapshot; the second time it writes
the allocation sites that grew since, largest first, to
``$STREAM_MEMORY_DUMP``, grouped by their last ``$STREAM_MEMORY_FRAMES`` frames.
"""

from __future__ import annotations

import gc
import os
import signal
import tracemalloc
from pathlib import Path

tracemalloc.start(int(os.environ.get("STREAM_MEMORY_FRAMES", "4")))

from fiido.asgi import application  # noqa: E402

__all__ = ["application"]

_baseline: tracemalloc.Snapshot | None = None


def _site(statistic: tracemalloc.StatisticDiff) -> str:
    frames = [f"{Path(frame.filename).name}:{frame.lineno}" for frame in statistic.traceback]
    return " > ".join(reversed(frames))  # outermost first


def _dump(*_) -> None:
    global _baseline
    out = Path(os.environ["STREAM_MEMORY_DUMP"])
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    if _baseline is None:
        _baseline = snapshot
        out.write_text("baseline\n")
        return
    grown = [s for s in snapshot.compare_to(_baseline, "traceback") if s.size_diff > 0]
    top = int(os.environ.get("STREAM_MEMORY_TOP", "40"))
    lines = [f"grew by {sum(s.size_diff for s in grown)} bytes in all"]
    lines += [f"{s.size_diff:>10} {s.count_diff:>7}  {_site(s)}" for s in grown[:top]]
    out.write_text("\n".join(lines) + "\n")


signal.signal(signal.SIGUSR1, _dump)
