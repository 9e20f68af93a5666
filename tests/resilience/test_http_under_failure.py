"""Bursts of real HTTP requests against gunicorn, run as production runs it
(`gunicorn.conf.py`: WEB_CONCURRENCY=2 processes of WEB_THREADS=8 threads, Django's
per-thread connections kept CONN_MAX_AGE), while the one platform of a tenant is held inside
its answer and then fails (issue 24):

- a rate limit (429): every request answers 503 with Retry-After, one platform call;
- a refused key (401): every request answers 200 with the source `reconnect_required`,
  one platform call;
- 500 concurrent requests on one tenant whose refresh is held: no connection exhaustion
  (at most one connection per server thread: the connection ceiling the README states),
  no session idle in a transaction while the followers wait, every answer 200.

The platform is a small Stripe stand-in in this process that holds each charges request on
a gate until the test has seen the followers waiting for the leader in PostgreSQL; requests
are written on their sockets all at once and their answers read afterwards (no client
thread per request, no sleeps)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import connection

from tests.factories import make_connection, make_tenant
from tests.jwt_fixtures import KID
from tests.stubs import stripe_error, stripe_list, wait_until

ROOT = Path(__file__).resolve().parents[2]
V1 = "/api/v1/revenue/realtime"
WORKERS, THREADS = 2, 8  # gunicorn.conf.py's defaults: the production pool
APPLICATION_NAME = "skeldir-http-under-failure"  # marks the server's database sessions
STRIPE_KEY = "sk_test_http_burst_key_0123456789"


class HeldStripe(http.server.ThreadingHTTPServer):
    """Stripe's charges and disputes lists on loopback. Each charges request waits for
    `gate`, counts, then answers as `mode` says: ok, 429 (Retry-After 30) or 401."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StripeHandler)
        self.gate = threading.Event()
        self.mode = "ok"
        self.charges_calls = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def reset(self, mode: str) -> None:
        self.gate = threading.Event()
        self.mode = mode
        self.charges_calls = 0


class _StripeHandler(http.server.BaseHTTPRequestHandler):
    server: HeldStripe

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith("/v1/disputes"):
            return self._answer(200, {"object": "list", "url": "/v1/disputes", "has_more": False, "data": []})
        with self.server.lock:
            self.server.charges_calls += 1
        assert self.server.gate.wait(30), "the test never released the platform"
        if self.server.mode == "429":
            return self._answer(429, stripe_error(429, "rate_limit_error", "rate_limit"), {"Retry-After": "30"})
        if self.server.mode == "401":
            return self._answer(401, stripe_error(401, "invalid_request_error", "api_key_invalid"))
        return self._answer(200, stripe_list(1200, 300))

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture(scope="module")
def stripe() -> Iterator[HeldStripe]:
    server = HeldStripe()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.gate.set()
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(alias: str) -> str:
    conf = settings.DATABASES[alias]
    host = conf.get("HOST") or ""
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{conf['USER']}@{host}{port}/{conf['NAME']}"


@pytest.fixture(scope="module")
def server(django_db_setup, stripe, rsa_key, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """gunicorn with the production configuration, on the test database, its Stripe at the
    held stand-in. Its log is returned with the URL (searched for the key afterwards)."""
    public = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    bind = f"127.0.0.1:{_free_port()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skeldir.test_settings",
        "DATABASE_URL": _database_url("default"),
        "DATABASE_OWNER_URL": _database_url("owner"),
        "DATABASE_OPERATOR_URL": _database_url("operator"),
        "PGAPPNAME": APPLICATION_NAME,
        "STRIPE_API_BASE_URL": stripe.url,
        "JWT_PUBLIC_KEYS": json.dumps({KID: public}),
        "JWT_ISSUER": "",
        "JWT_AUDIENCE": "",
        "WEB_CONCURRENCY": str(WORKERS),
        "WEB_THREADS": str(THREADS),
        "BIND": bind,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes its own
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "skeldir.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    host, port = bind.split(":")
    try:
        wait_until(lambda: _answers(host, int(port)) or process.poll() is not None, timeout=30)
        assert process.poll() is None, log_path.read_text(errors="replace")
        yield {"host": host, "port": int(port), "log": log_path}
    finally:
        process.terminate()
        process.wait(30)


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError):
        probe = http.client.HTTPConnection(host, port, timeout=2)
        probe.request("GET", "/healthz")
        ok = probe.getresponse().status == 200
        probe.close()
        return ok
    return False


