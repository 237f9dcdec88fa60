"""Memory of idle streams on one worker: ``stream_memory.py [--streams N] [--trace]``.

Starts one daphne worker of the project (production settings, a fresh SQLite
file, ``REDIS_URL`` if set), prepares one conversation with N customer
cookies (``prepare.py --viewers``), opens a hundred streams to warm the
worker, then N more, each read up to its opening history and then left
idle, and prints the worker's RSS per added stream and its thread count.

``--trace`` runs the worker under ``tracemalloc`` (``stream_memory_app.py``)
and prints the allocation sites that grew with the streams, per stream,
grouped by the last ``--frames`` frames: where an idle stream's memory goes.
Tracing slows the worker and adds its own overhead to RSS; compare RSS
without it. It is the quick loop for S4 of ``make bench`` (``bench/NOTES.md``):
seconds for a few thousand streams instead of the full run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

ROOT = bench.ROOT
PYTHON = str(bench.PROJECT_PYTHON)
WARM_STREAMS = 100
CONNECT_CONCURRENCY = 100


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_stream(port: int, line: dict, held: list) -> None:
    """One customer stream, read up to its opening history, then kept open and unread."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET /api/sessions/{line['session']}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {line['cookie']}\r\nAccept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    received = b""
    while b'"type":"history"' not in received or not received.endswith(b"\n\n\r\n"):
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError(f"stream closed before its history: {received[:200]!r}")
        received += chunk
    held.append(writer)


async def open_streams(port: int, lines: list[dict], held: list) -> None:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(line: dict) -> None:
        async with limit:
            await open_stream(port, line, held)

    await asyncio.gather(*(one(line) for line in lines))


def wait_for_file(path: Path, prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text()).startswith(prefix):
            return text
        time.sleep(0.5)
    raise RuntimeError(f"no {prefix!r} in {path} after {timeout} s")


def per_stream(trace: str, streams: int) -> str:
    """The worker's dump with each site's growth divided among the streams."""
    head, *sites = trace.splitlines()
    out = [head, "bytes and blocks per stream, site (outermost frame first):"]
    for line in sites:
        size, blocks, site = line.split(maxsplit=2)
        out.append(f"{int(size) / streams:8.0f} {int(blocks) / streams:5.1f}  {site}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=3000)
    parser.add_argument("--trace", action="store_true", help="run the worker under tracemalloc; print the sites")
    parser.add_argument("--frames", type=int, default=4, help="frames per allocation site with --trace")
    parser.add_argument("--top", type=int, default=40, help="sites to print with --trace")
    parser.add_argument("--settle", type=float, default=10, help="seconds idle before RSS is read")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fiido-stream-memory-"))
    env = bench.project_env(work / "db.sqlite3", os.environ.get("REDIS_URL", ""))
    env.update(PYTHONPATH=f"{Path(__file__).resolve().parent}:{ROOT}", STREAM_MEMORY_DUMP=str(work / "trace.txt"))
    env.update(STREAM_MEMORY_FRAMES=str(args.frames), STREAM_MEMORY_TOP=str(args.top))
    viewers = str(WARM_STREAMS + args.streams)
    lines = bench.prepare_one_worker(PYTHON, env, work / "vars.jsonl", "--viewers", viewers)

    port = bench.free_port()
    app = "stream_memory_app:application" if args.trace else "fiido.asgi:application"
    worker = bench.spawn_one_worker(PYTHON, env, port, work / "daphne.log", app)
    held: list = []
    try:
        # Traced, start-up allocates under tracemalloc: minutes on a busy machine.
        bench.wait_for(lambda: bench.answers(f"http://127.0.0.1:{port}/healthz"), 600 if args.trace else 60, "daphne")

        async def measure() -> tuple[int, int, float]:
            await open_streams(port, lines[:WARM_STREAMS], held)
            await asyncio.sleep(2)
            if args.trace:
                os.kill(worker.pid, signal.SIGUSR1)  # the baseline snapshot
                await asyncio.to_thread(wait_for_file, work / "trace.txt", "baseline", 120)
            before = rss_kib(worker.pid)
            started = time.monotonic()
            await open_streams(port, lines[WARM_STREAMS:], held)
            connect_s = time.monotonic() - started
            await asyncio.sleep(args.settle)
            after = rss_kib(worker.pid)
            if args.trace:
                (work / "trace.txt").unlink()
                os.kill(worker.pid, signal.SIGUSR1)
                print(per_stream(await asyncio.to_thread(wait_for_file, work / "trace.txt", "grew", 600), args.streams))
            for writer in held:
                writer.close()
            return before, after, connect_s

        before, after, connect_s = asyncio.run(measure())
        threads = len(os.listdir(f"/proc/{worker.pid}/task"))
        print(
            f"{args.streams} idle streams in {connect_s:.1f} s: RSS {before} -> {after} KiB, "
            f"{(after - before) / args.streams:.2f} KiB per stream, {threads} threads"
            + (" (traced: RSS includes tracemalloc's own)" if args.trace else "")
        )
    finally:
        bench.stop(worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
