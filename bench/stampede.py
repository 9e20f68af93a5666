"""Stampede benchmark: 200 concurrent requests for a tenant whose entry has expired and
whose two sources answer after 200 ms (the simulator's latency switch). Reports the
platform calls per source (target: exactly 1) and the drain time — from the leader's
finish to the last follower's answer — against the time the same server takes to answer
200 concurrent cache hits on a fresh entry, measured in the same run."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import requests

from bench.harness import gunicorn, simulator, simulator_env, store_snapshot

CALLERS = 200
LATENCY_MS = 200
SOURCES = [
    ("stripe", "acct_stampede", {"connect": True}, "sk_test_stampede"),
    ("shopify", "stampede.myshopify.com", None, "shpat_stampede"),
]


def _tenant() -> tuple[uuid.UUID, str]:
    """A tenant with two simulated sources and an entry that expired a second ago."""
    from django.utils import timezone

    from connections.services import connection_upsert, credential_upsert
    from skeldir.tenancy import tenant_context, tenant_create
    from skeldir.tokens import token_issue

    tenant = tenant_create(name=f"stampede-{uuid.uuid4().hex[:6]}")
    with tenant_context(tenant.id):
        for platform, account, metadata, token in SOURCES:
            row = connection_upsert(
                tenant_id=tenant.id, platform=platform, platform_account_id=account, metadata=metadata
            )
            credential_upsert(connection_row=row, access_token=token)
    store_snapshot(tenant.id, timezone.now() - timedelta(hours=2))  # expired: 2 h old with a 1 h TTL
    return tenant.id, token_issue(tenant_id=tenant.id, ttl_seconds=3600)


def _burst(url: str, token: str) -> tuple[list[float], list[dict[str, Any]]]:
    """CALLERS requests released at once; (finish times, bodies)."""
    barrier = threading.Barrier(CALLERS)
    finished: list[float] = [0.0] * CALLERS
    bodies: list[dict[str, Any]] = [{}] * CALLERS

    def call(i: int) -> None:
        session = requests.Session()
        barrier.wait()
        response = session.get(
            f"{url}/api/v1/revenue/realtime",
            timeout=60,
            headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())},
        )
        finished[i] = time.time()
        bodies[i] = {"status": response.status_code, **(response.json() if response.status_code == 200 else {})}

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return finished, bodies


def run(env: dict[str, str], *, quick: bool) -> dict[str, Any]:
    from datetime import datetime

    trials = 2 if quick else 5
    results: dict[str, Any] = {"callers": CALLERS, "latency_ms": LATENCY_MS, "trials": []}
    with simulator(env) as sim, gunicorn({**env, **simulator_env(sim)}) as url:
        for _ in range(trials):
            requests.post(f"{sim}/_sandbox/reset", timeout=5)
            for platform, account, *_ in SOURCES:
                key = account if platform != "stripe" else account
                requests.post(
                    f"{sim}/_sandbox/faults",
                    timeout=5,
                    json={"platform": platform, "account": key, "fault": "latency", "latency_ms": LATENCY_MS},
                )
            tenant_id, token = _tenant()
            started = time.time()
            finished, bodies = _burst(url, token)
            statuses = sorted({b["status"] for b in bodies})
            as_of = {b.get("data_as_of") for b in bodies}
            leader_done = datetime.fromisoformat(next(iter(as_of)).replace("Z", "+00:00")).timestamp()
            drain = max(finished) - leader_done
            hit_start = time.time()
            hit_finished, _ = _burst(url, token)
            hits = max(hit_finished) - hit_start
            calls = requests.get(f"{sim}/_sandbox/calls", timeout=5).json()
            results["trials"].append(
                {
                    "statuses": statuses,
                    "distinct_data_as_of": len(as_of),
                    "calls": {p: calls.get(p, {}) for p, *_ in SOURCES},
                    "stampede_seconds": max(finished) - started,
                    "drain_seconds": drain,
                    "hits_seconds": hits,
                    "ratio": drain / hits,
                }
            )
    trials_ = results["trials"]
    results["median_ratio"] = statistics.median(t["ratio"] for t in trials_)
    results["max_calls_per_source"] = max(n for t in trials_ for per in t["calls"].values() for n in per.values())
    results["min_calls_per_source"] = min(n for t in trials_ for per in t["calls"].values() for n in per.values())
    return results


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    calls = f"{results['min_calls_per_source']}..{results['max_calls_per_source']}"
    exactly_one = results["min_calls_per_source"] == results["max_calls_per_source"] == 1
    all_200 = all(t["statuses"] == [200] and t["distinct_data_as_of"] == 1 for t in results["trials"])
    return [
        ("stampede: platform calls per source", calls, "exactly 1", exactly_one),
        ("stampede: all 200 with one data_as_of", "yes" if all_200 else "no", "yes", all_200),
        (
            "stampede: drain / 200 concurrent hits",
            f"{results['median_ratio']:.2f}",
            "<= 1.5",
            results["median_ratio"] <= 1.5,
        ),
    ]