def _burst(server: dict[str, Any], count: int, token: str) -> list[http.client.HTTPConnection]:
    """`count` requests written at once, each on its own connection; read them with `_read`."""
    sent = []
    for _ in range(count):
        client = http.client.HTTPConnection(server["host"], server["port"], timeout=60)
        client.request("GET", V1, headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())})
        sent.append(client)
    return sent


def _read(sent: list[http.client.HTTPConnection]) -> list[tuple[int, dict[str, str], str]]:
    answers = []
    for client in sent:
        response = client.getresponse()
        answers.append((response.status, dict(response.getheaders()), response.read().decode()))
        client.close()
    return answers


def _server_sessions() -> list[tuple[str, str]]:
    """The gunicorn processes' database sessions: (state, query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(state, ''), query FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [APPLICATION_NAME],
        )
        return cursor.fetchall()


def _followers_waiting() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = %s"
            " AND a.datname = current_database()",
            [APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def _held_until_followers_wait(stripe: HeldStripe) -> list[tuple[str, str]]:
    """Once the leader is inside the platform call and a whole server process's other
    threads wait for it in PostgreSQL: the server's sessions at that moment, then release."""
    wait_until(lambda: stripe.charges_calls >= 1 and _followers_waiting() >= THREADS - 1, timeout=30)
    sessions = _server_sessions()
    stripe.gate.set()
    return sessions


def _tenant_with_stripe(name: str):
    tenant = make_tenant(name)
    make_connection(tenant, "stripe", f"acct_{name}", access_token=STRIPE_KEY, metadata={"connect": True})
    return tenant


def _no_key_leaked(server: dict[str, Any], answers: list[tuple[int, dict[str, str], str]], scan) -> None:
    for status, headers, body in answers:
        assert STRIPE_KEY not in body
        assert not scan.search(f"GET {V1} under gunicorn ({status})", {"headers": json.dumps(headers), "body": body})
    assert STRIPE_KEY not in server["log"].read_text(errors="replace")


def test_a_burst_during_a_rate_limit_answers_503_with_retry_after_after_one_platform_call(
    committed_db, server, stripe, mint, _no_secret_in_any_response
):
    stripe.reset("429")
    tenant = _tenant_with_stripe("throttled")
    sent = _burst(server, 100, mint(tenant.id))
    _held_until_followers_wait(stripe)
    answers = _read(sent)

    assert [status for status, _, _ in answers] == [503] * 100
    for _, headers, body in answers:
        assert headers["Content-Type"] == "application/problem+json" and headers["Cache-Control"] == "no-store"
        assert 1 <= int(headers["Retry-After"]) <= 30  # the platform's 30 s, less what has passed
        assert json.loads(body)["code"] == "revenue_unavailable"
    assert stripe.charges_calls == 1
    _no_key_leaked(server, answers, _no_secret_in_any_response)


def test_a_burst_during_a_refused_key_answers_200_with_reconnect_required_after_one_platform_call(
    committed_db, server, stripe, mint, _no_secret_in_any_response
):
    stripe.reset("401")
    tenant = _tenant_with_stripe("refused")
    sent = _burst(server, 100, mint(tenant.id))
    _held_until_followers_wait(stripe)
    answers = _read(sent)

    assert [status for status, _, _ in answers] == [200] * 100
    for _, _, body in answers:
        (source,) = json.loads(body)["breakdown"]
        assert (source["status"], source["stale"]) == ("reconnect_required", True)
    assert stripe.charges_calls == 1
    _no_key_leaked(server, answers, _no_secret_in_any_response)


def test_500_concurrent_followers_on_one_tenant_stay_within_the_connection_ceiling(
    committed_db, server, stripe, mint, _no_secret_in_any_response
):
    stripe.reset("ok")
    tenant = _tenant_with_stripe("crowded")
    sent = _burst(server, 500, mint(tenant.id))
    during = _held_until_followers_wait(stripe)
    answers = _read(sent)

    assert [status for status, _, _ in answers] == [200] * 500
    assert {json.loads(body)["revenue_total"] for _, _, body in answers} == {15}
    assert stripe.charges_calls == 1
    ceiling = WORKERS * THREADS  # one connection per server thread, however many requests queue
    assert len(during) <= ceiling and len(_server_sessions()) <= ceiling
    assert not [s for s in during if s[0].startswith("idle in transaction")], during
    waiting = [query for state, query in during if "advisory_xact_lock_shared" in query]
    assert len(waiting) >= THREADS - 1 and all("set_config('lock_timeout'" in q for q in waiting)
    _no_key_leaked(server, answers, _no_secret_in_any_response)
