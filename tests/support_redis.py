"""Real Redis topologies for tests: a TLS-only server with a throw-away CA, and
a Sentinel set (a master, a replica and three ``redis-sentinel`` processes)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support import free_port, need, wait_until

SENTINEL_MASTER = "fiido-test"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        need(f"{name} is not installed (apt-get install {'redis-sentinel' if 'sentinel' in name else 'redis-server'})")
    return found


def _ping(**kwargs) -> bool:
    import redis

    try:
        return bool(redis.Redis(socket_connect_timeout=1, socket_timeout=1, **kwargs).ping())
    except Exception:  # noqa: BLE001
        return False


class Tls:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""

    def __init__(self, directory: Path) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            need("openssl is not installed")
        self.dir = directory
        self.ca, ca_key = directory / "ca.crt", directory / "ca.key"
        self.server_cert, self.server_key = directory / "server.crt", directory / "server.key"
        self.client_cert, self.client_key = directory / "client.crt", directory / "client.key"
        extensions = directory / "san.cnf"
        extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

        def run(*args) -> None:
            subprocess.run([openssl, *map(str, args)], check=True, capture_output=True, timeout=60)

        run(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Fiido test Redis CA",
            "-keyout",
            ca_key,
            "-out",
            self.ca,
        )
        pairs = ((self.server_cert, self.server_key, "localhost"), (self.client_cert, self.client_key, "fiido"))
        for cert, key, name in pairs:
            request = directory / f"{name}.csr"
            run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", request)
            run(
                "x509",
                "-req",
                "-in",
                request,
                "-CA",
                self.ca,
                "-CAkey",
                ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                extensions,
                "-out",
                cert,
            )


class TlsRedisServer:
    """redis-server that speaks only TLS and requires a client certificate from ``tls``'s CA."""

    def __init__(self, tls: Tls) -> None:
        self.binary = _binary("redis-server")
        self.tls = tls
        self.port = free_port()
        self.url = f"rediss://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def client_kwargs(self) -> dict:
        return {
            "ssl_ca_certs": str(self.tls.ca),
            "ssl_certfile": str(self.tls.client_cert),
            "ssl_keyfile": str(self.tls.client_key),
        }

    def start(self) -> TlsRedisServer:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tls.dir),
                "--tls-cert-file",
                str(self.tls.server_cert),
                "--tls-key-file",
                str(self.tls.server_key),
                "--tls-ca-cert-file",
                str(self.tls.ca),
                "--tls-auth-clients",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: _ping(host="127.0.0.1", port=self.port, ssl=True, **self.client_kwargs()),
            timeout=10,
            what="the TLS redis-server to answer",
        )
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class SentinelSet:
    """A master, one replica and three Sentinels watching them (quorum 2), on free
    ports, all with ``password``. Sentinel declares the master down after
    ``down_after_ms`` without an answer and promotes the replica."""

    def __init__(self, password: str = "fiido-sentinel-test", down_after_ms: int = 1000) -> None:
        self.server = _binary("redis-server")
        self.sentinel = _binary("redis-sentinel")
        self.password = password
        self.dir = Path(tempfile.mkdtemp(prefix="fiido-sentinel-"))
        self.ports = {"a": free_port(), "b": free_port()}
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.down_after_ms = down_after_ms
        self.redis: dict[str, subprocess.Popen] = {}
        self.sentinels: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """The workers' settings for this set."""
        return {
            "REDIS_URL": "",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
            "REDIS_PASSWORD": self.password,
        }

    def _start_redis(self, name: str, replica_of: int | None = None) -> None:
        args = [
            self.server,
            "--port",
            str(self.ports[name]),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--requirepass",
            self.password,
            "--masterauth",
            self.password,
            "--maxclients",
            "10000",
        ]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.redis[name] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _ping(port=self.ports[name], password=self.password), timeout=10, what=f"redis {name}")

    def start(self) -> SentinelSet:
        self._start_redis("a")
        self._start_redis("b", replica_of=self.ports["a"])
        for index, port in enumerate(self.sentinel_ports):
            config = self.dir / f"sentinel{index}.conf"  # Sentinel rewrites its config: one file each
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.ports['a']} 2\n"
                f"sentinel auth-pass {SENTINEL_MASTER} {self.password}\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} {self.down_after_ms}\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} 4000\n"
                f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
            )
            self.sentinels.append(
                subprocess.Popen([self.sentinel, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        wait_until(self._settled, timeout=30, what="the replica in sync and known to every Sentinel")
        return self

    def _sentinel(self, port: int):
        import redis

        return redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=1, decode_responses=True)

    def _settled(self) -> bool:
        import redis

        try:
            replica = redis.Redis(port=self.ports["b"], password=self.password, decode_responses=True)
            if replica.info("replication").get("master_link_status") != "up":
                return False
            return all(
                self._sentinel(port).execute_command("SENTINEL", "REPLICAS", SENTINEL_MASTER)
                and self._sentinels_known(port)
                for port in self.sentinel_ports
            )
        except Exception:  # noqa: BLE001
            return False

    def _sentinels_known(self, port: int) -> bool:
        """Each Sentinel has found the other two (they need each other's votes)."""
        return len(self._sentinel(port).execute_command("SENTINEL", "SENTINELS", SENTINEL_MASTER)) >= 2

    def master(self) -> str:
        """Which of ``a``/``b`` the Sentinels name as master now."""
        _host, port = self._sentinel(self.sentinel_ports[0]).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER
        )
        return next(name for name, own in self.ports.items() if own == int(port))

    def kill_master(self) -> str:
        """``kill -9`` the current master; returns its name."""
        name = self.master()
        self.redis[name].send_signal(signal.SIGKILL)
        self.redis[name].wait(timeout=10)
        return name

    def wait_promoted(self, old: str, timeout: float = 60) -> str:
        """Wait until every Sentinel names the other server as master."""
        other = "b" if old == "a" else "a"

        def promoted() -> bool:
            try:
                return all(
                    int(self._sentinel(port).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER)[1])
                    == self.ports[other]
                    for port in self.sentinel_ports
                )
            except Exception:  # noqa: BLE001
                return False

        wait_until(promoted, timeout=timeout, what="Sentinel to promote the replica")
        return other

    def stop(self) -> None:
        for process in [*self.sentinels, *self.redis.values()]:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self.sentinels, self.redis = [], {}
