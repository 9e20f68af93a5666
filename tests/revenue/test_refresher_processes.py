"""Several `refresh_revenue` processes against one database and the platform simulator:
each due tenant refreshed exactly once, and a looping worker stops cleanly; one command's
cycle split over forked processes (shares, signals, a killed parent or child, progress).
(A refresher killed mid-cycle is in tests/resilience/test_killed_refresher.py.)"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys

import pytest
from django.db import connection

from revenue.selectors import cache_entry_get
from tests.factories import make_connection, make_tenant
from tests.stubs import held_advisory_locks, wait_until

# A Stripe refresh reads two lists: GET /v1/charges, then GET /v1/disputes (see providers/stripe.py).
STRIPE_CALLS_PER_REFRESH = 2


def make_tenants(count: int) -> list:
    tenants = []
    for n in range(count):
        tenant = make_tenant(f"t{n:04d}")
        make_connection(tenant, "stripe", f"acct_mp{n:04d}", access_token=f"sk_test_{n}", metadata={"connect": True})
        tenants.append(tenant)
    return tenants


def refresher(sandbox, *args: str, stderr: int = subprocess.PIPE) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skeldir.test_settings",
        "DATABASE_URL": f"postgres://skeldir_app@/{connection.settings_dict['NAME']}",
        "STRIPE_API_BASE_URL": sandbox.url,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "refresh_revenue", "--ahead", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
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
    assert set(calls.values()) == {STRIPE_CALLS_PER_REFRESH}
    assert sum(s["refreshed"] for s in summaries) == 200
    for summary in summaries:
        assert summary["tenants_seen"] == 200
        assert summary["refreshed"] + summary["not_due"] + summary["skipped_locked"] == 200
    assert all(cache_entry_get(t.id).payload for t in tenants)
    assert held_advisory_locks() == 0


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_looping_refresher_stops_cleanly_on_sigterm(committed_db, sandbox, processes):
    make_tenants(3)
    worker = refresher(sandbox, "--loop", "60", "--processes", processes)
    first_line = worker.stdout.readline()
    assert json.loads(first_line)["refreshed"] == 3
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    assert worker.returncode == 0
    assert held_advisory_locks() == 0


def child_pids(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except FileNotFoundError:
        return []


def gone(pid: int) -> bool:
    """Exited (a zombie counts: an orphan's new parent may not reap it at once)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_one_command_splits_its_cycle_over_processes_each_taking_its_own_tenants(committed_db, sandbox):
    tenants = make_tenants(200)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=100)
    command = refresher(sandbox, "--processes", "2", "--concurrency", "8")
    wait_until(lambda: len(child_pids(command.pid)) == 2 or command.poll() is not None)
    assert len(child_pids(command.pid)) == 2
    summary = summary_of(command)

    calls = sandbox.calls("stripe")
    assert sorted(calls) == sorted(f"acct_mp{n:04d}" for n in range(200))
    assert set(calls.values()) == {STRIPE_CALLS_PER_REFRESH}
    # The shares do not overlap: no process found a tenant locked or already refreshed.
    assert (summary["tenants_seen"], summary["refreshed"], summary["skipped_locked"], summary["not_due"]) == (
        200,
        200,
        0,
        0,
    )
    assert all(cache_entry_get(t.id).payload for t in tenants)
    assert held_advisory_locks() == 0


def test_split_commands_on_several_machines_still_refresh_each_tenant_once(committed_db, sandbox):
    make_tenants(200)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=20)
    commands = [refresher(sandbox, "--processes", "2", "--concurrency", "4") for _ in range(2)]
    summaries = [summary_of(command) for command in commands]

    calls = sandbox.calls("stripe")
    assert set(calls.values()) == {STRIPE_CALLS_PER_REFRESH} and len(calls) == 200
    assert sum(s["refreshed"] for s in summaries) == 200
    assert held_advisory_locks() == 0


def test_a_split_cycle_stops_after_the_tenants_in_flight_on_sigterm(committed_db, sandbox):
    make_tenants(200)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=100)
    command = refresher(sandbox, "--processes", "2", "--concurrency", "4")
    wait_until(lambda: len(sandbox.calls("stripe")) >= 16)
    command.send_signal(signal.SIGTERM)
    summary = summary_of(command)  # exit 0, and the summary of what was done

    assert 16 <= summary["refreshed"] < 200 and summary["failed"] == summary["errors"] == 0
    calls = sandbox.calls("stripe")
    assert summary["refreshed"] == len(calls)  # every tenant begun was finished
    assert set(calls.values()) == {STRIPE_CALLS_PER_REFRESH}
    assert held_advisory_locks() == 0


def test_processes_whose_command_is_killed_finish_their_tenants_in_flight_and_stop(committed_db, sandbox):
    tenants = make_tenants(200)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=100)
    command = refresher(sandbox, "--processes", "2", "--concurrency", "4")
    wait_until(lambda: len(child_pids(command.pid)) == 2 and sum(sandbox.calls("stripe").values()) >= 16)
    orphans = child_pids(command.pid)
    command.send_signal(signal.SIGKILL)
    command.wait(30)
    wait_until(lambda: all(gone(pid) for pid in orphans))
    wait_until(lambda: held_advisory_locks() == 0)
    begun = len(sandbox.calls("stripe"))
    assert begun < 200  # they stopped instead of finishing the cycle

    sandbox.clear_faults()
    summary = summary_of(refresher(sandbox, "--processes", "2"))
    assert (summary["refreshed"], summary["not_due"], summary["failed"]) == (200 - begun, begun, 0)
    # each tenant begun before the kill was finished then
    assert set(sandbox.calls("stripe").values()) == {STRIPE_CALLS_PER_REFRESH}
    assert all(cache_entry_get(t.id).payload for t in tenants)


def test_a_process_killed_mid_cycle_fails_the_command_once_the_others_finish(committed_db, sandbox):
    tenants = make_tenants(200)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=100)
    command = refresher(sandbox, "--processes", "2", "--concurrency", "4")
    wait_until(lambda: len(child_pids(command.pid)) == 2 and sum(sandbox.calls("stripe").values()) >= 16)
    victim = child_pids(command.pid)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = command.communicate(timeout=120)

    assert command.returncode == 1
    assert "CommandError: 1 of 2 refresher processes failed (killed by signal 9)" in err
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])  # the survivor's tenants are counted
    assert 0 < summary["refreshed"] < 200
    wait_until(lambda: held_advisory_locks() == 0)

    sandbox.clear_faults()
    after = summary_of(refresher(sandbox, "--processes", "2"))
    assert after["failed"] == after["skipped_locked"] == 0
    assert after["refreshed"] + after["not_due"] == 200
    assert all(cache_entry_get(t.id).payload for t in tenants)


def test_on_a_terminal_a_split_cycle_shows_its_processes_progress_added_up(committed_db, sandbox):
    make_tenants(60)
    sandbox.set_fault("stripe", "*", "latency", latency_ms=20)
    terminal, its_end = pty.openpty()
    command = refresher(sandbox, "--processes", "2", "--concurrency", "4", stderr=its_end)
    os.close(its_end)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the command closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    summary = summary_of(command)

    assert summary["refreshed"] == 60
    updates = [line for line in shown.decode().split("\r") if line.startswith("refreshing:")]
    assert len(updates) >= 2  # one per process's summary at least
    assert updates[-1].strip() == ("refreshing: 60/60 tenants · refreshed 60 · partial 0 · failed 0 · skipped 0")
