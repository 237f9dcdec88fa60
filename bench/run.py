"""``make bench``: the project, the floor and the peer on the shared yardstick.

Runs with the bench venv's Python (``bench/requirements.txt``). One run:

1. Redis: ``REDIS_URL`` if set, else a private ``redis-server`` on a free port.
2. For every scenario and repeat, side by side:
   - **floor**: ``floor_redis_pubsub.py`` (``fanout`` and ``conns`` modes);
   - **peer**: django-eventstream 5.3.4, two fresh daphnes (the yardstick's
     ``start_servers.sh``), publish on A, subscribe on B;
   - **peer-stored**: the same site with ``EVENTSTREAM_STORAGE=1``: every event
     written to a fresh SQLite database (WAL) first, as ours are, so it can resume;
   - **ours**: two fresh daphne workers of ``fiido.asgi`` on a dedicated SQLite
     database, sessions prepared by ``bench/prepare.py``; subscribers read the
     customer stream on worker B, the load client posts agent messages to
     worker A (state machine, database, channel layer: one publish = one event).
     ``REDIS_CHANNEL_LAYER=pubsub`` (default) and, for S2/S3, ``core`` too.
3. S5 (resume with ``Last-Event-ID``) with ``bench/resume.py``, ours only.
4. With ``--sweep 50,100,...``: S3's 1,000 sessions at each of those rates (one
   run each, ``--sweep-seconds`` of publishing), ours and both peer modes, to find
   the rate at which each one's p99 crosses 100 ms (``report.py``'s sweep table).
5. ``bench/report.py`` writes ``bench/RESULTS.md`` and ``bench/latency.png``.

``--quick`` runs every piece at smoke scale. Everything started here is
stopped here, by pid. Scratch: ``$BENCH_WORK`` (default /tmp/fiido-bench/work).
``BENCH_ASGI_APP`` swaps the workers' ASGI app for an experiment (``bench/experiments/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PROJECT_PYTHON = Path(os.environ.get("PROJECT_PYTHON", ROOT / ".venv" / "bin" / "python"))
YARDSTICK = Path(os.environ.get("BENCH_YARDSTICK", ROOT.parent / "shared" / "bench"))
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/fiido-bench/work"))
SECRET = "bench-only-not-secret"

PUBLISH_BODY = '{"content": "{marker}", "client_id": "{uuid}"}'
OURS_SSE = "http://127.0.0.1:{port}/api/sessions/{{session}}/events"
OURS_PUBLISH = "http://127.0.0.1:{port}/workbench/api/sessions/{{session}}/messages"


@dataclass
class Scenario:
    name: str
    subs: int
    channels: int
    events: int
    rate: float
    extra: list[str] = field(default_factory=list)
    targets: tuple[str, ...] = ("floor", "peer", "peer-stored", "ours", "core")
    repeat: bool = True  # repeated with --repeat (the noisy latency scenarios)
    mixed_languages: bool = False  # every other stream reads German (events encoded once per language)


def scenarios(quick: bool) -> list[Scenario]:
    hold = ["--hold", "10", "--ready-timeout", "300", "--total-timeout", "900", "--connect-concurrency", "100"]
    if quick:
        return [
            Scenario("S1", 1, 1, 50, 50, targets=("floor", "peer", "peer-stored", "ours")),
            Scenario("S2", 50, 1, 20, 20),
            Scenario("S2-de", 50, 1, 20, 20, targets=("ours",), repeat=False, mixed_languages=True),
            Scenario("S3", 50, 50, 100, 50),
            Scenario("S3-50", 50, 50, 50, 50, targets=("peer", "peer-stored", "ours"), repeat=False),
            Scenario("S4-200", 200, 50, 50, 50, ["--hold", "1"], ("peer", "ours"), False),
        ]
    return [
        Scenario("S1", 1, 1, 1000, 50, targets=("floor", "peer", "peer-stored", "ours")),
        Scenario("S2", 1000, 1, 200, 20),
        # S2 with half the streams in German: what rendering per language costs
        Scenario("S2-de", 1000, 1, 200, 20, targets=("ours",), repeat=False, mixed_languages=True),
        Scenario("S3", 1000, 1000, 2000, 100),
        # below the publishing worker's saturation point (supplementary)
        Scenario("S3-50", 1000, 1000, 1000, 50, targets=("peer", "peer-stored", "ours"), repeat=False),
        Scenario("S4-5000", 5000, 1000, 1000, 100, hold, ("peer", "ours"), False),
        Scenario("S4-10000", 10000, 1000, 1000, 100, hold, ("ours",), False),
    ]


def sweep(rates: list[float], seconds: float, quick: bool) -> list[Scenario]:
    """S3 at each rate, for the rate at which p99 crosses 100 ms (one run per rate: the sweep's
    shape, not one point, is the result). Named ``S3@<rate>``; the report reads the rate back."""
    sessions = 50 if quick else 1000
    return [
        Scenario(f"S3@{rate:g}", sessions, sessions, max(int(rate * seconds), 1), rate,
                 targets=("peer", "peer-stored", "ours"), repeat=False)
        for rate in rates
    ]  # fmt: skip


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------
def project_env(database: Path, redis_url: str, layer: str = "pubsub") -> dict[str, str]:
    """A worker's environment: production settings, but plain HTTP on loopback (no proxy in front)."""
    # The bench runs on its own SQLite file: PostgreSQL-only settings of the caller's environment do not apply.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_POOL", "DATABASE_PGBOUNCER"))}
    return {
        **inherited,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "REDIS_CHANNEL_LAYER": layer,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        # The load client is one address playing thousands of viewers (the caps guard against one visitor).
        "SSE_MAX_STREAMS_PER_CONVERSATION": "1000000",
        "SSE_MAX_STREAMS_PER_ADDRESS": "1000000",
        "SSE_MAX_STREAMS_PER_LOGIN": "1000000",
    }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def threads(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def prepare_one_worker(python: str, env: dict[str, str], vars_file: Path, *prepare_args: str) -> list[dict]:
    """The quick loops' setup (postcost.py, stream_memory.py): their database
    migrated, ``prepare.py`` run with ``prepare_args``, its lines read back."""
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, str(BENCH / "prepare.py"), str(vars_file), *prepare_args],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return [json.loads(line) for line in vars_file.read_text().splitlines()]


