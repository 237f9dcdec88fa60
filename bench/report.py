"""Turn ``bench/results/*.jsonl`` into ``bench/RESULTS.md`` and ``bench/latency.png``.

``report.py RESULTS.jsonl [--out bench/RESULTS.md] [--plot bench/latency.png]``

Figures over repeats are medians (``runs`` says how many); loss and
duplicates are totals over all runs. ``bench/NOTES.md``, when present, is
appended verbatim (the hand-written analysis and profiles).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

SYSTEMS = ["floor-fanout", "floor-conns", "peer", "peer-stored", "ours", "ours-core"]
LABELS = {
    "floor-fanout": "floor (1 conn, in-process fan-out)",
    "floor-conns": "floor (1 Redis conn per subscriber)",
    "peer": "django-eventstream 5.3.4",
    "peer-stored": "django-eventstream 5.3.4, storage on",
    "ours": "Fiido (pubsub layer)",
    "ours-core": "Fiido (core layer)",
}
SCENARIOS = {
    "S1": "1 stream, {events} events at {rate}/s",
    "S2": "{subs} streams on one session, {events} events at {rate}/s",
    "S3": "{subs} sessions, one stream each, {events} events at {rate}/s",
    "S3-50": "as S3 at half the rate (supplementary): {events} events at {rate}/s",
}
# issue 6: p99 targets for ours (ms)
TARGETS = {"S1": 15.0, "S2": 60.0, "S3": 30.0}
# issue 18: the sweep reports the rate at which each system's p99 crosses this
SWEEP_P99_MS = 100.0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def sub_pid(result: dict) -> str | None:
    pids = result.get("server_pids") or []
    return str(pids[-1]) if pids else None


def cpu_per_event(result: dict) -> tuple[float | None, float | None, float | None]:
    """(total, publish side, stream side) server CPU ms per published event."""
    cpu = result.get("server_cpu_s_during_run") or {}
    published = (result.get("events") or {}).get("published") or 0
    pids = [str(p) for p in result.get("server_pids") or []]
    if not cpu or not published or len(pids) < 2 or any(cpu.get(p) is None for p in pids):
        return None, None, None
    a, b = cpu[pids[0]], cpu[pids[1]]
    return 1000 * (a + b) / published, 1000 * a / published, 1000 * b / published


def rss_per_conn(result: dict) -> float | None:
    if "server_rss" in result:
        value = result["server_rss"]["per_connection_bytes"].get(sub_pid(result))
        return None if value is None else value / 1024
    return None


def summarize(rows: list[dict]) -> dict:
    latency = [r.get("latency") or {} for r in rows]
    delivery = [r.get("delivery") or {} for r in rows]
    cpus = [cpu_per_event(r) for r in rows]
    threads = []
    for r in rows:
        pid = sub_pid(r)
        if pid and r.get("server_threads", {}).get(pid) is not None:
            threads.append(r["server_threads"][pid])
    connections = [r.get("connections") or {} for r in rows]
    return {
        "runs": len(rows),
        "p50": median([lat.get("p50_ms") for lat in latency]),
        "p99": median([lat.get("p99_ms") for lat in latency]),
        "max": median([lat.get("max_ms") for lat in latency]),
        "p99_all": [lat.get("p99_ms") for lat in latency],
        "lost": sum(d.get("lost") or 0 for d in delivery),
        "expected": sum(d.get("expected") or 0 for d in delivery),
        "dups": sum(d.get("duplicates") or 0 for d in delivery),
        "eps": median([d.get("throughput_eps") for d in delivery]),
        "cpu": median([c[0] for c in cpus]),
        "cpu_pub": median([c[1] for c in cpus]),
        "cpu_sub": median([c[2] for c in cpus]),
        "rss": median([rss_per_conn(r) for r in rows]),
        "threads": median(threads),
        "held": median([c.get("held_after_hold", c.get("held_after_settle")) for c in connections]),
        "ready": median([c.get("ready") for c in connections]),
        "connect_s": median([c.get("connect_phase_s") for c in connections]),
        "post_p50": median([((r.get("events") or {}).get("post_latency") or {}).get("p50_ms") for r in rows]),
        "params": rows[0].get("params", {}),
    }


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "–"
    value = a / b
    return f"{value:.2g}×" if value < 10 else f"{value:.0f}×"


def latency_table(groups: dict, out: list[str]) -> None:
    out.append(
        "| scenario | system | runs | p50 ms | p99 ms | max ms | lost | dup | delivered/s "
        "| server CPU ms per published event (publish + stream side) | server threads (stream side) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for scenario in ("S1", "S2", "S3", "S3-50"):
        first = True
        for system in SYSTEMS:
            rows = groups.get((scenario, system))
            if not rows:
                continue
            s = summarize(rows)
            p = s["params"]
            title = f"**{scenario}** {SCENARIOS[scenario].format(**p)}" if first else ""
            first = False
            cpu = "–" if s["cpu"] is None else f"{s['cpu']:.1f} ({s['cpu_pub']:.1f} + {s['cpu_sub']:.1f})"
            p99_all = ", ".join(fmt(v) for v in s["p99_all"]) if s["runs"] > 1 else ""
            out.append(
                f"| {title} | {LABELS[system]} | {s['runs']} | {fmt(s['p50'])} | {fmt(s['p99'])}"
                f"{f' ({p99_all})' if p99_all else ''} | {fmt(s['max'])} "
                f"| {s['lost']} of {s['expected']:,} | {s['dups']} "
                f"| {fmt(s['eps'])} | {cpu} | {fmt(s['threads'])} |"
            )


def ratio_table(groups: dict, out: list[str]) -> None:
    out.append(
        "| scenario | ours p50 / p99 ms | peer ÷ ours (p50, p99; above 1 = ours faster) "
        "| peer with storage ÷ ours (p50, p99) | ours ÷ floor (p50, p99) | target p99 | met? |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for scenario in ("S1", "S2", "S3"):
        ours = groups.get((scenario, "ours"))
        if not ours:
            continue
        o = summarize(ours)
        peer = summarize(groups[(scenario, "peer")]) if groups.get((scenario, "peer")) else None
        stored = summarize(groups[(scenario, "peer-stored")]) if groups.get((scenario, "peer-stored")) else None
        floor = summarize(groups[(scenario, "floor-fanout")]) if groups.get((scenario, "floor-fanout")) else None
        target = TARGETS.get(scenario)
        met = (
            "–"
            if o["p99"] is None
            else (
                "yes"
                if o["p99"] <= target and o["lost"] == 0 and o["dups"] == 0
                else f"**no** ({o['p99'] / target:.1f}× the target)"
            )
        )
        out.append(
            f"| {scenario} | {fmt(o['p50'])} / {fmt(o['p99'])} "
            f"| {ratio(peer and peer['p50'], o['p50'])}, {ratio(peer and peer['p99'], o['p99'])} "
            f"| {ratio(stored and stored['p50'], o['p50'])}, {ratio(stored and stored['p99'], o['p99'])} "
            f"| {ratio(o['p50'], floor and floor['p50'])}, {ratio(o['p99'], floor and floor['p99'])} "
            f"| ≤ {target:g} | {met} |"
        )


def attribution_table(groups: dict, out: list[str]) -> None:
    """Publish-side CPU per POST: real publish vs a 404 through the same stack."""
    rows = []
    for scenario, system, what in (
        ("S3", "peer", "django-eventstream: `send_event` view (1 middleware)"),
        ("S3", "peer-stored", "django-eventstream with storage: the same view, each event written to SQLite"),
        ("S3", "ours", "Fiido: agent message (auth, CSRF, state machine, SQLite, layer)"),
        ("A-404", "ours", "Fiido: POST to a missing route (Django ASGI handler + all middleware, no view)"),
    ):
        if groups.get((scenario, system)):
            s = summarize(groups[(scenario, system)])
            rows.append(f"| {what} | {fmt(s['cpu_pub'], 2)} | {fmt(s['post_p50'])} |")
    if rows:
        out.append("| publish request | CPU ms per POST (publishing worker) | POST p50 ms |")
        out.append("|---|---|---|")
        out.extend(rows)


def capacity_table(groups: dict, out: list[str]) -> None:
    out.append(
        "| run | system | streams held / requested | liveness events delivered | lost | dup "
        "| RSS per idle stream (KiB) | connect phase s | liveness p50 / p99 ms | threads (stream side) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    names = sorted({k[0] for k in groups if k[0].startswith("S4")}, key=lambda n: int(n.split("-")[1]))
    for name in names:
        for system in SYSTEMS:
            rows = groups.get((name, system))
            if not rows:
                continue
            s = summarize(rows)
            out.append(
                f"| {name} | {LABELS[system]} | {fmt(s['held'])} / {s['params'].get('subs'):,} "
                f"| {s['expected'] - s['lost']:,} of {s['expected']:,} | {s['lost']} | {s['dups']} | {fmt(s['rss'])} "
                f"| {fmt(s['connect_s'])} | {fmt(s['p50'])} / {fmt(s['p99'])} | {fmt(s['threads'])} |"
            )


def resume_table(groups: dict, out: list[str]) -> None:
    rows = groups.get(("S5", "ours"))
    if not rows:
        return
    out.append(
        "| run | streams (sessions) | events | dropped → reconnected | lost | dup "
        "| catch-up p50 / p99 / max ms | live latency p50 / p99 ms |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        d, c, p, lat = r["delivery"], r["catch_up"], r["params"], r["latency"]
        out.append(
            f"| #{r.get('rep', 1)} | {p['subs']:,} ({p['channels']}) | {p['events']} at {p['rate']:g}/s "
            f"| {d['dropped_streams']} → {d['reconnected']} (gap {p['gap_s']:g} s) | {d['lost']} of {d['expected']:,} "
            f"| {d['duplicates']} | {fmt(c['p50_ms'])} / {fmt(c['p99_ms'])} / {fmt(c['max_ms'])} "
            f"| {fmt(lat['p50_ms'])} / {fmt(lat['p99_ms'])} |"
        )


def layer_table(groups: dict, out: list[str]) -> None:
    out.append(
        "| scenario | layer | runs | p50 ms | p99 ms | lost | dup | delivered/s "
        "| CPU ms per event (publish + stream side) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|")
    for scenario in ("S2", "S3"):
        for system, layer in (
            ("ours", "`pubsub` (RedisPubSubChannelLayer)"),
            ("ours-core", "`core` (RedisChannelLayer)"),
        ):
            rows = groups.get((scenario, system))
            if not rows:
                continue
            s = summarize(rows)
            cpu = "–" if s["cpu"] is None else f"{s['cpu']:.1f} ({s['cpu_pub']:.1f} + {s['cpu_sub']:.1f})"
            out.append(
                f"| {scenario} | {layer} | {s['runs']} | {fmt(s['p50'])} | {fmt(s['p99'])} | {s['lost']} | {s['dups']} "
                f"| {fmt(s['eps'])} | {cpu} |"
            )


def sweep_rate(scenario: str) -> float | None:
    """The rate of a sweep run (``S3@150`` → 150.0)."""
    head, _, rate = scenario.partition("@")
    try:
        return float(rate) if head == "S3" else None
    except ValueError:
        return None


def sweep_table(groups: dict, out: list[str]) -> None:
    """S3 at each swept rate: p50 / p99 per system, and where each one's p99 crosses the line."""
    rates = sorted({rate for (name, _) in groups if (rate := sweep_rate(name)) is not None})
    systems = [s for s in ("peer", "peer-stored", "ours") if any((f"S3@{r:g}", s) in groups for r in rates)]
    out.append(
        "| rate /s | " + " | ".join(f"{LABELS[s]}: p50 / p99 ms (publishing CPU ms per POST)" for s in systems) + " |"
    )
    out.append("|---" * (len(systems) + 1) + "|")
    crossing: dict[str, str] = {}
    below: dict[str, float] = {}
    for rate in rates:
        cells = []
        for system in systems:
            rows = groups.get((f"S3@{rate:g}", system))
            if not rows:
                cells.append("–")
                continue
            s = summarize(rows)
            broken = s["lost"] or s["dups"]
            cells.append(
                f"{fmt(s['p50'])} / {fmt(s['p99'])} ({fmt(s['cpu_pub'], 2)})"
                + (f" **{s['lost']} lost, {s['dups']} dup**" if broken else "")
            )
            over = s["p99"] is None or s["p99"] > SWEEP_P99_MS or broken
            if over and system not in crossing:
                crossing[system] = (
                    f"between {below[system]:g} and {rate:g}/s" if system in below else f"at or below {rate:g}/s"
                )
            elif not over and system not in crossing:
                below[system] = rate
        out.append(f"| {rate:g} | " + " | ".join(cells) + " |")
    out.append("")
    for system in systems:
        where = crossing.get(system, f"not within the sweep (p99 ≤ {SWEEP_P99_MS:g} ms up to {rates[-1]:g}/s)")
        out.append(f"- {LABELS[system]}: p99 crosses {SWEEP_P99_MS:g} ms {where}.")


