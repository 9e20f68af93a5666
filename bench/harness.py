"""Shared plumbing of the benchmarks: a dedicated database, secrets, a gunicorn server
with the production configuration, and the platform simulator."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SERVED_PIDS: dict[str, int] = {}  # URL -> pid of the process serving it, while it runs
DB_NAME = os.environ.get("BENCH_DB", "skeldir_bench")
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def bench_env() -> dict[str, str]:
    """Environment of every process of a benchmark run (server, refresher, this one)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "CREDENTIAL_ENCRYPTION_KEYS": json.dumps({"current": "b1", "keys": {"b1": secrets.token_urlsafe(24)}}),
        "DATABASE_URL": f"postgres://skeldir_app@/{DB_NAME}",
        "DATABASE_OWNER_URL": f"postgres://skeldir_owner@/{DB_NAME}",
        "DATABASE_OPERATOR_URL": f"postgres://skeldir_operator@/{DB_NAME}",
        "DATABASE_ADMIN_URL": f"postgres://skeldir_admin@/{DB_NAME}",
        "JWT_SIGNING_KID": "bench",
        "JWT_SIGNING_KEY": private_pem,
        "JWT_PUBLIC_KEYS": json.dumps({"bench": public_pem}),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GOOGLE_ADS_DEVELOPER_TOKEN": "bench-developer-token",
        "LOG_LEVEL": "WARNING",
        # Seeded snapshots stay fresh for a whole run; benchmarks that need expired entries
        # expire them explicitly.
        "REVENUE_CACHE_TTL_SECONDS": "3600",
    }


def prepare_database(env: dict[str, str]) -> None:
    """A fresh benchmark database, migrated by the owner."""
    subprocess.run(
        ["psql", "-X", "-q", "postgresql:///postgres", "-c", f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'],
        check=True,
    )
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "postgresql:///postgres",
            "-v",
            "owner=skeldir_owner",
            "-v",
            f"db={DB_NAME}",
            "-f",
            str(ROOT / "scripts" / "bootstrap_db.sql"),
        ],
        check=True,
    )
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--database", "owner", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextlib.contextmanager
def _served(command: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run `command` (given the port with {port}) until the block ends; yield its URL."""
    port = free_port()
    process = subprocess.Popen(
        [part.format(port=port) for part in command],
        cwd=ROOT,
        env={**os.environ, **env, "BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port)
        SERVED_PIDS[url] = process.pid
        yield url
    finally:
        SERVED_PIDS.pop(url, None)
        process.terminate()
        process.wait(30)


def gunicorn(env: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    """The API under the production gunicorn configuration (gunicorn.conf.py)."""
    return _served([str(ROOT / ".venv" / "bin" / "gunicorn"), "skeldir.wsgi", "-c", "gunicorn.conf.py"], env)


def simulator(env: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    return _served([PYTHON, "manage.py", "provider_sandbox", "--port", "{port}"], env)


def store_snapshot(tenant_id: uuid.UUID, now: datetime, sources: tuple = ()) -> str:
    """Write a snapshot of `sources` taken at `now` as the tenant's entry; returns its ETag."""
    from revenue.services import cache_entry_store_snapshot
    from revenue.snapshot import Snapshot, day_window
    from skeldir.tenancy import tenant_context

    start, end = day_window(now, "UTC")
    snapshot = Snapshot(
        tenant_id=tenant_id,
        interval="day",
        window_start=start,
        window_end=end,
        currency="USD",
        sources=sources,
        data_as_of=now,
    )
    with tenant_context(tenant_id):
        return cache_entry_store_snapshot(tenant_id=tenant_id, snapshot=snapshot, now=now).etag


_BASE_URL_VARIABLES = {
    "stripe": "STRIPE_API_BASE_URL",
    "shopify": "SHOPIFY_API_BASE_URL",
    "paypal": "PAYPAL_API_BASE_URL",
    "woocommerce": "WOOCOMMERCE_API_BASE_URL",
    "google_ads": "GOOGLE_ADS_API_BASE_URL",
    "meta_ads": "META_API_BASE_URL",
}


def simulator_env(url: str) -> dict[str, str]:
    """Every platform at one simulator."""
    return {**{name: url for name in _BASE_URL_VARIABLES.values()}, "GOOGLE_OAUTH_TOKEN_URL": f"{url}/token"}


@contextlib.contextmanager
def simulators(env: dict[str, str], platforms: tuple[str, ...]) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """One simulator process per platform, as the real platforms are separate hosts (one
    process would make its own GIL the bottleneck the benchmark measures). Yields each
    platform's URL and the environment that points the adapters at them."""
    with contextlib.ExitStack() as stack:
        urls = {platform: stack.enter_context(simulator(env)) for platform in platforms}
        yield urls, {_BASE_URL_VARIABLES[platform]: url for platform, url in urls.items()}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_result(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def machine() -> dict[str, str]:
    return {
        "cpus": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "postgres": subprocess.run(
            ["psql", "-X", "-At", "postgresql:///postgres", "-c", "SHOW server_version"], capture_output=True, text=True
        ).stdout.strip(),
    }