def spawn_one_worker(
    python: str, env: dict[str, str], port: int, log: Path, app: str = "fiido.asgi:application"
) -> subprocess.Popen:
    """One daphne worker of ``app`` on ``port`` (not yet answering: wait for ``/healthz``)."""
    daphne = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", "/dev/null", app]
    return subprocess.Popen([python, *daphne], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


class Redis:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = os.environ.get("REDIS_URL", "")
        if not self.url:
            binary = shutil.which("redis-server")
            if binary is None:
                raise SystemExit("make bench needs REDIS_URL or a redis-server binary (apt-get install redis-server)")
            port = free_port()
            self.url = f"redis://127.0.0.1:{port}/0"
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--maxclients",
                    "20000",
                    "--dir",
                    str(WORK),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for(self.ping, 10, "redis-server")
            except RuntimeError:
                stop(self.process)
                raise
        self.host, self.port = self.url.split("//", 1)[1].split("/", 1)[0].split(":")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1].split("/")[0])), 1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @staticmethod
    def version() -> str:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        return out.split("v=")[1].split()[0] if "v=" in out else "?"

    def stop(self) -> None:
        stop(self.process)


class Ours:
    """Two daphne workers of the project: A publishes, B streams."""

    def __init__(self, redis: Redis, layer: str, tag: str) -> None:
        self.dir = WORK / "ours"
        self.env = project_env(self.dir / "db.sqlite3", redis.url, layer)
        self.tag = tag
        self.ports = (free_port(), free_port())
        self.processes: list[subprocess.Popen] = []

    @classmethod
    def migrate(cls, redis: Redis) -> None:
        directory = WORK / "ours"
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("db.sqlite3*"):
            leftover.unlink()
        env = cls(redis, "pubsub", "migrate").env
        subprocess.run([PROJECT_PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)

    def prepare(self, name: str, sessions: int, viewers: int = 0) -> Path:
        out = self.dir / f"{name}.jsonl"
        command = [PROJECT_PYTHON, str(BENCH / "prepare.py"), str(out), "--sessions", str(sessions)]
        if viewers:
            command += ["--viewers", str(viewers)]
        subprocess.run(command, cwd=ROOT, env=self.env, check=True)
        return out

    def start(self) -> Ours:
        for port in self.ports:
            logfile = open(self.dir / f"daphne-{self.tag}-{port}.log", "w")
            self.processes.append(
                subprocess.Popen(
                    [
                        PROJECT_PYTHON,
                        "-m",
                        "daphne",
                        "-b",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "--access-log",
                        "/dev/null",
                        os.environ.get("BENCH_ASGI_APP", "fiido.asgi:application"),
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                )
            )
        for port in self.ports:
            wait_for(lambda port=port: answers(f"http://127.0.0.1:{port}/healthz"), 60, f"daphne :{port}")
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            stop(process)
        self.processes = []


class Peer:
    """django-eventstream behind two daphnes, via the yardstick's scripts.

    ``stored``: ``EVENTSTREAM_STORAGE=1``, every event written to the database (SQLite, WAL) before
    it is sent, as ours are; each start gets an empty database so no run inherits another's rows."""

    def __init__(self, redis: Redis, stored: bool = False) -> None:
        self.ports = (free_port(), free_port())
        data = WORK / "peer" / ("data-stored" if stored else "data")
        if stored:
            shutil.rmtree(data, ignore_errors=True)
        self.env = {
            **os.environ,
            "PEERBENCH": str(WORK / "peer"),
            "PEERBENCH_DATA": str(data),
            "EVENTSTREAM_STORAGE": "1" if stored else "0",
            "VENV": sys.prefix,
            "PORTS": f"{self.ports[0]} {self.ports[1]}",
            "REDIS_HOST": redis.host,
            "REDIS_PORT": redis.port,
        }

    def start(self) -> Peer:
        script = YARDSTICK / "peers" / "eventstream_site" / "start_servers.sh"
        subprocess.run(["bash", str(script)], env=self.env, check=True, stdout=subprocess.DEVNULL)
        time.sleep(1)
        return self

    def pids(self) -> list[int]:
        found = []
        for port in self.ports:
            try:
                found.append(int((WORK / "peer" / "pids" / f"daphne-{port}.pid").read_text()))
            except (OSError, ValueError):
                pass
        return found

    def stop(self) -> None:
        script = YARDSTICK / "peers" / "eventstream_site" / "stop_servers.sh"
        subprocess.run(["bash", str(script)], env=self.env, stdout=subprocess.DEVNULL)
        time.sleep(1)


# ---------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------
class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.results = Path(args.jsonl)
        self.redis: Redis | None = None

    def record(self, line: str, **extra) -> None:
        try:
            result = json.loads(line)
        except (json.JSONDecodeError, TypeError):
            log(f"no result line: {line!r:.200}")
            return
        result.update(extra)
        with self.results.open("a") as out:
            out.write(json.dumps(result) + "\n")

    def load(self, scenario: Scenario, target: str, url: str, publish_url: str, ports, *more: str, **extra) -> None:
        command = [
            sys.executable,
            str(YARDSTICK / "sse_load.py"),
            "--name",
            scenario.name,
            "--target",
            target,
            "--url",
            url,
            "--publish-url",
            publish_url,
            "--subs",
            str(scenario.subs),
            "--channels",
            str(scenario.channels),
            "--events",
            str(scenario.events),
            "--rate",
            str(scenario.rate),
            "--warmup",
            "20",
            "--server-port",
            str(ports[0]),
            "--server-port",
            str(ports[1]),
            *scenario.extra,
            *more,
        ]
        pids = extra.pop("pids", [])
        out = subprocess.run(command, capture_output=True, text=True, timeout=1200)
        sys.stderr.write(out.stderr)
        # OS threads of each server after the run (a thread per stream would show here)
        extra["server_threads"] = {str(pid): threads(pid) for pid in pids}
        self.record(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "", scenario=scenario.name, **extra)

    def floor(self, scenario: Scenario, mode: str, rep: int) -> None:
        log(f"{scenario.name} floor/{mode} #{rep}")
        command = [
            sys.executable,
            str(YARDSTICK / "floor_redis_pubsub.py"),
            "--name",
            scenario.name,
            "--mode",
            mode,
            "--subs",
            str(scenario.subs),
            "--channels",
            str(scenario.channels),
            "--events",
            str(scenario.events),
            "--rate",
            str(scenario.rate),
            "--redis-url",
            self.redis.url,
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=600)
        self.record(
            out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "",
            scenario=scenario.name,
            system=f"floor-{mode}",
            rep=rep,
        )

    def peer(self, scenario: Scenario, rep: int, stored: bool = False) -> None:
        system = "peer-stored" if stored else "peer"
        log(f"{scenario.name} {system} #{rep}")
        peer = Peer(self.redis, stored)
        try:
            peer.start()
            self.load(
                scenario,
                "django-eventstream" + ("/stored" if stored else ""),
                f"http://127.0.0.1:{peer.ports[1]}/events/ch{{ch}}/",
                f"http://127.0.0.1:{peer.ports[0]}/publish/ch{{ch}}",
                peer.ports,
                system=system,
                rep=rep,
                pids=peer.pids(),
            )
        finally:
            peer.stop()

    def ours(self, scenario: Scenario, layer: str, rep: int) -> None:
        log(f"{scenario.name} ours/{layer} #{rep}")
        ours = Ours(self.redis, layer, f"{scenario.name}-{layer}-{rep}")
        sessions = min(scenario.channels, 1000)
        vars_file = ours.prepare(
            f"{scenario.name}-{layer}-{rep}", sessions, viewers=scenario.subs if scenario.channels == 1 else 0
        )
        try:
            ours.start()
            a, b = ours.ports
            self.load(
                scenario,
                f"fiido/{layer}",
                OURS_SSE.format(port=b) + ("?lang={lang}" if scenario.mixed_languages else ""),
                OURS_PUBLISH.format(port=a),
                ours.ports,
                "--header",
                "Cookie: {cookie}",
                "--sub-vars",
                str(vars_file),
                "--chan-vars",
                str(vars_file),
                "--publish-header",
                "Cookie: {agent_cookie}",
                "--publish-header",
                "X-CSRFToken: {csrf}",
                "--publish-body",
                PUBLISH_BODY,
                system="ours" if layer == "pubsub" else "ours-core",
                rep=rep,
                pids=ours.pids,
            )
        finally:
            ours.stop()

    def attribution(self, events: int, rate: float) -> None:
        """Publish-side cost without the view: the same POSTs to a route that does not exist (404),
        through Django's ASGI handler and every middleware (the yardstick's no-op POST, for ours)."""
        log("attribution: POST to a missing route")
        scenario = Scenario("A-404", 1, 1, events, rate, ["--drain", "2"])
        ours = Ours(self.redis, "pubsub", "A-404")
        vars_file = ours.prepare("A-404", 1, viewers=1)
        try:
            ours.start()
            a, b = ours.ports
            self.load(
                scenario, "fiido/404", OURS_SSE.format(port=b), f"http://127.0.0.1:{a}/api/no-such-route",
                ours.ports, "--header", "Cookie: {cookie}", "--sub-vars", str(vars_file),
                "--chan-vars", str(vars_file), "--publish-header", "Cookie: {agent_cookie}",
                "--publish-header", "X-CSRFToken: {csrf}", "--publish-body", PUBLISH_BODY,
                system="ours", rep=1, pids=ours.pids,
            )  # fmt: skip
        finally:
            ours.stop()

    def resume(self, streams: int, events: int, rate: float, rep: int) -> None:
        log(f"S5 ours/pubsub #{rep}")
        ours = Ours(self.redis, "pubsub", f"S5-{rep}")
        vars_file = ours.prepare(f"S5-{rep}", 1, viewers=streams)
        try:
            ours.start()
            a, b = ours.ports
            out = subprocess.run(
                [
                    sys.executable,
                    str(BENCH / "resume.py"),
                    "--url",
                    OURS_SSE.format(port=b),
                    "--publish-url",
                    OURS_PUBLISH.format(port=a),
                    "--vars",
                    str(vars_file),
                    "--streams",
                    str(streams),
                    "--events",
                    str(events),
                    "--rate",
                    str(rate),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            sys.stderr.write(out.stderr)
            self.record(
                out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "", scenario="S5", system="ours", rep=rep
            )
        finally:
            ours.stop()

    def run(self) -> None:
        args = self.args
        self.redis = Redis()
        log(f"redis {self.redis.url}; results -> {self.results}")
        try:
            Ours.migrate(self.redis)
            plan = scenarios(args.quick)
            wanted = set(args.only.split(",")) if args.only else None
            if wanted is not None:
                plan = [s for s in plan if s.name in wanted or s.name.split("-")[0] in wanted]
            plan += sweep(args.sweep, args.sweep_seconds, args.quick)
            for scenario in plan:
                for rep in range(1, (args.repeat if scenario.repeat else 1) + 1):
                    # interleave systems so background noise hits all of them alike
                    if "floor" in scenario.targets and args.systems & {"floor"}:
                        self.floor(scenario, "fanout", rep)
                        if rep == 1:
                            self.floor(scenario, "conns", rep)
                    if "peer" in scenario.targets and "peer" in args.systems:
                        self.peer(scenario, rep)
                    if "peer-stored" in scenario.targets and "peer-stored" in args.systems:
                        self.peer(scenario, rep, stored=True)
                    if "ours" in scenario.targets and "ours" in args.systems:
                        self.ours(scenario, "pubsub", rep)
                    if "core" in scenario.targets and "core" in args.systems:
                        self.ours(scenario, "core", rep)
            if (not wanted or "A" in wanted) and "ours" in args.systems:
                self.attribution(100 if args.quick else 1000, 100)
            if (not wanted or "S5" in wanted) and "ours" in args.systems:
                for rep in range(1, args.repeat + 1):
                    if args.quick:
                        self.resume(50, 40, 20, rep)
                    else:
                        self.resume(1000, 200, 20, rep)
        finally:
            self.redis.stop()


def machine(redis_version: str) -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]
        mem_gib = f"{int(mem) / 1048576:.1f} GiB"
    except (OSError, StopIteration):
        mem_gib = "?"
    versions = subprocess.run(
        [
            PROJECT_PYTHON,
            "-c",
            "import django, daphne, channels, channels_redis, redis, twisted;"
            "print(django.__version__, daphne.__version__, channels.__version__, channels_redis.__version__,"
            " redis.__version__, twisted.__version__)",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    names = ["Django", "daphne", "channels", "channels_redis", "redis-py", "Twisted"]
    return {
        "kernel": platform.release(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem_gib,
        "python": platform.python_version(),
        "redis": redis_version,
        "packages": dict(zip(names, versions, strict=False)),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git": subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke scale: every piece, tiny numbers")
    parser.add_argument("--repeat", type=int, default=None, help="repeats of S1-S3 and S5 (default 3, quick 1)")
    parser.add_argument("--only", default="", help="comma-separated scenarios, e.g. S2,S3")
    parser.add_argument(
        "--systems", default="floor,peer,peer-stored,ours,core", help="subset of floor,peer,peer-stored,ours,core"
    )
    parser.add_argument(
        "--sweep", default="", help="S3 at these rates too (comma-separated per second, e.g. 50,100,200,400)"
    )
    parser.add_argument("--sweep-seconds", type=float, default=15.0, help="publishing time per sweep rate")
    parser.add_argument("--jsonl", default=None, help="default bench/results/latest.jsonl")
    parser.add_argument("--append", action="store_true", help="keep earlier lines in --jsonl")
    parser.add_argument("--report", default=None, help="default bench/RESULTS.md ($BENCH_WORK/quick/ in quick mode)")
    args = parser.parse_args(argv)
    # a smoke run never overwrites the committed report
    out_dir = WORK / "quick" if args.quick else BENCH
    args.jsonl = args.jsonl or str(out_dir / "results" / "latest.jsonl")
    args.report = args.report or str(out_dir / "RESULTS.md")
    args.systems = set(args.systems.split(","))
    args.sweep = [float(rate) for rate in args.sweep.split(",") if rate.strip()]
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65535)), hard))  # `ulimit -n` for children
    if not (YARDSTICK / "sse_load.py").exists():
        raise SystemExit(f"the shared yardstick is not at {YARDSTICK} (set BENCH_YARDSTICK)")
    WORK.mkdir(parents=True, exist_ok=True)
    Path(args.jsonl).parent.mkdir(parents=True, exist_ok=True)
    if not args.append:
        Path(args.jsonl).write_text("")
    bench = Bench(args)
    started = time.monotonic()
    try:
        bench.run()
    finally:
        info = machine(Redis.version())
        info["bench_minutes"] = round((time.monotonic() - started) / 60, 1)
        info["mode"] = "quick" if args.quick else "full"
        info["repeat"] = args.repeat
        Path(args.jsonl).with_suffix(".machine.json").write_text(json.dumps(info, indent=1))
    subprocess.run(
        [
            sys.executable,
            str(BENCH / "report.py"),
            args.jsonl,
            "--out",
            args.report,
            "--plot",
            str(Path(args.report).with_name("latency.png")),
        ],
        check=True,
    )
    log(f"wrote {args.report} in {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
