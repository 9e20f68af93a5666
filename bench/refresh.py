"""Refresh throughput: `manage.py refresh_revenue` over N tenants × 3 connections on the
simulator with 50 ms per platform request, against the sequential floor
(tenants × sources × latency), as cron runs it (its cycle split over one process per
core); one refresher process alone, and two started together (each tenant exactly once,
combined speed against one process); in full mode the same two against one where the
platforms set the pace (500 ms a request) rather than the machine's two cores; and the
refresher's peak RSS at two tenant counts.

Each platform is its own simulator process (as each is its own host), and an unmeasured
warm-up pass lets them render every account's orders before the measured passes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from bench.harness import PYTHON, ROOT, SERVED_PIDS, process_cpu_seconds, simulators
from connections.crypto import PGP_OPTIONS
from skeldir.cpus import usable_cpus

LATENCY_MS = 50
PLATFORMS = ("stripe", "shopify", "woocommerce")
CONCURRENCY = "16"  # refresh_revenue's default: what the README's cron runs
ONE = ("--processes", "1")
MODES = ("command", "one_process", "two_processes")
# Platforms as they answer in production, hundreds of milliseconds a request, where a
# refresher waits on them rather than on its CPU (full mode only: it takes a minute).
WAITING_LATENCY_MS = 500
WAITING_TENANTS = 500


def _superuser_sql(sql: str) -> None:
    from bench.harness import DB_NAME

    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"postgresql:///{DB_NAME}", "-c", sql], check=True)


def evening_zone(now: datetime | None = None) -> str:
    """An IANA zone where it is now between 18:00 and 19:00. A refresh reads "today so
    far" in the tenant's zone, so tenants there have about three quarters of a simulated
    day's orders whatever the hour of the run (just after midnight UTC, a UTC day has
    none yet and the refresh would have almost nothing to read)."""
    offset = (18 - (now or datetime.now(UTC)).hour + 12) % 24 - 12  # hours east of UTC, -12..11
    return f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"  # POSIX zone names invert the sign


def seed(tenants: int, connections: int, key: str) -> None:
    """Tenants with simulated connections, inserted in bulk by the local superuser (the
    benchmark's set-up, not the service: row-level security does not apply to it), their
    tokens encrypted as the service encrypts them."""
    _superuser_sql("TRUNCATE tenants CASCADE")
    # The same ids (hence the same simulated accounts) on every seeding, so the warm-up
    # pass and the measured passes ask the simulators for the same accounts.
    _superuser_sql(
        "INSERT INTO tenants (id, name, timezone) SELECT md5('bench-' || n)::uuid, 'bench-' || n,"
        f" '{evening_zone()}' FROM generate_series(1, {tenants}) n"
    )
    accounts = {
        "stripe": "'acct_' || substr(t.id::text, 1, 8)",
        "shopify": "substr(t.id::text, 1, 8) || '.myshopify.com'",
        "woocommerce": "'https://' || substr(t.id::text, 1, 8) || '.example.com'",
    }
    for platform in PLATFORMS[:connections]:
        metadata = "'{\"connect\": true}'::jsonb" if platform == "stripe" else "NULL"
        _superuser_sql(
            f"INSERT INTO platform_connections (tenant_id, platform, platform_account_id, connection_metadata) "
            f"SELECT t.id, '{platform}', {accounts[platform]}, {metadata} FROM tenants t"
        )
    token = {"stripe": "sk_test_bench", "shopify": "shpat_bench", "woocommerce": "ck_b:cs_b"}
    cases = " ".join(f"WHEN '{p}' THEN '{token[p]}'" for p in PLATFORMS)
    _superuser_sql(
        "INSERT INTO platform_credentials"
        " (tenant_id, platform_connection_id, platform, encrypted_access_token, key_id) "
        f"SELECT c.tenant_id, c.id, c.platform, pgp_sym_encrypt(CASE c.platform {cases} END, '{key}', '{PGP_OPTIONS}'),"
        " 'b1' "
        "FROM platform_connections c"
    )
    # Statistics, as a production database has them (autovacuum would gather them a
    # little later): right after a bulk load the planner would be guessing.
    _superuser_sql("ANALYZE tenants, platform_connections, platform_credentials")


def _refresher(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", "refresh_revenue", "--ahead", "0", "--concurrency", CONCURRENCY, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _finish(process: subprocess.Popen) -> tuple[dict[str, Any], int, float]:
    """(the summary line, peak RSS in KiB, CPU seconds) of a finished refresher."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise RuntimeError(f"refresh_revenue exited {process.returncode}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def _measured(
    env: dict[str, str], processes: list[tuple[str, ...]], prepare: Callable[[], object], sims: dict[str, str]
) -> dict[str, Any]:
    """Run refreshers (one per entry of `processes`, with those arguments) started
    together after `prepare()`: wall seconds, summaries, their CPU, the simulators' and
    the machine's."""
    prepare()
    sim_pids = [SERVED_PIDS[url] for url in sims.values()]
    sims_before = sum(process_cpu_seconds(pid) for pid in sim_pids)
    started, machine = time.monotonic(), _cpu_times()
    finished = [_finish(process) for process in [_refresher(env, *args) for args in processes]]
    busy, total = (now - then for now, then in zip(_cpu_times(), machine, strict=True))
    return {
        "seconds": time.monotonic() - started,
        "summaries": [summary for summary, _, _ in finished],
        "refresher_cpu_seconds": sum(cpu for _, _, cpu in finished),
        "simulators_cpu_seconds": sum(process_cpu_seconds(pid) for pid in sim_pids) - sims_before,
        # Everything busy, whoever it was: the refreshers, the simulators, PostgreSQL,
        # this driver, the system, and the neighbours' steal.
        "machine_cpu_seconds": busy / os.sysconf("SC_CLK_TCK"),
        "machine_busy": busy / total if total else 0.0,
    }


def _refreshed_all(summary: dict[str, Any], tenants: int) -> None:
    """A figure taken from refreshes that failed (a wrong key, a simulator fault) would
    measure the failure path: stop the benchmark instead."""
    if summary["refreshed"] != tenants:
        raise RuntimeError(f"refresh_revenue refreshed {summary['refreshed']} of {tenants} tenants: {summary}")


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot; steal counts as busy (the
    neighbours had the core)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _calls(sims: dict[str, str]) -> dict[str, dict[str, int]]:
    return {
        platform: requests.get(f"{url}/_sandbox/calls", timeout=10).json().get(platform, {})
        for platform, url in sims.items()
    }


def run(env: dict[str, str], *, quick: bool) -> dict[str, Any]:
    tenants = 1000 if quick else 2000
    rss_counts = (1000, 2000) if quick else (1000, 10_000)
    credential_key = json.loads(env["CREDENTIAL_ENCRYPTION_KEYS"])["keys"]["b1"]
    results: dict[str, Any] = {
        "tenants": tenants,
        "connections": len(PLATFORMS),
        "latency_ms": LATENCY_MS,
        "concurrency": int(CONCURRENCY),
    }
    with simulators(env, PLATFORMS) as (sims, sims_env):
        run_env = {**env, **sims_env}

        def reset() -> None:
            for url in sims.values():
                requests.post(f"{url}/_sandbox/reset", timeout=5)

        def latency(ms: int = LATENCY_MS) -> None:
            reset()
            for platform, url in sims.items():
                requests.post(
                    f"{url}/_sandbox/faults",
                    timeout=5,
                    json={"platform": platform, "account": "*", "fault": "latency", "latency_ms": ms},
                )

        # Warm-up, not measured: the simulators render each account's orders once and
        # keep them (a settled order never changes), so the measured passes spend the
        # machine's two cores on the refresher and PostgreSQL rather than on the
        # simulators' data generation, which real platforms do on their own machines.
        seed(tenants, 3, credential_key)
        reset()
        _refreshed_all(_finish(_refresher(run_env))[0], tenants)

        # The command as cron runs it (its default: one process per core), one process,
        # then two started together, in interleaved rounds; each figure is the median of
        # its rounds (the machine's neighbours come and go).
        floor = tenants * len(PLATFORMS) * LATENCY_MS / 1000
        rounds: list[dict[str, Any]] = []

        def fresh_tenants() -> None:
            seed(tenants, 3, credential_key)
            latency()

        for _ in range(1 if quick else 3):
            command = _measured(run_env, [()], fresh_tenants, sims)
            _refreshed_all(command["summaries"][0], tenants)
            one = _measured(run_env, [ONE], fresh_tenants, sims)
            _refreshed_all(one["summaries"][0], tenants)
            two = _measured(run_env, [ONE, ONE], fresh_tenants, sims)
            calls = _calls(sims)
            per_account = [n for platform in PLATFORMS for n in calls.get(platform, {}).values()]
            two.update(
                refreshed_total=sum(summary["refreshed"] for summary in two["summaries"]),
                calls_min=min(per_account),
                calls_max=max(per_account),
                accounts=len(per_account),
            )
            rounds.append({"command": command, "one_process": one, "two_processes": two})
        results["rounds"] = rounds
        results["processes"] = usable_cpus()  # the command's default here
        results["sequential_floor_seconds"] = floor
        results["floor_ratio"] = statistics.median(r["command"]["seconds"] for r in rounds) / floor
        results["one_process_floor_ratio"] = statistics.median(r["one_process"]["seconds"] for r in rounds) / floor
        results["command_speedup"] = statistics.median(
            r["one_process"]["seconds"] / r["command"]["seconds"] for r in rounds
        )
        results["speedup"] = statistics.median(
            r["one_process"]["seconds"] / r["two_processes"]["seconds"] for r in rounds
        )
        # What two processes could reach here at most: one process's time against the
        # two-process run's CPU-seconds (refreshers, simulators, PostgreSQL, everything)
        # spread over every core of the machine, i.e. with no core ever idle.
        cores = os.cpu_count() or 1
        results["speedup_ceiling"] = statistics.median(
            r["one_process"]["seconds"] / (r["two_processes"]["machine_cpu_seconds"] / cores) for r in rounds
        )
        results["machine_busy"] = {mode: statistics.median(r[mode]["machine_busy"] for r in rounds) for mode in MODES}
        # Where the machine's CPU went, per refreshed tenant: the refreshers, the three
        # simulators, and the rest (PostgreSQL above all).
        results["cpu_ms_per_tenant"] = {}
        for mode in MODES:
            splits = [_cpu_ms_per_tenant(r[mode], tenants) for r in rounds]
            results["cpu_ms_per_tenant"][mode] = {
                part: statistics.median(s[part] for s in splits) for part in splits[0]
            }
        results["cpu_per_tenant_ratio"] = statistics.median(
            r["two_processes"]["refresher_cpu_seconds"] / r["one_process"]["refresher_cpu_seconds"] for r in rounds
        )
        results["exactly_once"] = all(
            r["two_processes"]["calls_min"] == r["two_processes"]["calls_max"] == 1
            and r["two_processes"]["refreshed_total"] == tenants
            for r in rounds
        )

        if not quick:
            # The same two-against-one comparison where the platforms, not the machine's
            # two cores, set the pace: does a second process add its own share?
            def waiting_tenants() -> None:
                seed(WAITING_TENANTS, 3, credential_key)
                latency(WAITING_LATENCY_MS)

            one = _measured(run_env, [ONE], waiting_tenants, sims)
            _refreshed_all(one["summaries"][0], WAITING_TENANTS)
            two = _measured(run_env, [ONE, ONE], waiting_tenants, sims)
            if sum(summary["refreshed"] for summary in two["summaries"]) != WAITING_TENANTS:
                raise RuntimeError(f"two refreshers did not cover the {WAITING_TENANTS} tenants: {two['summaries']}")
            results["waiting"] = {
                "tenants": WAITING_TENANTS,
                "latency_ms": WAITING_LATENCY_MS,
                "one_process": one,
                "two_processes": two,
                # Cycle times as the refreshers report them, without interpreter start-up
                # (a few seconds here, most of a run this short); the two started together.
                "speedup": one["summaries"][0]["duration_seconds"]
                / max(summary["duration_seconds"] for summary in two["summaries"]),
            }

        # Peak RSS against the tenant count (one connection each, no latency).
        results["rss_kib"] = {}
        for count in rss_counts:
            seed(count, 1, credential_key)
            reset()
            summary, rss, _ = _finish(_refresher(run_env))
            _refreshed_all(summary, count)
            results["rss_kib"][str(count)] = {"peak_rss_kib": rss, "refreshed": summary["refreshed"]}
    low, high = (results["rss_kib"][str(c)]["peak_rss_kib"] for c in rss_counts)
    results["rss_ratio"] = high / low
    results["rss_counts"] = list(rss_counts)
    return results


def _cpu_ms_per_tenant(run: dict[str, Any], tenants: int) -> dict[str, float]:
    """A run's CPU per tenant, in ms: the refreshers', the simulators', the rest's."""
    refresher, simulators = run["refresher_cpu_seconds"], run["simulators_cpu_seconds"]
    rest = run["machine_cpu_seconds"] - refresher - simulators
    return {
        "refresher": refresher * 1000 / tenants,
        "simulators": simulators * 1000 / tenants,
        "rest": rest * 1000 / tenants,
    }


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    low, high = results["rss_counts"]
    busy = results["machine_busy"]
    return [
        (
            f"refresh: {results['tenants']}x3 time / sequential floor ({results['processes']} processes, the default)",
            f"{results['floor_ratio']:.3f}",
            "<= 0.05",
            results["floor_ratio"] <= 0.05,
        ),
        (
            "refresh: one process's time / sequential floor",
            f"{results['one_process_floor_ratio']:.3f}",
            "(context)",
            True,
        ),
        (
            "refresh: two processes, each tenant once",
            "yes" if results["exactly_once"] else "no",
            "yes",
            results["exactly_once"],
        ),
        (
            "refresh: two processes / one process speed",
            f"{results['speedup']:.2f}",
            ">= 1.7",
            results["speedup"] >= 1.7,
        ),
        (
            f"refresh: the command ({results['processes']} processes, shares of the tenants) / one process speed",
            f"{results['command_speedup']:.2f}",
            "(context)",
            True,
        ),
        (
            "refresh: two / one process, if both cores were always busy",
            f"{results['speedup_ceiling']:.2f}",
            "(context)",
            True,
        ),
        # Why the speed-up stops where it does: how busy the machine's two cores were, and
        # what a tenant cost the refreshers in CPU with two processes against one (the
        # price of sharing the work; 1.0 when nothing is done twice).
        (
            "refresh: machine busy, the command / one / two processes",
            "/".join(f"{busy[mode]:.0%}" for mode in MODES),
            "(context)",
            True,
        ),
        *(
            (
                f"refresh: CPU ms/tenant, {label}: refresher/simulators/rest",
                "/".join(f"{ms:.1f}" for ms in results["cpu_ms_per_tenant"][key].values()),
                "(context)",
                True,
            )
            for label, key in (
                ("the command", "command"),
                ("one process", "one_process"),
                ("two processes", "two_processes"),
            )
        ),
        (
            "refresh: refresher CPU per tenant, two / one",
            f"{results['cpu_per_tenant_ratio']:.2f}",
            "(context)",
            True,
        ),
        *(
            [
                (
                    f"refresh: two / one process cycle speed, {w['tenants']}x3 at {w['latency_ms']} ms a request",
                    f"{w['speedup']:.2f}",
                    "(context)",
                    True,
                )
            ]
            if (w := results.get("waiting"))
            else []
        ),
        (
            f"refresh: peak RSS {high} / {low} tenants",
            f"{results['rss_ratio']:.2f}",
            "<= 1.2",
            results["rss_ratio"] <= 1.2,
        ),
    ]
