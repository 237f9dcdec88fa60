"""The production front: nginx (deploy/nginx.conf, rendered by deploy/render-nginx)
in front of two daphne workers, all under supervisord
(deploy/supervisord-nginx.conf, what ``make serve-proxied`` runs), with
production settings (DEBUG off, HTTPS only, TRUSTED_PROXIES=127.0.0.1).

A whole conversation runs through it in Chromium over HTTPS and HTTP/2, with
workers killed under it; from outside: nginx's body limit, unbuffered
streams, its own X-Forwarded-For, slow headers cut, plain HTTP redirected.
"""

from __future__ import annotations

import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_browser import ask_for_a_person, assert_once, log_in, open_page, send, session_name, wait_live
from tests.support import ROOT, Browserless, SSEReader, Supervisor, customer, free_port, need, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

HEADER_TIMEOUT_SECONDS = 3  # the rendering's client_header_timeout (the default is 10 s)

# Counts the times a page's stream dropped (its root's data-stream turned "reconnecting").
COUNT_DROPS = """
window.__drops = 0;
new MutationObserver(records => {
  for (const record of records) {
    if (record.target.dataset.stream === "reconnecting" && record.oldValue !== "reconnecting") window.__drops += 1;
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-stream"], attributeOldValue: true });
"""

# The protocol of the page and of every resource it fetched from the network ("" when from cache).
PROTOCOLS_JS = """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
  .map(entry => entry.nextHopProtocol).filter(Boolean)"""


def binary(name: str, *fallbacks: str, package: str = "") -> str:
    found = shutil.which(name) or next((path for path in fallbacks if os.access(path, os.X_OK)), None)
    if found is None:
        need(f"{name} is not installed (apt-get install {package or name})")
    return found


class Tls:
    """A throw-away CA and a certificate it signed for localhost and 127.0.0.1."""

    CONFIG = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

    def __init__(self, directory: Path) -> None:
        openssl = binary("openssl")
        config = directory / "openssl.cnf"
        config.write_text(self.CONFIG)
        self.ca, self.cert, self.key = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
        ca_key, request = directory / "ca-key.pem", directory / "cert.csr"
        new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-config", config]

        def openssl_run(*args) -> None:
            subprocess.run([openssl, *map(str, args)], check=True, capture_output=True, timeout=60)

        openssl_run("req", "-x509", *new_key, "-extensions", "ca", "-days", "2", "-subj", "/CN=Fiido test CA",
                    "-keyout", ca_key, "-out", self.ca)  # fmt: skip
        openssl_run("req", "-new", *new_key, "-subj", "/CN=localhost", "-keyout", self.key, "-out", request)
        openssl_run("x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", ca_key, "-set_serial", "2",
                    "-days", "2", "-extfile", config, "-extensions", "leaf", "-out", self.cert)  # fmt: skip

    def context(self) -> ssl.SSLContext:
        """What httpx and raw sockets verify nginx's certificate with."""
        return ssl.create_default_context(cafile=str(self.ca))


