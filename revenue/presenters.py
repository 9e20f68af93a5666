"""Response bodies of the two realtime endpoints, built from a cached snapshot.

Money stays in integer minor units inside the service and is converted to a number of
major units only here, at the edge, with Decimal (never through float arithmetic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from providers.money import currency_exponent
from revenue.snapshot import Snapshot, SourceState

UPGRADE_NOTICE = (
    "Revenue is reported by the connected platforms and not yet reconciled with payments; "
    "use GET /api/v1/revenue/realtime."
)


def major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


def rfc3339(value: datetime) -> str:
    """UTC with a Z, to the microsecond when there is one."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amounts(amounts: dict[str, int] | Any) -> dict[str, Decimal]:
    return {currency: major(minor, currency) for currency, minor in sorted(amounts.items())}


def _source(source: SourceState) -> dict[str, Any]:
    figures = source.figures
    return {
        "platform": source.platform,
        "account": source.account,
        "kind": source.kind,
        "status": source.status,
        "stale": not source.ok,
        "amounts": _amounts(figures.amounts) if figures else {},
        "count": figures.count if figures else 0,
        "as_of": rfc3339(figures.as_of) if figures else None,
        "basis": dict(figures.basis) if figures and figures.basis else None,
        "error": source.error,
    }


def realtime_v1(snapshot: Snapshot, *, stale: bool = False) -> dict[str, Any]:
    """`stale`: the snapshot is served past its expiry because refreshes fail (each
    source's `status`, `stale` and `as_of` say which and since when)."""
    currency = snapshot.currency
    return {
        "tenant_id": str(snapshot.tenant_id),
        "interval": snapshot.interval,
        "currency": currency,
        "revenue_total": major(snapshot.revenue_total, currency),
        "verified": False,
        "data_as_of": rfc3339(snapshot.data_as_of),
        "sources": snapshot.platforms,
        # Additive fields.
        "revenue_total_minor": snapshot.revenue_total,
        "event_count": snapshot.event_count,
        "window": {"start": snapshot.window_start.isoformat(), "end": snapshot.window_end.isoformat()},
        "claimed_revenue": {
            "total": major(snapshot.claimed_total, currency),
            "total_minor": snapshot.claimed_total,
            "by_currency": _amounts(snapshot.claimed_by_currency),
        },
        "sales_by_currency": _amounts(snapshot.sales_by_currency),
        "breakdown": [_source(source) for source in snapshot.sources],
        "stale_sources": sorted({source.platform for source in snapshot.stale_sources}),
        "stale": stale,
    }


def realtime_legacy(snapshot: Snapshot, now: datetime, *, stale: bool = False) -> dict[str, Any]:
    """The replaced system's shape. `total_revenue` is in the tenant's reporting currency
    (`currency`, added: the old contract assumed USD), sales only, major units."""
    return {
        "total_revenue": major(snapshot.revenue_total, snapshot.currency),
        "event_count": snapshot.event_count,
        "last_updated": rfc3339(snapshot.data_as_of),
        "data_freshness_seconds": max(0, int((now - snapshot.data_as_of).total_seconds())),
        "verified": False,
        "tenant_id": str(snapshot.tenant_id),
        "confidence_score": None,
        "upgrade_notice": UPGRADE_NOTICE,
        # Additive fields.
        "currency": snapshot.currency,
        "stale": stale,
    }


def snapshot_summary_lines(snapshot: Snapshot) -> list[str]:
    """The snapshot as a person reads it in a terminal: the totals, then one line per source
    with its figure and what it means (its basis: measure, whose day, attribution, lag)."""
    currency = snapshot.currency
    lines = [
        f"Revenue today: {major(snapshot.revenue_total, currency)} {currency} from sales"
        f" ({snapshot.event_count} records); ad platforms claim {major(snapshot.claimed_total, currency)} {currency}"
        f" (not added). Data as of {rfc3339(snapshot.data_as_of)}.",
    ]
    for source in snapshot.sources:
        figures = source.figures
        amounts = ", ".join(f"{value} {c}" for c, value in _amounts(figures.amounts).items()) if figures else ""
        line = f"  {source.platform:<12} {source.account:<34} {source.kind:<7} {amounts or '0'}"
        if not source.ok:
            line += f"  [{source.status}]"
        basis = figures.basis if figures else None
        if basis:
            line += f"\n{'':<15}{basis['measure']}; day {basis['date']} in {basis['time_zone']}"
            if basis.get("attribution"):
                line += f"; attribution {basis['attribution']}"
            if basis.get("complete_until"):
                line += f"; complete until {basis['complete_until']}"
        lines.append(line)
    return lines
