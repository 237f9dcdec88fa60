"""Helpers for tests that talk to real processes: Redis servers, daphne
workers, HTTP clients and an SSE reader."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def holds_for(predicate: Callable[[], Any], seconds: float, what: str = "") -> None:
    """Check that ``predicate`` stays true for ``seconds`` (something must not happen)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"no longer true: {what or predicate}"
        time.sleep(0.05)


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """``wait_until`` for async tests: poll without blocking the event loop."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def need(reason: str) -> None:
    """Skip when a real dependency is missing, except under CI, where it fails."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------
def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


class RedisServer:
    """A private redis-server on a free port that a test may stop and start."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            need("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="fiido-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--maxclients",
                "10000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: redis_answers(self.url), timeout=10, what="redis-server to start")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


# ---------------------------------------------------------------------------
# daphne workers
# ---------------------------------------------------------------------------
class Worker:
    """One real daphne process serving ``fiido.asgi`` on a free port."""

    def __init__(self, env: dict[str, str], name: str = "worker", app: str = "fiido.asgi:application") -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"fiido-{name}-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.app],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._healthy, timeout=30, what=f"{self.name} to answer /healthz")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.output()[-3000:]}")
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


class Supervisor:
    """supervisord running ``deploy/<config>`` (``make serve``'s setup): ``workers``
    daphne processes on one socket, 127.0.0.1:``port``, each restarted if it dies.
    Starts at once; ``env`` adds to or overrides the workers' environment."""

    def __init__(
        self,
        workers: int,
        redis_url: str,
        config: str = "supervisord.conf",
        port: int | None = None,
        run_dir: str | None = None,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = run_dir or tempfile.mkdtemp(prefix="fiido-supervisor-")
        self.config = str(ROOT / "deploy" / config)
        self.env = worker_env(
            REDIS_URL=redis_url,
            WORKERS=str(workers),
            PORT=str(self.port),
            VENV=str(Path(sys.executable).parent.parent),
            RUN_DIR=self.run_dir,
            SSE_HEARTBEAT_SECONDS="30",
        )
        self.env.update(env)
        self.bin = Path(sys.executable).parent
        # (pid, start time) -> psutil.Process, which refuses to signal a pid that was reused.
        self._children: dict[tuple[int, float], Any] = {}
        self.process = subprocess.Popen(
            [str(self.bin / "supervisord"), "-n", "-c", self.config],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.bin / "supervisorctl"), "-c", self.config, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout

    def statuses(self) -> dict[str, tuple[str, int | None]]:
        """Every program by name (``fiido:worker0``, ``nginx``): (state, pid or None)."""
        found = {}
        for line in self.ctl("status").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                pid = int(parts[3].rstrip(",")) if len(parts) >= 4 and parts[2] == "pid" else None
                found[parts[0]] = (parts[1], pid)
        self._remember_children()
        return found

    def pids(self) -> dict[str, int]:
        """Running workers by name."""
        return {
            name: pid
            for name, (state, pid) in self.statuses().items()
            if name.startswith("fiido:") and state == "RUNNING" and pid
        }

    def _remember_children(self) -> None:
        import psutil

        try:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                self._children.setdefault((child.pid, child.create_time()), child)
        except psutil.Error:
            pass

    def stop(self) -> None:
        """Stop supervisord and its programs; kill whatever outlives it (supervisord
        puts each program in a process group of its own, so they are killed one by one)."""
        import psutil

        self._remember_children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for child in self._children.values():
            try:
                child.kill()
            except psutil.Error:
                pass

    def logs(self, tail: int = 3000) -> str:
        """The end of every log in the run directory, for a failed test's output."""
        parts = []
        for path in sorted(Path(self.run_dir).glob("*.log")):
            parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)


def database_url() -> str:
    """A URL for the test database the current test runs against."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{settings['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="fiido.settings",
        DATABASE_URL=database_url(),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


# ---------------------------------------------------------------------------
# ASGI in this process
# ---------------------------------------------------------------------------
def asgi_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The scope of a plain ``GET path`` for driving ``fiido.asgi.application``
    with an ``ApplicationCommunicator``, as daphne would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


# ---------------------------------------------------------------------------
# HTTP and SSE clients
# ---------------------------------------------------------------------------
class Browserless:
    """A visitor with a cookie jar, able to talk to any worker. ``verify`` is
    httpx's: an ``ssl.SSLContext`` trusting a test CA, for HTTPS."""

    def __init__(self, base_url: str, verify: Any = True) -> None:
        self.verify = verify
        self.client = httpx.Client(base_url=base_url, timeout=15, verify=verify)

    def at(self, base_url: str) -> httpx.Client:
        """The same cookies, pointed at another worker."""
        return httpx.Client(base_url=base_url, cookies=self.client.cookies, timeout=15, verify=self.verify)

    @property
    def csrf(self) -> str:
        if "csrftoken" not in self.client.cookies:
            self.client.get("/api/sessions/none")  # sets the CSRF cookie
        return self.client.cookies["csrftoken"]

    def post(self, path: str, body: dict | None = None, client: httpx.Client | None = None) -> httpx.Response:
        client = client or self.client
        return client.post(path, json=body or {}, headers={"X-CSRFToken": self.csrf, "Referer": str(client.base_url)})

    def close(self) -> None:
        self.client.close()


def customer(base_url: str, verify: Any = True) -> tuple[Browserless, str]:
    """A visitor who has started a conversation: (visitor, session name)."""
    visitor = Browserless(base_url, verify)
    response = visitor.post("/api/sessions")
    assert response.status_code == 201, response.text
    return visitor, response.json()["session_name"]


def agent(base_url: str, username: str, password: str, verify: Any = True) -> Browserless:
    """A logged-in agent."""
    visitor = Browserless(base_url, verify)
    page = visitor.client.get("/workbench/login/")
    assert page.status_code == 200
    response = visitor.client.post(
        "/workbench/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": visitor.client.cookies["csrftoken"]},
        headers={"Referer": base_url + "/workbench/login/"},
    )
    assert response.status_code == 302, response.text
    return visitor


