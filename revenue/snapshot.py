"""The normalised revenue snapshot stored in `revenue_cache_entries.payload`.

One snapshot per tenant and window ("day": since midnight in the tenant's zone). It
keeps every source apart (platform, account, sales or claimed, amounts per currency in
minor units); the totals are derived, never stored separately from what they sum:

- `revenue_total`: sales sources only, in the tenant's reporting currency, counting a
  source's figures only when they belong to this window;
- `claimed_total`: what the ad platforms claim, beside it, never added to it;
- amounts in other currencies stay per currency (`sales_by_currency`), never converted.

A failed source keeps its last good figures (with their own as-of time, marked stale).
Serialisation round-trips exactly, and the strong ETag is a hash of the canonical JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from providers.base import Basis

PAYLOAD_VERSION = 1
STATUS_OK = "ok"
STATUS_RECONNECT = "reconnect_required"  # the credential is revoked or missing
STATUS_CREDENTIAL = "credential_unavailable"  # stored but cannot be decrypted (key ring)
SALES = "sales"
CLAIMED = "claimed"


def day_window(now: datetime, tz_name: str) -> tuple[datetime, datetime]:
    """Midnight of `now`'s day in the tenant's zone, and `now`, both in that zone."""
    local_now = now.astimezone(ZoneInfo(tz_name))
    return datetime.combine(local_now.date(), time.min, tzinfo=local_now.tzinfo), local_now


def _iso(value: datetime) -> str:
    return value.isoformat()


def _parse_dt(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive datetime in snapshot: {value!r}")
    return parsed


@dataclasses.dataclass(frozen=True)
class Figures:
    """One fetch's result for one source. `basis` is what the figure means, as the adapter
    stated it (`providers.base.Basis` in its JSON form: strings and nulls); snapshots
    written before it existed have none."""

    amounts: Mapping[str, int]
    count: int
    as_of: datetime
    window_start: datetime
    basis: Mapping[str, str | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "amounts": dict(sorted(self.amounts.items())),
            "count": self.count,
            "as_of": _iso(self.as_of),
            "window_start": _iso(self.window_start),
            "basis": dict(sorted(self.basis.items())) if self.basis is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figures:
        basis = data.get("basis")
        return cls(
            amounts={str(k): int(v) for k, v in data["amounts"].items()},
            count=int(data["count"]),
            as_of=_parse_dt(data["as_of"]),
            window_start=_parse_dt(data["window_start"]),
            basis={str(k): None if v is None else str(v) for k, v in basis.items()} if basis else None,
        )


def basis_fields(basis: Basis | None) -> dict[str, str | None] | None:
    """An adapter's `Basis` as the snapshot stores it (ISO 8601 strings for the date and
    the completeness bound)."""
    if basis is None:
        return None
    return {
        "measure": basis.measure,
        "time_zone": basis.time_zone,
        "date": basis.date.isoformat(),
        "attribution": basis.attribution,
        "complete_until": _iso(basis.complete_until) if basis.complete_until else None,
    }


@dataclasses.dataclass(frozen=True)
class SourceState:
    connection_id: str
    platform: str
    account: str
    kind: str  # SALES or CLAIMED
    status: str  # STATUS_OK, an error kind of providers.errors, STATUS_RECONNECT, STATUS_CREDENTIAL
    figures: Figures | None  # this fetch's (ok) or the last good ones (failed), if any
    error: str | None = None  # sanitised, secret-free
    retry_not_before: datetime | None = None  # the platform asked us to wait

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "platform": self.platform,
            "account": self.account,
            "kind": self.kind,
            "status": self.status,
            "figures": self.figures.to_dict() if self.figures else None,
            "error": self.error,
            "retry_not_before": _iso(self.retry_not_before) if self.retry_not_before else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceState:
        return cls(
            connection_id=str(data["connection_id"]),
            platform=str(data["platform"]),
            account=str(data["account"]),
            kind=str(data["kind"]),
            status=str(data["status"]),
            figures=Figures.from_dict(data["figures"]) if data.get("figures") else None,
            error=data.get("error"),
            retry_not_before=_parse_dt(data["retry_not_before"]) if data.get("retry_not_before") else None,
        )


@dataclasses.dataclass(frozen=True)
class Snapshot:
    tenant_id: uuid.UUID
    interval: str
    window_start: datetime
    window_end: datetime
    currency: str
    sources: tuple[SourceState, ...]
    data_as_of: datetime
    verified: bool = False  # always false until payment reconciliation exists

    # --- derived figures ----------------------------------------------------------------
    def _in_window(self, kind: str) -> Iterable[Figures]:
        for source in self.sources:
            if source.kind == kind and source.figures and source.figures.window_start == self.window_start:
                yield source.figures

    def _by_currency(self, kind: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for figures in self._in_window(kind):
            for currency, minor in figures.amounts.items():
                totals[currency] = totals.get(currency, 0) + minor
        return dict(sorted(totals.items()))

    # Derived once per instance (the dataclass is frozen, so they cannot go stale).
    @functools.cached_property
    def sales_by_currency(self) -> dict[str, int]:
        return self._by_currency(SALES)

    @functools.cached_property
    def claimed_by_currency(self) -> dict[str, int]:
        return self._by_currency(CLAIMED)

    @property
    def revenue_total(self) -> int:
        """Minor units of the reporting currency, sales sources only."""
        return self.sales_by_currency.get(self.currency, 0)

    @property
    def claimed_total(self) -> int:
        return self.claimed_by_currency.get(self.currency, 0)

    @property
    def event_count(self) -> int:
        """Orders and charges counted by the sales sources."""
        return sum(figures.count for figures in self._in_window(SALES))

    @property
    def platforms(self) -> list[str]:
        return sorted({source.platform for source in self.sources})

    @property
    def stale_sources(self) -> list[SourceState]:
        return [source for source in self.sources if not source.ok]

    def source(self, connection_id: str) -> SourceState | None:
        return next((s for s in self.sources if s.connection_id == connection_id), None)

    # --- serialisation ------------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        return {
            "version": PAYLOAD_VERSION,
            "tenant_id": str(self.tenant_id),
            "interval": self.interval,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "currency": self.currency,
            "sources": [source.to_dict() for source in self.sources],
            "data_as_of": _iso(self.data_as_of),
            "verified": self.verified,
            # Derived, written for readers of the row (operators, SQL); recomputed on load.
            "revenue_total": self.revenue_total,
            "claimed_total": self.claimed_total,
            "sales_by_currency": self.sales_by_currency,
            "claimed_by_currency": self.claimed_by_currency,
            "event_count": self.event_count,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Snapshot:
        return cls(
            tenant_id=uuid.UUID(payload["tenant_id"]),
            interval=payload["interval"],
            window_start=_parse_dt(payload["window_start"]),
            window_end=_parse_dt(payload["window_end"]),
            currency=payload["currency"],
            sources=tuple(SourceState.from_dict(s) for s in payload["sources"]),
            data_as_of=_parse_dt(payload["data_as_of"]),
            verified=bool(payload.get("verified", False)),
        )

    def etag(self) -> str:
        return payload_etag(self.to_payload())


def payload_etag(payload: Mapping[str, Any]) -> str:
    """A strong ETag: the SHA-256 of the canonical JSON of the payload."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest() + '"'


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