def plot(groups: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in ("S1", "S2", "S3") if any((s, sys) in groups for sys in SYSTEMS)]
    scenarios += sorted({k[0] for k in groups if k[0].startswith("S4")}, key=lambda n: int(n.split("-")[1]))
    shown = ("floor-fanout", "peer", "peer-stored", "ours", "ours-core")
    systems = [s for s in shown if any((sc, s) in groups for sc in scenarios)]
    colors = {
        "floor-fanout": "#999999",
        "peer": "#d95f02",
        "peer-stored": "#e6ab02",
        "ours": "#1b9e77",
        "ours-core": "#7570b3",
    }
    fig, ax = plt.subplots(figsize=(10, 5.4), dpi=110)
    width = 0.8 / max(len(systems), 1)
    for k, system in enumerate(systems):
        xs, p50, p99 = [], [], []
        for i, scenario in enumerate(scenarios):
            rows = groups.get((scenario, system))
            if not rows:
                continue
            s = summarize(rows)
            if s["p50"] is None:
                continue
            xs.append(i + (k - (len(systems) - 1) / 2) * width)
            p50.append(s["p50"])
            p99.append(s["p99"])
        ax.bar(xs, p99, width * 0.9, color=colors[system], alpha=0.35, label=f"{LABELS[system]} p99")
        ax.bar(xs, p50, width * 0.9, color=colors[system], label=f"{LABELS[system]} p50")
    for scenario, target in TARGETS.items():
        if scenario in scenarios:
            i = scenarios.index(scenario)
            ax.hlines(target, i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_ylabel("delivery latency, ms (log scale)")
    ax.set_title("Cross-process SSE delivery latency: p50 (solid) and p99 (light); dashed = our p99 target")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jsonl", nargs="+")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--plot", default=str(Path(__file__).with_name("latency.png")))
    args = parser.parse_args(argv)

    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for path in args.jsonl:
        for line in open(path):
            if line.strip():
                r = json.loads(line)
                groups[(r["scenario"], r["system"])].append(r)
    info_path = Path(args.jsonl[0]).with_suffix(".machine.json")
    info = json.loads(info_path.read_text()) if info_path.exists() else {}

    out = ["# Benchmark results", ""]
    out.append(
        f"Written by `make bench` ({info.get('mode', '?')} mode, {info.get('repeat', '?')} repeats of S1–S3 and S5, "
        f"{info.get('bench_minutes', '?')} min) on {info.get('date', '?')}. Raw lines: `bench/results/latest.jsonl`; "
        "rebuild this file with `bench/report.py bench/results/latest.jsonl`."
    )
    out.append("")
    out.append(
        "Floor, peer and ours ran in the same run, interleaved, on the same machine and Redis, with the "
        "yardstick's load client (`sse_load.py`): subscribers on one server process, publishes (HTTP POST) "
        "to another. Ours publishes an agent message to a `manual_live` conversation through the real API "
        "(CSRF, session auth, state machine, SQLite, channel layer) and reads the customer stream. "
        "Latency columns are medians over runs (p99 of each run in brackets); lost and dup are totals."
    )
    out.append("")
    out.append("## Machine")
    out.append("")
    packages = ", ".join(f"{k} {v}" for k, v in (info.get("packages") or {}).items())
    out.append(
        f"{info.get('nproc', '?')} CPUs ({info.get('cpu', '?')}), {info.get('memory', '?')} RAM, kernel "
        f"{info.get('kernel', '?')}; Python {info.get('python', '?')}, Redis {info.get('redis', '?')}; {packages}; "
        f"project at `{info.get('git', '?')}`; "
        f"`ulimit -n` {info.get('nofile', '?')}; load average at start {' '.join(info.get('loadavg_at_start', []))} "
        "(other engineers share the machine, so absolute numbers are noisy: compare ratios within this run)."
    )
    out.append("")
    out.append("## Latency, loss and cost (S1–S3)")
    out.append("")
    latency_table(groups, out)
    out.append("")
    out.append("### Ratios and targets (issue 6)")
    out.append("")
    ratio_table(groups, out)
    out.append("")
    out.append("### Where the publish side's time goes")
    out.append("")
    attribution_table(groups, out)
    out.append("")
    if any(k[0].startswith("S4") for k in groups):
        out.append("## Capacity: idle streams held by one worker (S4)")
        out.append("")
        out.append(
            "Each run holds the streams idle 10 s, then publishes one liveness event per session "
            "(1,000 sessions round-robin, so every stream must receive exactly one). RSS per idle stream = "
            "(stream worker RSS after connect − before) ÷ streams. Target: 10,000 streams at ≤ 30 KiB each."
        )
        out.append("")
        capacity_table(groups, out)
        out.append("")
    if any(sweep_rate(k[0]) is not None for k in groups):
        out.append("## Saturation: S3 at rising rates (the sweep)")
        out.append("")
        out.append(
            f"S3's sessions, one stream each, publishing for a fixed time at each rate (one run per rate and "
            f"system, interleaved). The rate at which p99 first exceeds {SWEEP_P99_MS:g} ms (or anything is lost) "
            "is where the publishing side stops keeping up on this machine."
        )
        out.append("")
        sweep_table(groups, out)
        out.append("")
    if ("S5", "ours") in groups:
        out.append("## Resume under load (S5, ours only: the peer has no event ids without storage)")
        out.append("")
        out.append(
            "Streams on one conversation; after half the events, half the streams are cut (TCP abort) and "
            "reconnect after the gap with the `Last-Event-ID` they last saw. Catch-up = from the reconnect "
            "request until the stream holds every event published before it. Client: `bench/resume.py`."
        )
        out.append("")
        resume_table(groups, out)
        out.append("")
    if any(k[1] == "ours-core" for k in groups):
        out.append("## Channel layer: `RedisPubSubChannelLayer` vs `RedisChannelLayer`")
        out.append("")
        layer_table(groups, out)
        out.append("")
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        out.append(notes.read_text().rstrip())
        out.append("")
    out.append("![latency](latency.png)")
    Path(args.out).write_text("\n".join(out) + "\n")
    plot(groups, Path(args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
