"""Profile our two workers under a scenario with py-spy: ``profile.py S3 [--layer pubsub]``.

Starts Redis and the two daphne workers as ``run.py`` does, runs the scenario
with ``sse_load.py`` while ``py-spy record`` samples both workers (publish side
A, stream side B), and prints, per worker, the functions holding the most
samples (inclusive) and the hottest lines (self). Speedscope files are kept in
``$BENCH_WORK/profile-*.json``. Needs ptrace (root or the same user).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench


def top(path: Path, limit: int) -> str:
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            total += weight
            names = set()
            for index in stack:
                frame = frames[index]
                short = frame.get("file", "").split("site-packages/")[-1].split("/work/main/")[-1]
                names.add(f"{frame['name']} ({short})")
            for name in names:
                inclusive[name] += weight
            frame = frames[stack[-1]]
            where = frame.get("file", "").split("site-packages/")[-1]
            own[f"{frame['name']} ({where}:{frame.get('line', '')})"] += weight
    lines = [f"{total:.1f} sample-seconds over {len(data['profiles'])} threads", "inclusive:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(limit)]
    lines += ["self:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in own.most_common(limit // 2)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["S1", "S2", "S3"])
    parser.add_argument("--layer", default="pubsub", choices=["pubsub", "core"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--top", type=int, default=50)
    args = parser.parse_args(argv)
    scenario = next(s for s in bench.scenarios(args.quick) if s.name == args.scenario)
    bench.WORK.mkdir(parents=True, exist_ok=True)
    redis = bench.Redis()
    ours = None
    try:
        bench.Ours.migrate(redis)
        ours = bench.Ours(redis, args.layer, f"profile-{scenario.name}")
        vars_file = ours.prepare(
            f"profile-{scenario.name}",
            min(scenario.channels, 1000),
            viewers=scenario.subs if scenario.channels == 1 else 0,
        )
        ours.start()
        a, b = ours.ports
        duration = int(scenario.events / scenario.rate) + 8
        spies = []
        outputs = []
        for side, pid in zip("AB", ours.pids, strict=True):
            out = bench.WORK / f"profile-{scenario.name}-{args.layer}-{side}.json"
            outputs.append((side, out))
            spies.append(
                subprocess.Popen(
                    [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "-d", str(duration),
                     "-r", "100", "--gil", "-f", "speedscope", "-o", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        time.sleep(1)
        subprocess.run(
            [sys.executable, str(bench.YARDSTICK / "sse_load.py"), "--name", scenario.name, "--target", "profile",
             "--url", bench.OURS_SSE.format(port=b), "--publish-url", bench.OURS_PUBLISH.format(port=a),
             "--subs", str(scenario.subs), "--channels", str(scenario.channels), "--events", str(scenario.events),
             "--rate", str(scenario.rate), "--warmup", "20", "--server-port", str(a), "--server-port", str(b),
             "--header", "Cookie: {cookie}", "--sub-vars", str(vars_file), "--chan-vars", str(vars_file),
             "--publish-header", "Cookie: {agent_cookie}", "--publish-header", "X-CSRFToken: {csrf}",
             "--publish-body", bench.PUBLISH_BODY],
            stdout=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        for spy in spies:
            spy.wait(timeout=duration + 30)
        for side, out in outputs:
            print(f"\n=== worker {side} ({'publish' if side == 'A' else 'stream'} side): {out}")
            print(top(out, args.top) if out.exists() else "no profile (py-spy needs ptrace)")
    finally:
        if ours is not None:
            ours.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