class SSEReader:
    """Reads an SSE stream in a thread and keeps every event it parsed."""

    def __init__(self, url: str, cookies=None, headers: dict[str, str] | None = None, verify: Any = True) -> None:
        self.url = url
        self.events: list[dict[str, Any]] = []  # {"id": str|None, "data": dict}
        self.lines: list[str] = []  # every line received, comments included, as sent
        self.status: int | None = None
        self.error: BaseException | None = None
        self._client = httpx.Client(cookies=cookies, timeout=httpx.Timeout(10, read=120), verify=verify)
        self._headers = headers or {}
        self._stop = threading.Event()
        self._response = None
        self.finished = False  # the server ended the response
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self._headers) as response:
                self._response = response
                self.status = response.status_code
                if response.status_code != 200:
                    response.read()
                    self.body = response.text
                    return
                event_id, data = None, []
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    self.lines.append(line)
                    if line == "":
                        if data:
                            self.events.append({"id": event_id, "data": json.loads("\n".join(data)), "at": time.time()})
                        event_id, data = None, []
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                self.finished = not self._stop.is_set()
        except Exception as error:  # noqa: BLE001 - recorded for the test
            if not self._stop.is_set():
                self.error = error

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["data"].get("type") == kind]

    def received(self) -> str:
        """Everything the stream sent so far, headers aside."""
        return "\n".join(self.lines)

    def arrivals(self) -> dict[int, float]:
        """When each message (by id) first arrived on this stream."""
        seen: dict[int, float] = {}
        for event in self.events:
            data = event["data"]
            messages = data["messages"] if data["type"] == "history" else [data.get("message")]
            for message in messages:
                if message is not None:
                    seen.setdefault(message["id"], event["at"])
        return seen

    def ids(self) -> list[int]:
        return [int(e["id"]) for e in self.events if e["id"] is not None]

    def messages(self) -> list[dict[str, Any]]:
        """Every message this stream showed: history's and live ones, in order."""
        shown = []
        for event in self.events:
            data = event["data"]
            if data["type"] == "history":
                shown.extend(data["messages"])
            elif data["type"] == "message":
                shown.append(data["message"])
        return shown

    def wait_for(self, predicate: Callable[[SSEReader], Any], timeout: float = 15.0, what: str = "") -> Any:
        def check():
            if self.error is not None:
                raise AssertionError(f"stream failed: {self.error!r}")
            return predicate(self)

        return wait_until(check, timeout=timeout, what=what or "stream condition")

    def wait_connected(self, timeout: float = 15.0) -> SSEReader:
        """Wait for ``connected``: the stream registered for live events before it
        sent that, so anything posted afterwards reaches it."""
        self.wait_for(lambda r: r.status is not None, timeout, "response headers")
        assert self.status == 200, f"stream answered {self.status}: {getattr(self, 'body', '')}"
        self.wait_for(lambda r: r.of_type("connected"), timeout, "the connected event")
        return self

    def close(self) -> None:
        self._stop.set()
        try:
            if self._response is not None:
                # Shut the socket so the reading thread wakes now, not at the next byte.
                stream = self._response.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 - already closed
            pass
        self._thread.join(timeout=5)
        self._client.close()
