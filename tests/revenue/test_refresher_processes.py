"""Several `refresh_revenue` processes against one database and the platform simulator:
each due tenant refreshed exactly once, and a looping worker stops cleanly. (A refresher
killed mid-cycle is in tests/resilience/test_killed_refresher.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from django.db import connection

from revenue.selectors import cache_entry_get
from tests.factories import make_connection, make_tenant
from tests.stubs import held_advisory_locks


def make_tenants(count: int) -> list:
    tenants = []
    for n in range(count):
        tenant = make_tenant(f"t{n:04d}")
        make_connection(tenant, "stripe", f"acct_mp{n:04d}", access_token=f"sk_test_{n}", metadata={"connect": True})
        tenants.append(tenant)
    return tenants


def refresher(sandbox, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skeldir.test_settings",
        "DATABASE_URL": f"postgres://skeldir_app@/{connection.settings_dict['NAME']}",
        "STRIPE_API_BASE_URL": sandbox.url,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "refresh_revenue", "--ahead", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def summary_of(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_two_refreshers_started_together_refresh_each_tenant_exactly_once(committed_db, sandbox):
    tenants = make_tenants(200)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=20)
    first, second = refresher(sandbox, "--concurrency", "8"), refresher(sandbox, "--concurrency", "8")
    summaries = [summary_of(first), summary_of(second)]

    calls = sandbox.calls("stripe")
    assert sorted(calls) == sorted(f"acct_mp{n:04d}" for n in range(200))
    assert set(calls.values()) == {1}
    assert sum(s["refreshed"] for s in summaries) == 200
    for summary in summaries:
        assert summary["tenants_seen"] == 200
        assert summary["refreshed"] + summary["not_due"] + summary["skipped_locked"] == 200
    assert all(cache_entry_get(t.id).payload for t in tenants)
    assert held_advisory_locks() == 0


def test_a_looping_refresher_stops_cleanly_on_sigterm(committed_db, sandbox):
    make_tenants(3)
    worker = refresher(sandbox, "--loop", "60")
    first_line = worker.stdout.readline()
    assert json.loads(first_line)["refreshed"] == 3
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    assert worker.returncode == 0
    assert held_advisory_locks() == 0
