"""A refresher killed with SIGKILL in the middle of a 500-tenant cycle: no advisory lock
left in pg_locks, the next cycle refreshes every remaining tenant, no entry corrupted."""

from __future__ import annotations

import signal

from revenue.selectors import cache_entry_get
from revenue.snapshot import Snapshot
from tests.revenue.test_refresher_processes import make_tenants, refresher, summary_of
from tests.stubs import held_advisory_locks, wait_until


def test_a_refresher_killed_mid_cycle_leaves_no_lock_and_the_next_run_completes(committed_db, sandbox):
    tenants = make_tenants(500)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=100)
    victim = refresher(sandbox, "--concurrency", "8")
    wait_until(lambda: sum(sandbox.calls("stripe").values()) >= 40 and held_advisory_locks() >= 1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    wait_until(lambda: held_advisory_locks() == 0)  # the server released them with the connection

    sandbox.clear_faults()
    done_before = sum(1 for tenant in tenants if cache_entry_get(tenant.id) is not None)
    assert 0 < done_before < 500  # killed in the middle of the cycle
    summary = summary_of(refresher(sandbox, "--concurrency", "8"))
    assert summary["failed"] == 0 and summary["skipped_locked"] == 0
    assert summary["refreshed"] == 500 - done_before and summary["not_due"] == done_before
    for tenant in tenants:
        entry = cache_entry_get(tenant.id)
        assert entry is not None and entry.payload is not None
        assert Snapshot.from_payload(entry.payload).sources[0].status == "ok"  # nothing half-written
