"""`manage.py refresh_revenue`: the cron's cycle, its arguments and exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from revenue.batch import RefreshSummary, refresh_processes, revenue_refresh_due, shard_split
from revenue.realtime import revenue_refresh
from revenue.selectors import cache_entry_get
from skeldir.cpus import usable_cpus
from skeldir.tenancy import tenant_ids_iter, tenant_shard
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, held_advisory_locks, stripe_list

CID = "6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("refresh_revenue", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "skeldir.test_settings", **(env or {})},
    )


def test_a_cycle_refreshes_due_tenants_and_skips_fresh_ones(committed_db, platforms):
    tenants = [make_tenant() for _ in range(3)]
    for n, tenant in enumerate(tenants):
        make_connection(tenant, "stripe", f"acct_{n}", access_token=f"sk_{n}")
        platforms.stripe.set(f"sk_{n}", Behaviour(body=stripe_list(100 * (n + 1))))
    revenue_refresh(tenants[0].id, correlation_id=CID)  # fresh already

    summary = run("--concurrency", "2", "--ahead", "0")

    assert summary["event"] == "refresh_cycle_finished"
    assert (summary["tenants_seen"], summary["refreshed"], summary["not_due"], summary["failed"]) == (3, 2, 1, 0)
    assert platforms.stripe.calls == {"sk_0": 1, "sk_1": 1, "sk_2": 1}
    assert all(cache_entry_get(t.id).payload for t in tenants)


def test_platform_failures_are_recorded_not_fatal(committed_db, platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_bad")
    platforms.stripe.set("sk_bad", Behaviour(500, {"error": {"type": "api_error"}}))
    summary = run("--tenant", str(tenant.id))
    assert (summary["failed"], summary["refreshed"]) == (1, 0)
    assert "upstream" in cache_entry_get(tenant.id).last_error_message


def test_only_the_given_tenants_and_shards_are_refreshed(committed_db, platforms):
    tenants = [make_tenant() for _ in range(6)]
    for n, tenant in enumerate(tenants):
        make_connection(tenant, "stripe", f"acct_{n}", access_token=f"sk_{n}")
        platforms.stripe.set(f"sk_{n}", Behaviour(body=stripe_list(1)))
    assert run("--tenant", str(tenants[0].id), "--tenant", str(tenants[1].id))["refreshed"] == 2

    in_shard = [t for t in tenants[2:] if tenant_shard(t.id, 2) == 1]
    summary = run("--shard", "1/2")
    assert summary["refreshed"] == len(in_shard)
    refreshed = {t.id for t in tenants if cache_entry_get(t.id) is not None}
    assert refreshed == {tenants[0].id, tenants[1].id, *(t.id for t in in_shard)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope"], "--tenant values must be UUIDs"),
        (["--shard", "3/2"], "--shard '3/2' needs 1 <= K <= N"),
        (["--shard", "x"], "--shard 'x' must look like K/N"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--processes", "0"], "--processes must be at least 1"),
        (["--loop", "-1"], "--loop must be a positive number of seconds"),
    ],
)
def test_bad_arguments_exit_2_with_one_sentence(args, message):
    with pytest.raises(CommandError, match=message) as info:
        run(*args)
    assert info.value.returncode == 2


def test_an_unreachable_database_exits_1_with_a_clear_message():
    result = manage("refresh_revenue", env={"DATABASE_URL": "postgres://skeldir_app@127.0.0.1:1/skeldir"})
    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: Cannot reach the database (DATABASE_URL):")
    assert "Traceback" not in result.stderr


def test_a_missing_key_ring_exits_78_with_a_clear_message():
    result = manage("refresh_revenue", env={"CREDENTIAL_ENCRYPTION_KEYS": ""})
    # test_settings only fills an unset variable; an empty one reaches the check.
    assert result.returncode == 78
    assert result.stderr.strip() == (
        "Configuration error: Set the CREDENTIAL_ENCRYPTION_KEYS environment variable "
        '(JSON {"current": "<key id>", "keys": {"<key id>": "<secret>"}}).'
    )


def test_a_stop_request_ends_the_cycle_after_the_tenants_in_flight(committed_db, platforms):
    import threading

    tenants = [make_tenant() for _ in range(5)]
    for n, tenant in enumerate(tenants):
        make_connection(tenant, "stripe", f"acct_{n}", access_token=f"sk_{n}")
        platforms.stripe.set(f"sk_{n}", Behaviour(body=stripe_list(1)))
    stop = threading.Event()
    stop.set()
    summary = revenue_refresh_due(concurrency=1, stop=stop)
    assert summary.seen == 0 and summary.refreshed == 0
    assert held_advisory_locks() == 0


@given(
    ids=st.lists(st.uuids(), min_size=1, max_size=50),
    shards=st.integers(1, 5),
    processes=st.integers(1, 4),
    data=st.data(),
)
def test_a_shard_split_between_processes_gives_each_of_its_tenants_to_exactly_one(ids, shards, processes, data):
    shard = (data.draw(st.integers(1, shards)), shards)
    shares = shard_split(shard, processes)
    for tenant_id in ids:
        holders = [share for share in shares if tenant_shard(tenant_id, share[1]) == share[0]]
        assert len(holders) == (1 if tenant_shard(tenant_id, shards) == shard[0] else 0)


def test_one_process_per_available_cpu_unless_configured(settings):
    settings.REVENUE_REFRESH_PROCESSES = 0
    assert refresh_processes() == usable_cpus() <= len(os.sched_getaffinity(0))
    settings.REVENUE_REFRESH_PROCESSES = 3
    assert refresh_processes() == 3


def test_the_processes_counters_add_up():
    parts = [RefreshSummary(seen=3, refreshed=2, not_due=1), RefreshSummary(seen=4, failed=1, skipped_locked=3)]
    total = RefreshSummary.total(parts)
    assert (total.seen, total.refreshed, total.failed, total.skipped_locked, total.not_due) == (7, 2, 1, 3, 1)
    assert total.due == 3 and total.duration_seconds == 0.0


@pytest.mark.django_db
def test_the_database_chooses_the_same_shards_as_tenant_shard():
    edges = ("00000000-0000-4000-8000-0000ffffffff", "00000000-0000-4000-8000-000080000000")
    tenants = [make_tenant() for _ in range(40)] + [
        make_tenant(f"edge-{n}", tenant_id=uuid.UUID(edge)) for n, edge in enumerate(edges)
    ]
    ids = {tenant.id for tenant in tenants}
    for shards in (1, 2, 3, 7):
        chosen = {k: set(tenant_ids_iter(shard=(k, shards))) & ids for k in range(1, shards + 1)}
        assert chosen == {k: {i for i in ids if tenant_shard(i, shards) == k} for k in range(1, shards + 1)}
