"""What the revenue engine reports to logs and metrics (DESIGN.md §9), in one place so the
views and the refresh stay readable: one call per fact.

Vocabulary of a read (`read_observed`): the read-through's outcome (hit, leader,
follower, stale) or why nothing could be served (error_cooldown, refresh_timeout,
refresh_incomplete). For the metrics, every read counts once in
`skeldir_revenue_cache_lookups_total{result}` by what it found — hit, miss, stale,
cooldown — and every miss once more in `skeldir_revenue_cache_misses_total{role}` by who
refreshed — leader or follower.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from skeldir import metrics
from skeldir.observability import note_outcome

logger = logging.getLogger("revenue")

# read outcome -> (lookup result, miss role or None)
_READS: dict[str, tuple[str, str | None]] = {
    "hit": ("hit", None),
    "leader": ("miss", "leader"),
    "follower": ("miss", "follower"),
    "stale": ("stale", None),
    "error_cooldown": ("cooldown", None),
    "refresh_timeout": ("miss", "follower"),
    "refresh_incomplete": ("miss", None),
}


def read_observed(request: Any, outcome: str) -> None:
    """An API read-through ended with `outcome` (for the request log and the cache metrics)."""
    note_outcome(request, "cooldown" if outcome == "error_cooldown" else outcome)
    result, role = _READS.get(outcome, ("miss", None))
    metrics.CACHE_LOOKUPS.labels(result).inc()
    if role:
        metrics.CACHE_MISSES.labels(role).inc()


def source_observed(
    *,
    tenant_id: uuid.UUID,
    correlation_id: str,
    platform: str,
    account: str,
    status: str,
    duration_seconds: float | None,
    error: str | None = None,
) -> None:
    """One source's fetch within a refresh finished (ok or a failure kind)."""
    if duration_seconds is not None:
        metrics.PLATFORM_FETCH_DURATION.labels(platform).observe(duration_seconds)
    if status != "ok":
        metrics.PLATFORM_ERRORS.labels(platform, status).inc()
    logger.log(
        logging.INFO if status == "ok" else logging.WARNING,
        "source_fetched",
        extra={
            "event": "source_fetched",
            "tenant_id": str(tenant_id),
            "correlation_id": correlation_id,
            "platform": platform,
            "account": account,
            "outcome": status,
            "duration_ms": round(duration_seconds * 1000, 1) if duration_seconds is not None else None,
            "error": error,
        },
    )


def refresh_observed(*, outcome: str, duration_seconds: float) -> None:
    """A tenant refresh finished (the log line is the refresh's own `refresh_finished`)."""
    metrics.REFRESHES.labels(outcome).inc()
    metrics.REFRESH_DURATION.labels(outcome).observe(duration_seconds)


def cooldown_entered(*, tenant_id: uuid.UUID, correlation_id: str, until: datetime, seconds: int) -> None:
    metrics.COOLDOWNS_ENTERED.inc()
    logger.warning(
        "cooldown_entered",
        extra={
            "event": "cooldown_entered",
            "tenant_id": str(tenant_id),
            "correlation_id": correlation_id,
            "outcome": "cooling_down",
            "cooldown_seconds": seconds,
            "cooldown_until": until.isoformat(),
        },
    )


def credential_observed(
    *, tenant_id: uuid.UUID, correlation_id: str, platform: str, outcome: str, kind: str | None = None
) -> None:
    """A token refresh: refreshed, failed (transient, `kind`) or revoked."""
    metrics.CREDENTIAL_REFRESHES.labels(platform, outcome).inc()
    logger.log(
        logging.INFO if outcome == "refreshed" else logging.WARNING,
        f"credential_{outcome}",
        extra={
            "event": f"credential_{outcome}",
            "tenant_id": str(tenant_id),
            "correlation_id": correlation_id,
            "platform": platform,
            "outcome": outcome,
            "error_kind": kind,
        },
    )


def credential_refused_observed(
    *, tenant_id: uuid.UUID, correlation_id: str, platform: str, account: str, outcome: str, marked: bool
) -> None:
    """A platform refused a credential during a fetch: `outcome` is what the credential
    became (revoked, or degraded for a refused permission); `marked` is false when the
    credential had changed meanwhile and was left alone."""
    logger.warning(
        "credential_refused",
        extra={
            "event": "credential_refused",
            "tenant_id": str(tenant_id),
            "correlation_id": correlation_id,
            "platform": platform,
            "account": account,
            "outcome": outcome,
            "marked": marked,
        },
    )
