"""Serving benchmark: cache hits of GET /api/v1/revenue/realtime (200 and 304) against
two floors measured in the same run on the same server — a constant JSON Django view and
one with a `SELECT 1` round trip — with wrk at 16 and 64 connections, tokens and
correlation ids rotating across 1,000 tenants with fresh entries."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.harness import ROOT, gunicorn, store_snapshot

TENANTS = 1000
WRK_THREADS = 2


def seed(tenants: int) -> list[tuple[str, str]]:
    """Tenants with a fresh entry each (one Stripe source); returns (token, etag) rows."""
    from django.utils import timezone

    from revenue.snapshot import Figures, SourceState, day_window
    from skeldir.tenancy import tenant_create
    from skeldir.tokens import token_issue

    rows = []
    now = timezone.now()
    start, _ = day_window(now, "UTC")
    for n in range(tenants):
        tenant = tenant_create(name=f"bench-{n:05d}")
        source = SourceState(
            str(uuid.uuid4()), "stripe", f"acct_{n}", "sales", "ok", Figures({"USD": 10_000 + n}, 3, now, start)
        )
        etag = store_snapshot(tenant.id, now, (source,))
        rows.append((token_issue(tenant_id=tenant.id, ttl_seconds=86_400), etag))
    return rows


def wrk(url: str, path: str, connections: int, seconds: int, tokens: Path, *, if_none_match: bool = False) -> dict:
    env = {**os.environ, "BENCH_TOKENS": str(tokens), "BENCH_IF_NONE_MATCH": "1" if if_none_match else "0"}
    result = subprocess.run(
        [
            "wrk",
            "-t",
            str(WRK_THREADS),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "rotate.lua"),
            f"{url}{path}",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    match = re.search(r"BENCH_JSON (\{.*\})", result.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    data = json.loads(match.group(1))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


SCENARIOS = [
    ("floor: constant JSON", "/bench/constant", False),
    ("floor: SELECT 1", "/bench/select1", False),
    ("v1 cache hit (200)", "/api/v1/revenue/realtime", False),
    ("v1 not modified (304)", "/api/v1/revenue/realtime", True),
]


def run(env: dict[str, str], *, quick: bool) -> dict[str, Any]:
    """Scenarios interleaved in rounds (A B C D A B C D ...) and summarised by their median,
    so that a noisy neighbour slows every scenario alike instead of one of them."""
    seconds, rounds = (2, 3) if quick else (10, 5)
    rows = seed(TENANTS)
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
        handle.writelines(f"{token}\t{etag}\n" for token, etag in rows)
        tokens = Path(handle.name)
    results: dict[str, Any] = {"tenants": TENANTS, "seconds": seconds, "rounds": rounds, "runs": {}, "raw": {}}
    # The server is the README's gunicorn configuration; entries stay fresh for the run.
    with gunicorn(env) as url:
        # Warm-up: workers, connections, imports, and every tenant's snapshot and token in
        # every worker's memos (the steady state of a dashboard fleet; the cold path is the
        # stampede benchmark's business).
        wrk(url, "/bench/constant", 16, 2, tokens)
        wrk(url, "/api/v1/revenue/realtime", 16, 6, tokens)
        for connections in (16, 64):
            for _ in range(rounds):
                for name, path, if_none_match in SCENARIOS:
                    sample = wrk(url, path, connections, seconds, tokens, if_none_match=if_none_match)
                    results["raw"].setdefault(f"{name} @{connections}", []).append(sample)
    for key, samples in results["raw"].items():
        results["runs"][key] = {
            field: statistics.median(sample[field] for sample in samples)
            for field in ("rps", "p50_us", "p99_us", "non2xx", "errors")
        }
    tokens.unlink()
    return results


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, value, target, met). Each ratio is taken within a round — a scenario against
    the floor run just before it, p99 against the p50 of the same wrk run — and the figure
    is the median of the rounds' ratios (a ratio of medians would pair one round's p99
    with another round's p50)."""
    raw = results["raw"]

    def per_round(ratio: Any, key: str, base: str | None = None) -> float:
        bases = raw[base] if base else raw[key]
        return statistics.median(ratio(sample, ref) for sample, ref in zip(raw[key], bases, strict=True))

    rows = []
    for connections in (16, 64):
        for name in ("floor: SELECT 1", "v1 cache hit (200)", "v1 not modified (304)"):
            ratio = per_round(
                lambda sample, floor: sample["rps"] / floor["rps"],
                f"{name} @{connections}",
                f"floor: constant JSON @{connections}",
            )
            target = 0.6 if name.startswith("v1") else None
            rows.append(
                (
                    f"{name} / constant floor @{connections}",
                    f"{ratio:.2f}",
                    f">= {target}" if target else "(floor)",
                    ratio >= target if target else True,
                )
            )

    def tail(sample: dict[str, Any], _: object) -> float:
        return sample["p99_us"] / max(1, sample["p50_us"])

    hit_tail = per_round(tail, "v1 cache hit (200) @64")
    rows.append(("v1 cache hit p99 / p50 @64", f"{hit_tail:.1f}", "<= 5", hit_tail <= 5))
    # The server's own tail, the same way: what the machine and gunicorn add to any request.
    floor_tail = per_round(tail, "floor: constant JSON @64")
    rows.append(("floor: constant JSON p99 / p50 @64", f"{floor_tail:.1f}", "(floor)", True))
    return rows
