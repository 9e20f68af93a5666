"""Refresh throughput: `manage.py refresh_revenue` over N tenants × 3 connections on the
simulator with 50 ms per platform request, against the sequential floor
(tenants × sources × latency); two processes started together (each tenant exactly once,
combined speed against one process); and the refresher's peak RSS at two tenant counts.

Each platform is its own simulator process (as each is its own host), and an unmeasured
warm-up pass lets them render every account's orders before the measured passes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import requests

from bench.harness import PYTHON, ROOT, simulators

LATENCY_MS = 50
PLATFORMS = ("stripe", "shopify", "woocommerce")
CONCURRENCY = "32"


def _superuser_sql(sql: str) -> None:
    from bench.harness import DB_NAME

    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"postgresql:///{DB_NAME}", "-c", sql], check=True)


def seed(tenants: int, connections: int, key: str) -> None:
    """Tenants with simulated connections, inserted in bulk by the local superuser (the
    benchmark's set-up, not the service: row-level security does not apply to it)."""
    _superuser_sql("TRUNCATE tenants CASCADE")
    # The same ids (hence the same simulated accounts) on every seeding, so the warm-up
    # pass and the measured passes ask the simulators for the same accounts.
    _superuser_sql(
        "INSERT INTO tenants (id, name) SELECT md5('bench-' || n)::uuid, 'bench-' || n"
        f" FROM generate_series(1, {tenants}) n"
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
        f"SELECT c.tenant_id, c.id, c.platform, pgp_sym_encrypt(CASE c.platform {cases} END, '{key}'), 'b1' "
        "FROM platform_connections c"
    )


def _refresher(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", "refresh_revenue", "--ahead", "0", "--concurrency", CONCURRENCY, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _finish(process: subprocess.Popen) -> tuple[dict[str, Any], int]:
    """(the summary line, peak RSS in KiB) of a finished refresher."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise RuntimeError(f"refresh_revenue exited {process.returncode}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss


def _calls(sims: dict[str, str]) -> dict[str, dict[str, int]]:
    return {
        platform: requests.get(f"{url}/_sandbox/calls", timeout=10).json().get(platform, {})
        for platform, url in sims.items()
    }


def run(env: dict[str, str], *, quick: bool) -> dict[str, Any]:
    tenants = 1000 if quick else 2000
    rss_counts = (1000, 3000) if quick else (1000, 10_000)
    key = json.loads(env["CREDENTIAL_ENCRYPTION_KEYS"])["keys"]["b1"]
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

        def latency() -> None:
            reset()
            for platform, url in sims.items():
                requests.post(
                    f"{url}/_sandbox/faults",
                    timeout=5,
                    json={"platform": platform, "account": "*", "fault": "latency", "latency_ms": LATENCY_MS},
                )

        # Warm-up, not measured: the simulators render each account's orders once and
        # keep them (a settled order never changes), so the measured passes spend the
        # machine's two cores on the refresher and PostgreSQL rather than on the
        # simulators' data generation, which real platforms do on their own machines.
        seed(tenants, 3, key)
        reset()
        _finish(_refresher(run_env))

        # One process.
        seed(tenants, 3, key)
        latency()
        started = time.monotonic()
        summary, _ = _finish(_refresher(run_env))
        one = time.monotonic() - started
        floor = tenants * len(PLATFORMS) * LATENCY_MS / 1000
        results["one_process"] = {
            "seconds": one,
            "summary": summary,
            "sequential_floor_seconds": floor,
            "floor_ratio": one / floor,
        }

        # Two processes started together.
        seed(tenants, 3, key)
        latency()
        started = time.monotonic()
        first, second = _refresher(run_env), _refresher(run_env)
        summaries = [_finish(first)[0], _finish(second)[0]]
        two = time.monotonic() - started
        calls = _calls(sims)
        per_account = [n for platform in PLATFORMS for n in calls.get(platform, {}).values()]
        results["two_processes"] = {
            "seconds": two,
            "summaries": summaries,
            "speedup": one / two,
            "refreshed_total": sum(s["refreshed"] for s in summaries),
            "calls_min": min(per_account),
            "calls_max": max(per_account),
            "accounts": len(per_account),
        }

        # Peak RSS against the tenant count (one connection each, no latency).
        results["rss_kib"] = {}
        for count in rss_counts:
            seed(count, 1, key)
            reset()
            summary, rss = _finish(_refresher(run_env))
            results["rss_kib"][str(count)] = {"peak_rss_kib": rss, "refreshed": summary["refreshed"]}
    low, high = (results["rss_kib"][str(c)]["peak_rss_kib"] for c in rss_counts)
    results["rss_ratio"] = high / low
    results["rss_counts"] = list(rss_counts)
    return results


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    one, two = results["one_process"], results["two_processes"]
    exactly_once = two["calls_min"] == two["calls_max"] == 1 and two["refreshed_total"] == results["tenants"]
    low, high = results["rss_counts"]
    return [
        (
            f"refresh: {results['tenants']}x3 time / sequential floor",
            f"{one['floor_ratio']:.3f}",
            "<= 0.05",
            one["floor_ratio"] <= 0.05,
        ),
        ("refresh: two processes, each tenant once", "yes" if exactly_once else "no", "yes", exactly_once),
        ("refresh: two processes / one process speed", f"{two['speedup']:.2f}", ">= 1.7", two["speedup"] >= 1.7),
        (
            f"refresh: peak RSS {high} / {low} tenants",
            f"{results['rss_ratio']:.2f}",
            "<= 1.2",
            results["rss_ratio"] <= 1.2,
        ),
    ]