class ProxiedDesk:
    """``make serve-proxied`` in miniature: two workers and nginx under supervisord,
    nginx on https://localhost:<port> and a plain-HTTP port that redirects."""

    def __init__(self, tls: Tls, redis_url: str, **env: str) -> None:
        self.tls = tls
        self.https_port, self.http_port, upstream = free_port(), free_port(), free_port()
        self.url = f"https://localhost:{self.https_port}"
        self.run_dir = Path(tempfile.mkdtemp(prefix="fiido-proxy-"))
        # Run as root, nginx's worker processes are "nobody": they must reach their temp files.
        self.run_dir.chmod(0o755)
        nginx = binary("nginx", "/usr/sbin/nginx")
        binary("envsubst", package="gettext-base")  # deploy/render-nginx needs it
        rendering = {
            **os.environ,
            "RUN_DIR": str(self.run_dir),
            "UPSTREAM": f"127.0.0.1:{upstream}",
            "CERT": str(tls.cert),
            "KEY": str(tls.key),
            "LISTEN_ADDR": "127.0.0.1",
            "LISTEN_PORT": str(self.https_port),
            "HTTP_PORT": str(self.http_port),
            "HEADER_TIMEOUT": f"{HEADER_TIMEOUT_SECONDS}s",
            "NGINX_BIN": nginx,
        }
        subprocess.run([str(ROOT / "deploy" / "render-nginx")], env=rendering, check=True, timeout=60)
        self.supervisor = Supervisor(
            2,
            redis_url,
            config="supervisord-nginx.conf",
            port=upstream,
            run_dir=str(self.run_dir),
            NGINX_BIN=nginx,
            DEBUG="false",
            SECRET_KEY="proxy-test-" + uuid.uuid4().hex,
            ALLOWED_HOSTS="localhost,127.0.0.1",
            TRUSTED_PROXIES="127.0.0.1",
            # The browser fixture allows async-unsafe ORM calls in this process; not in the workers.
            DJANGO_ALLOW_ASYNC_UNSAFE="",
            **env,
        )

    def wait_ready(self) -> ProxiedDesk:
        def running() -> bool:
            states = self.supervisor.statuses()
            workers = [state for name, (state, _) in states.items() if name.startswith("fiido:")]
            return workers == ["RUNNING", "RUNNING"] and states.get("nginx", ("",))[0] == "RUNNING"

        wait_until(running, timeout=90, interval=0.5, what="two workers and nginx RUNNING")
        wait_until(self._healthy, timeout=60, interval=0.5, what="/healthz through nginx")
        return self

    def _healthy(self) -> bool:
        try:
            return self.client().get("/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self, **options) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls.context(), timeout=30, **options)

    def worker_log(self) -> str:
        """The workers' access logs (daphne --access-log)."""
        return "".join(path.read_text(errors="replace") for path in sorted(self.run_dir.glob("worker*.log")))

    def nginx_access_log(self) -> str:
        path = self.run_dir / "nginx-access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def nginx_complaints(self) -> list[str]:
        """What nginx logged at its gravest levels (a worker's death is only an [error])."""
        lines = []
        for name in ("nginx.log", "nginx-error.log"):
            path = self.run_dir / name
            if path.exists():
                lines += [
                    line
                    for line in path.read_text(errors="replace").splitlines()
                    if re.search(r"\[(emerg|alert|crit)\]", line)
                ]
        return lines

    def stop(self) -> None:
        self.supervisor.stop()


@pytest.fixture
def tls(tmp_path) -> Tls:
    return Tls(tmp_path)


@pytest.fixture
def proxied(transactional_db, redis_url, tls, request):
    """Start the proxied deployment: ``proxied(RATE_LIMIT_SESSIONS="3/h")``."""
    started: list[ProxiedDesk] = []

    def start(**env: str) -> ProxiedDesk:
        desk = ProxiedDesk(tls, redis_url, **env)
        started.append(desk)
        return desk.wait_ready()

    try:
        yield start
    finally:
        failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
        for desk in started:
            desk.stop()
            if failed:
                print(desk.supervisor.logs())
            else:
                shutil.rmtree(desk.run_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# In Chromium
# ---------------------------------------------------------------------------
@pytest.mark.browser
def test_a_conversation_over_https_and_http2_survives_killed_workers(browser, proxied, agent_user):
    """Customer (in seven tabs at first) and agent through nginx over HTTP/2:
    escalation, takeover, messages both ways once each; then each worker in turn
    is killed with SIGKILL, so every page's stream is cut at least once, and
    messages sent meanwhile arrive once."""
    stack = proxied()
    desk_url = stack.url
    https = {"ignore_https_errors": True}

    customer = open_page(
        browser, f"{desk_url}/", init_script=COUNT_DROPS, viewport={"width": 420, "height": 860}, **https
    )
    customer.wait_for_selector(".bubble--bot")
    send(customer, "Hello through nginx.")  # the first message starts the conversation
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    protocols = customer.evaluate(PROTOCOLS_JS)
    assert protocols and set(protocols) == {"h2"}, protocols

    # Seven tabs, each with its stream open, all live at once: over HTTP/1.1 the
    # browser would hold the seventh back (six connections per host).
    tabs = [customer]
    for _ in range(6):
        tab = customer.context.new_page()
        tab.goto(f"{desk_url}/")
        tabs.append(tab)
    for tab in tabs:
        wait_live(tab, "[data-chat]")
        assert session_name(tab) == name
    for tab in tabs[2:]:
        tab.close()
    tabs = tabs[:2]

    assert_once(customer, "Hello through nginx.")
    customer.wait_for_selector(".bubble--bot >> nth=1")  # the bot answered
    ask_for_a_person(customer)
    customer.get_by_text(re.compile(r"Waiting for an agent")).wait_for()

    desk = log_in(browser, desk_url, "alice", "alice-password", **https)
    desk.context.add_init_script(COUNT_DROPS)
    protocols = desk.evaluate(PROTOCOLS_JS)
    assert protocols and set(protocols) == {"h2"}, protocols
    desk.locator(f'#waiting [data-session="{name}"]').wait_for()
    desk.goto(f"{desk_url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    desk.get_by_role("button", name="Take over").click()
    desk.get_by_text("You are in this conversation.").wait_for()
    customer.get_by_text("Alice has joined the chat.").wait_for()

    said = ["Hello through nginx."]

    def both_ways(customer_text: str, agent_text: str) -> None:
        send(customer, customer_text)
        send(desk, agent_text)
        said.extend([customer_text, agent_text])

    def everyone_saw_everything() -> None:
        for page in (*tabs, desk):
            assert_once(page, *said)

    both_ways("My parcel is late.", "Let me check, one moment.")
    everyone_saw_everything()

    # Each worker in turn: every stream lives on one of the two, so each is cut
    # at least once. What is sent at once, while streams reconnect, arrives once.
    for victim in ("fiido:worker0", "fiido:worker1"):
        before = stack.supervisor.pids()
        os.kill(before[victim], signal.SIGKILL)
        both_ways(f"Sent as {victim} died (customer).", f"Sent as {victim} died (agent).")
        wait_until(
            lambda v=victim, b=before: (p := stack.supervisor.pids()).get(v) not in (None, b[v]) and len(p) == 2,
            timeout=90,
            interval=0.5,
            what=f"supervisord to restart {victim}",
        )
        everyone_saw_everything()
        for page in tabs:
            wait_live(page, "[data-chat]")
        wait_live(desk, "[data-conversation]")

    for page in (*tabs, desk):
        wait_until(lambda p=page: p.evaluate("() => window.__drops") >= 1, timeout=30, what="a dropped stream")
    both_ways("Still here?", "Still here, all sorted.")
    everyone_saw_everything()
    for page in (customer, desk):
        assert not page.errors, page.errors
    assert stack.nginx_complaints() == []


# ---------------------------------------------------------------------------
# From outside
# ---------------------------------------------------------------------------
def test_nginx_names_the_client_and_the_scheme_whatever_the_client_claims(proxied):
    # A rate of its own (3 new conversations in a period of 1-2 days, drawn at
    # random): its counter in the shared Redis is this test's alone, so only the
    # conversations started here count, and its window does not end mid-test.
    stack = proxied(RATE_LIMIT_SESSIONS=f"3/{random.randrange(86_400, 172_800)}s")
    visitor = Browserless(stack.url, verify=stack.tls.context())

    def start_conversation(forwarded_for: str) -> httpx.Response:
        return visitor.client.post(
            "/api/sessions",
            json={},
            headers={"X-CSRFToken": visitor.csrf, "Referer": f"{stack.url}/", "X-Forwarded-For": forwarded_for},
        )

    # nginx replaces the client's X-Forwarded-For with the address it saw: every
    # request here comes from 127.0.0.1, so whatever each claims, they share one
    # allowance of 3. (Were the header appended to, the right-most claimed
    # address would be the client, and all five would get through.)
    try:
        answers = [
            start_conversation(claimed)
            for claimed in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "198.51.100.7, 198.51.100.8")
        ]
    finally:
        visitor.close()
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429], [a.text for a in answers]
    assert int(answers[3].headers["Retry-After"]) >= 1 and set(answers[3].json()) == {"error"}

    # Served as HTTPS: Django believes nginx's X-Forwarded-Proto (no redirect, HSTS, Secure cookies).
    with stack.client() as client:
        page = client.get("/workbench/login/")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert "Secure" in page.headers["set-cookie"]
    # Plain HTTP: a redirect to the same URL over HTTPS, except /healthz (load balancers' probes).
    with httpx.Client(base_url=f"http://localhost:{stack.http_port}", timeout=30) as plain:
        moved = plain.get("/workbench/login/?next=/workbench/")
        assert moved.status_code == 301
        assert moved.headers["location"] == f"{stack.url}/workbench/login/?next=/workbench/"
        assert plain.get("/healthz").json()["database"] == "ok"
    assert stack.nginx_complaints() == []


def test_nginx_refuses_big_bodies_passes_streams_live_and_cuts_slow_headers(proxied):
    stack = proxied()
    visitor, name = customer(stack.url, verify=stack.tls.context())

    # A body over 64 KiB is refused by nginx, in the API's JSON shape, and no
    # worker sees the request: a later one that does reach a worker is logged,
    # the refused one never is.
    def post_message(marker: str, content: str) -> httpx.Response:
        return visitor.client.post(
            f"/api/sessions/{name}/messages?probe={marker}",
            json={"content": content},
            headers={"X-CSRFToken": visitor.csrf, "Referer": f"{stack.url}/"},
        )

    too_big, control = uuid.uuid4().hex, uuid.uuid4().hex
    refused = post_message(too_big, "x" * 100 * 1024)
    assert refused.status_code == 413
    assert refused.json() == {"error": "The request body is larger than 64k."}  # nginx's, not the app's
    # Just under the limit passes nginx; the app answers (the text is over MESSAGE_MAX_CHARS).
    near_limit = post_message(control, "x" * 60 * 1024)
    assert near_limit.status_code == 400 and set(near_limit.json()) == {"error"}, near_limit.text
    wait_until(lambda: control in stack.worker_log(), timeout=30, what="the worker to log the control request")
    assert too_big not in stack.worker_log()
    assert re.search(rf'"POST /api/sessions/{name}/messages\?probe={too_big} [^"]*" 413 ', stack.nginx_access_log())

    # The stream is not buffered: an event reaches a reader through nginx as it
    # happens (heartbeats are 30 s apart, so nothing else would push it out).
    reader = SSEReader(
        f"{stack.url}/api/sessions/{name}/events", cookies=visitor.client.cookies, verify=stack.tls.context()
    )
    try:
        reader.wait_connected(timeout=30)
        assert post_message(uuid.uuid4().hex, "Is this live?").status_code == 201
        reader.wait_for(
            lambda r: "Is this live?" in [m["content"] for m in r.messages()], timeout=20, what="the live event"
        )
    finally:
        reader.close()

    # A client sending its header a line at a time is cut once HEADER_TIMEOUT
    # has passed since it began (Twisted alone resets its timer on every byte
    # and never would: security probe finding 8).
    marker = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        with stack.tls.context().wrap_socket(raw, server_hostname="localhost") as slow:
            slow.sendall(f"GET /healthz?slow={marker} HTTP/1.1\r\nHost: localhost\r\n".encode())
            lines = iter(range(1_000_000))

            slow.settimeout(1)

            def cut() -> bool:
                try:
                    slow.sendall(f"X-Slow-{next(lines)}: 1\r\n".encode())
                    if slow.pending() or select.select([slow], [], [], 1)[0]:
                        # Readable may be only a TLS 1.3 session ticket: no data, no close.
                        return slow.recv(4096) == b""
                except TimeoutError:
                    return False
                except OSError:  # reset, broken pipe, TLS EOF
                    return True
                return False

            wait_until(cut, timeout=60, interval=0.5, what="nginx to close the slow connection")
    # nginx logged it as its header timeout (408), not as a request it passed on.
    wait_until(
        lambda: re.search(rf'"GET /healthz\?slow={marker} HTTP/1.1" 408 ', stack.nginx_access_log()),
        timeout=30,
        what="the 408 in nginx's access log",
    )
    assert marker not in stack.worker_log()
    visitor.close()
    assert stack.nginx_complaints() == []
