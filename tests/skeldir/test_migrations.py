"""The migrations apply to an empty database, reverse cleanly to nothing, and apply again
(run as the owner, in processes of their own, on a scratch database)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def _sql(dbname: str, query: str) -> list[tuple]:
    with psycopg.connect(dbname=dbname, user="skeldir_owner", autocommit=True) as conn:
        return conn.execute(query).fetchall()


def test_migrations_apply_reverse_and_apply_again():
    name = f"test_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbname="postgres", user="skeldir_owner", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skeldir.test_settings",
        "DATABASE_URL": f"postgres://skeldir_app@/{name}",
        "DATABASE_OWNER_URL": f"postgres://skeldir_owner@/{name}",
        "DATABASE_OPERATOR_URL": f"postgres://skeldir_operator@/{name}",
        "DATABASE_ADMIN_URL": f"postgres://skeldir_admin@/{name}",
    }

    def migrate(*target: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--database", "owner", "--no-input", *target],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def tables() -> set[str]:
        return {row[0] for row in _sql(name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}

    try:
        migrate()
        assert {"tenants", "platform_connections", "platform_credentials", "revenue_cache_entries"} <= tables()
        assert len(_sql(name, "SELECT 1 FROM pg_policies WHERE policyname = 'tenant_isolation_policy'")) >= 3

        migrate("axes", "zero")  # django-axes' login records: no tenant data, no dependency on ours
        migrate("skeldir", "zero")  # everything else depends on it: the whole schema goes
        assert tables() == {"django_migrations"}
        assert _sql(name, "SELECT 1 FROM pg_policies") == []

        migrate()
        assert "revenue_cache_entries" in tables()
    finally:
        with psycopg.connect(dbname="postgres", user="skeldir_owner", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
