"""``make bench``'s pieces start and deliver, at tiny scale (no timing assertions).

Two real daphne workers on a private SQLite database and Redis, sessions from
``bench/prepare.py``, agent messages posted to worker A and read from the
customer stream on worker B by ``bench/resume.py`` (half the streams drop and
resume with ``Last-Event-ID``), and, when the shared yardstick is present, by
its ``sse_load.py`` too. Every event must arrive exactly once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def load_bench_runner():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_workers(redis_url, tmp_path, monkeypatch):
    bench = load_bench_runner()
    monkeypatch.setattr(bench, "WORK", tmp_path)
    monkeypatch.setattr(bench, "PROJECT_PYTHON", Path(sys.executable))
    redis = SimpleNamespace(url=redis_url)
    bench.Ours.migrate(redis)
    ours = bench.Ours(redis, "pubsub", "smoke")
    vars_file = ours.prepare("smoke", 1, viewers=2)
    try:
        ours.start()
        yield bench, ours, vars_file
    finally:
        ours.stop()


def test_bench_pieces_deliver_every_event_once(bench_workers, tmp_path):
    bench, ours, vars_file = bench_workers
    lines = [json.loads(line) for line in vars_file.read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["session"] == lines[1]["session"]
    assert lines[0]["cookie"] != lines[1]["cookie"]  # two viewers, two customer cookies

    a, b = ours.ports
    resumed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "resume.py"), "--url", bench.OURS_SSE.format(port=b),
         "--publish-url", bench.OURS_PUBLISH.format(port=a), "--vars", str(vars_file),
         "--streams", "2", "--events", "4", "--rate", "10", "--gap", "0.2", "--settle", "0.2", "--drain", "10"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert resumed.stdout, resumed.stderr
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["events"]["published"] == 4, result
    assert result["delivery"]["expected"] == 8
    assert result["delivery"]["lost"] == 0 and result["delivery"]["duplicates"] == 0, result
    assert result["delivery"]["reconnected"] == 1, result

    sse_load = bench.YARDSTICK / "sse_load.py"
    if not sse_load.exists():
        return  # the shared yardstick is not on this machine; the project's own client passed
    loaded = subprocess.run(
        [sys.executable, str(sse_load), "--name", "smoke", "--url", bench.OURS_SSE.format(port=b),
         "--publish-url", bench.OURS_PUBLISH.format(port=a), "--subs", "2", "--channels", "1",
         "--events", "3", "--rate", "10", "--settle", "0.2", "--drain", "10",
         "--header", "Cookie: {cookie}", "--sub-vars", str(vars_file), "--chan-vars", str(vars_file),
         "--publish-header", "Cookie: {agent_cookie}", "--publish-header", "X-CSRFToken: {csrf}",
         "--publish-body", bench.PUBLISH_BODY],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert loaded.stdout, loaded.stderr
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert result["connections"]["ready"] == 2, result
    assert result["delivery"]["delivered"] == 6, result
    assert result["delivery"]["lost"] == 0 and result["delivery"]["duplicates"] == 0, result


def test_stream_memory_opens_idle_streams_and_names_where_their_memory_goes(redis_url):
    """``bench/stream_memory.py --trace`` at tiny scale: the streams open and
    stay, and the traced worker reports the sites that grew."""
    measured = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "stream_memory.py"),
         "--streams", "20", "--trace", "--frames", "1", "--settle", "1"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "REDIS_URL": redis_url, "PROJECT_PYTHON": sys.executable},
    )  # fmt: skip
    assert measured.returncode == 0, measured.stderr[-2000:]
    assert "20 idle streams in" in measured.stdout and "KiB per stream" in measured.stdout, measured.stdout
    assert "grew by" in measured.stdout, measured.stdout
    assert re.search(r"^ +\d+ +[\d.]+  \S+\.py:\d+", measured.stdout, re.MULTILINE), measured.stdout  # a site


def test_the_sweep_report_names_where_each_system_stops_keeping_up():
    """``report.py`` reads ``S3@<rate>`` runs back into one table and says, per system,
    between which rates its p99 crossed the line (a loss counts as crossing)."""
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)

    def run(rate: int, system: str, p99: float, lost: int = 0) -> dict:
        return {
            "scenario": f"S3@{rate}", "system": system, "params": {"subs": 4, "rate": rate},
            "latency": {"p50_ms": 5.0, "p99_ms": p99},
            "delivery": {"lost": lost, "expected": 100, "duplicates": 0},
        }  # fmt: skip

    runs = [
        run(50, "peer", 20.0), run(50, "ours", 15.0),
        run(100, "peer", 150.0), run(100, "ours", 40.0),
        run(200, "peer", 900.0), run(200, "ours", 60.0, lost=1),
    ]  # fmt: skip
    groups = {(r["scenario"], r["system"]): [r] for r in runs}
    lines: list[str] = []
    report.sweep_table(groups, lines)
    text = "\n".join(lines)
    assert "| 100 | 5.0 / 150 (–) | 5.0 / 40.0 (–) |" in text, text
    assert "django-eventstream 5.3.4: p99 crosses 100 ms between 50 and 100/s." in text
    assert "Fiido (pubsub layer): p99 crosses 100 ms between 100 and 200/s." in text
