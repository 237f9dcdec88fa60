"""PgBouncer in transaction mode between the workers and PostgreSQL
(``DATABASE_PGBOUNCER=true``): every transaction may run on a different
server connection, so Django keeps no server-side cursors and psycopg no
prepared statements. Two workers hold a conversation through a PgBouncer
pool of two server connections, under concurrent writes."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import SSEReader, agent, customer, free_port, need, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def pgbouncer(transactional_db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PgBouncer fronts PostgreSQL: run the suite with DATABASE_URL=postgres://...")
    binary = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if binary is None:
        need("pgbouncer is not installed (apt-get install pgbouncer)")
    db = connection.settings_dict
    directory = Path(tempfile.mkdtemp(prefix="fiido-pgbouncer-"))
    directory.chmod(0o777)  # pgbouncer refuses to run as root: it runs as nobody
    port = free_port()
    server = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']}"
    if db.get("PASSWORD"):
        server += f" password={db['PASSWORD']}"
    (directory / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    config = directory / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = {server}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 1000\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {directory / 'pgbouncer.log'}\npidfile = {directory / 'pgbouncer.pid'}\n"
    )
    for path in directory.iterdir():
        path.chmod(0o666)
    command = [binary, str(config)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@127.0.0.1:{port}/{db['NAME']}"

    def answers() -> bool:
        import psycopg

        try:
            with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=2) as probe:
                return probe.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    try:
        wait_until(answers, timeout=20, what="pgbouncer to answer")
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


def test_workers_behind_pgbouncer_in_transaction_mode_hold_a_conversation(workers, pgbouncer, redis_url, agent_user):
    first, second = workers(2, REDIS_URL=redis_url, DATABASE_URL=pgbouncer, DATABASE_PGBOUNCER="true")
    desk = agent(first.url, "alice", "alice-password")
    visitor, name = customer(second.url)
    views = [
        SSEReader(f"{first.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected(),
        SSEReader(f"{second.url}/workbench/api/sessions/{name}/events", cookies=desk.client.cookies).wait_connected(),
    ]
    try:
        assert visitor.post(f"/api/sessions/{name}/escalate").status_code == 200
        assert desk.post(f"/workbench/api/sessions/{name}/takeover", client=desk.at(second.url)).status_code == 200

        def say(i: int) -> int:
            if i % 2:
                response = visitor.post(f"/api/sessions/{name}/messages", {"content": f"customer {i}"})
            else:
                response = desk.post(f"/workbench/api/sessions/{name}/messages", {"content": f"agent {i}"})
            assert response.status_code == 201, response.text
            return response.json()["message"]["id"]

        # More requests at once than PgBouncer has server connections.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            sent = set(pool.map(say, range(40)))
        for view in views:
            view.wait_for(lambda r: sent <= {m["id"] for m in r.messages()}, timeout=30, what="every message")
            shown = [m["id"] for m in view.messages()]
            assert len(shown) == len(set(shown))
            assert view.ids() == sorted(set(view.ids()))
        state = visitor.client.get(f"/api/sessions/{name}?history=1").json()
        assert state["status"] == "manual_live"
    finally:
        for view in views:
            view.close()
    for worker in (first, second):
        assert "does not exist" not in worker.output()  # a prepared statement or cursor lost between transactions
