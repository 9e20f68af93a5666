"""PostgreSQL stopped under a running service: the API answers problem+json 503 (never a
500 traceback) while it is down and 200 again within seconds of its return;
`refresh_revenue` exits 1 with a clear message; nothing is lost. The test owns a
throw-away cluster, so stopping it disturbs nobody else."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VERSION = "15"
STRIPE_ACCESS_TOKEN = "sk_test_outage_token"  # searched for in the server's answers and log (tests.secret_scan)

pytestmark = pytest.mark.skipif(
    shutil.which("pg_createcluster") is None or os.geteuid() != 0,
    reason="needs root and postgresql-common's pg_createcluster to own a throw-away cluster",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=check)


@pytest.fixture
def cluster():
    port = _free_port()
    name = f"skeldir_outage_{port}"
    _run("pg_createcluster", VERSION, name, "-p", str(port), "--", "-A", "trust")
    try:
        _run("pg_ctlcluster", VERSION, name, "start")
        _run(
            "psql",
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "owner=skeldir_owner",
            "-v",
            "db=skeldir",
            "-f",
            "scripts/bootstrap_db.sql",
        )
        yield name, port
    finally:
        _run("pg_dropcluster", VERSION, name, "--stop", check=False)


def _get(url: str, token: str) -> requests.Response:
    return requests.get(
        f"{url}/api/v1/revenue/realtime",
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())},
    )


def test_the_api_and_the_refresher_survive_a_database_outage(
    cluster, sandbox, mint, settings, tmp_path, _no_secret_in_any_response
):
    name, port = cluster
    scan = _no_secret_in_any_response
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skeldir.test_settings",
        "DATABASE_URL": f"postgres://skeldir_app@127.0.0.1:{port}/skeldir",
        "DATABASE_OWNER_URL": f"postgres://skeldir_owner@127.0.0.1:{port}/skeldir",
        "DATABASE_OPERATOR_URL": f"postgres://skeldir_operator@127.0.0.1:{port}/skeldir",
        "DATABASE_CONNECT_TIMEOUT": "2",
        "STRIPE_API_BASE_URL": sandbox.url,
        "JWT_PUBLIC_KEYS": json.dumps(settings.JWT_PUBLIC_KEYS),
    }
    manage = [sys.executable, "manage.py"]
    _run(*manage, "migrate", "--database", "owner", "--no-input", env=env)
    tenants = []
    for n in range(2):
        tenant = _run(*manage, "create_tenant", "--name", f"outage-{n}", env=env).stdout.split()[-1]
        _run(
            *manage,
            "connect_platform",
            "--tenant",
            tenant,
            "--platform",
            "stripe",
            "--account",
            f"acct_out{n}",
            "--access-token",
            STRIPE_ACCESS_TOKEN,
            "--metadata",
            '{"connect": true}',
            env=env,
        )
        tenants.append(tenant)
    served, waiting = tenants
    tokens = {tenant: mint(tenant) for tenant in tenants}

    bind = f"127.0.0.1:{_free_port()}"
    server_log = tmp_path / "gunicorn.log"
    with server_log.open("wb") as log:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "skeldir.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "BIND": bind},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{bind}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                first = _get(url, tokens[served])
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        assert first.status_code == 200, first.text
        as_of = first.json()["data_as_of"]

        _run("pg_ctlcluster", VERSION, name, "stop", "-m", "fast")
        for _ in range(5):
            down = _get(url, tokens[waiting])  # no snapshot anywhere: it needs the database
            assert down.status_code == 503, down.text
            assert down.headers["Content-Type"] == "application/problem+json"
            assert down.json()["code"] == "database_unavailable" and "Traceback" not in down.text
            assert down.headers["Retry-After"] == "1"
            assert not scan.check_http("GET /api/v1/revenue/realtime under gunicorn, the database down", down)
            assert _get(url, tokens[served]).status_code in (200, 503)  # a worker may still hold it fresh
        refresher = _run(*manage, "refresh_revenue", env=env, check=False)
        assert refresher.returncode == 1
        assert refresher.stderr.startswith("CommandError: Cannot reach the database (DATABASE_URL):")
        assert not scan.search("refresh_revenue, the database down", {"output": refresher.stdout + refresher.stderr})

        _run("pg_ctlcluster", VERSION, name, "start")
        back_by = time.monotonic() + 5
        while (answer := _get(url, tokens[waiting])).status_code != 200:
            assert time.monotonic() < back_by, f"still {answer.status_code} 5 s after the database returned"
            time.sleep(0.1)
        assert answer.json()["tenant_id"] == waiting
        assert _get(url, tokens[served]).json()["data_as_of"] == as_of  # nothing lost, nothing refetched
        assert not scan.check_http("GET /api/v1/revenue/realtime under gunicorn", answer)
    finally:
        server.terminate()
        server.wait(30)
    logged = server_log.read_text(errors="replace")
    assert "database_unavailable" in logged  # the outage was logged, and nothing secret with it:
    assert not scan.search("gunicorn's log over the outage", {"log": logged})
