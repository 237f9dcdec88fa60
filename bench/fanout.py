"""CPU cost of the hub's fan-out of one event to N idle streams on one worker,
with the metrics' per-dispatch bookkeeping on and patched out.

    .venv/bin/python bench/fanout.py [--streams 1000] [--events 2000]

No network: each stream's direct writer only counts bytes, so this is the
hub's own cost per delivery (``Subscription.push`` and the lag histogram).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fiido.settings")


async def measure(streams: int, events: int, metrics_on: bool) -> float:
    from channels.layers import InMemoryChannelLayer

    from fiido import metrics
    from fiido.realtime import hub as hub_module

    original = metrics.observe_lag
    if not metrics_on:
        hub_module.metrics.observe_lag = lambda at, count=1: None
    try:
        hub = hub_module.Hub(InMemoryChannelLayer())
        written = [0]

        def direct(frame: bytes) -> bool:
            written[0] += len(frame)
            return True

        subscriptions = [await hub.subscribe("session.bench", direct) for _ in range(streams)]
        waiters = [asyncio.ensure_future(s.get()) for s in subscriptions]
        await asyncio.sleep(0)  # every stream parked in get(): the direct path
        data = json.dumps({"type": "message", "message": {"content": "x" * 200}})
        started = time.process_time()
        for seq in range(1, events + 1):
            hub._dispatch(
                {"type": "fiido.event", "group": "session.bench", "seq": seq, "data": data, "at": time.time()}
            )
        elapsed = time.process_time() - started
        for waiter in waiters:
            waiter.cancel()
        hub.stop()
        return elapsed / (streams * events) * 1e9  # ns per delivery
    finally:
        metrics.observe_lag = original
        hub_module.metrics.observe_lag = original


def main() -> None:
    import django

    django.setup()
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = {True: [], False: []}
    for _ in range(args.rounds):
        for on in (False, True):
            results[on].append(asyncio.run(measure(args.streams, args.events, on)))
    for on in (False, True):
        values = sorted(results[on])
        print(
            f"metrics {'on ' if on else 'off'}: median {values[len(values) // 2]:.0f} ns per delivery "
            f"(runs: {', '.join(f'{v:.0f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
