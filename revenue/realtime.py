"""The realtime revenue service: the leader's refresh and the API's read-through.

Read path for one tenant (DESIGN.md §7):
1. fresh entry → serve it (no lock, no platform call);
2. cooling down → the last good snapshot, marked stale, within the stale-if-error window
   (REVENUE_STALE_IF_ERROR_SECONDS past its expiry), else unavailable with the seconds
   left;
3. missing or expired → try the tenant's advisory lock without waiting. The leader
   re-reads the entry, fetches every source, writes the snapshot (or the cooldown) and
   only then releases the lock; followers block on the lock until that release (up to
   REVENUE_SINGLEFLIGHT_WAIT_SECONDS, which covers the leader's deadline), then read the
   entry once. A follower that still finds nothing fresh gets what step 2 gives, or the
   last good snapshot marked stale, or unavailable.

A source whose credential the platform refused is `reconnect_required` (revenue.sources):
not a failure, so a tenant whose only source is refused answers 200 with that state.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from datetime import datetime

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from connections.selectors import CredentialBatchUndecryptable, connection_list_active, credentials_one_by_one
from revenue import clock
from revenue.locks import advisory_key, lock_release, lock_release_after_failure, lock_wait_released
from revenue.observability import cooldown_entered, refresh_observed
from revenue.selectors import (
    CacheEntryState,
    RefreshInputs,
    cache_entry_get,
    refresh_inputs_read,
    tenant_with_entry_read,
)
from revenue.services import cache_entry_store_failure, cache_entry_store_snapshot
from revenue.snapshot import Figures, Snapshot, SourceState, basis_fields, day_window
from revenue.sources import SourceOutcome, retry_not_before, sources_fetch
from skeldir.memo import BoundedMemo
from skeldir.models import Tenant
from skeldir.tenancy import tenant_context

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = "revenue-refresh"


class RevenueUnavailable(Exception):
    """No snapshot can be served now; `retry_after` is in whole seconds (>= 1)."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = max(1, retry_after)


class TenantNotFound(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class RevenueRead:
    entry: CacheEntryState
    outcome: str  # hit | leader | follower | stale


@dataclasses.dataclass(frozen=True)
class RefreshResult:
    tenant_id: uuid.UUID
    outcome: str  # refreshed | partial | failed | locked | not_due | missing_tenant
    entry: CacheEntryState | None = None


def tenant_lock_key(tenant_id: uuid.UUID) -> int:
    return advisory_key(LOCK_NAMESPACE, tenant_id)


# Fresh entries this process has read, so a hit costs no database round trip. Bounded in
# number, and each is forgotten at its own expiry: nothing is served that the database
# would not serve as fresh at that moment (DESIGN.md §7, step 1).
_fresh_entries: BoundedMemo[CacheEntryState] = BoundedMemo(settings.REVENUE_MEMO_SIZE)


def _remember(tenant_id: uuid.UUID, entry: CacheEntryState) -> None:
    _fresh_entries.put(tenant_id, entry, deadline=entry.expires_at.timestamp())


@receiver(setting_changed)
def _reset_memo(*, setting: str, **kwargs: object) -> None:
    if setting == "REVENUE_MEMO_SIZE":
        _fresh_entries.clear()
        _fresh_entries.maxsize = settings.REVENUE_MEMO_SIZE


def revenue_get(tenant_id: uuid.UUID, *, correlation_id: str) -> RevenueRead:
    """The API's read-through. Raises RevenueUnavailable or TenantNotFound."""
    now = clock.now()
    remembered = _fresh_entries.get(tenant_id, now.timestamp())
    if remembered is not None:
        return RevenueRead(remembered, "hit")
    entry = cache_entry_get(tenant_id)
    if entry is not None and entry.is_fresh(now):
        _remember(tenant_id, entry)
        return RevenueRead(entry, "hit")
    if entry is not None and entry.is_cooling(now):
        return _cooling(entry, now)

    result = revenue_refresh(tenant_id, correlation_id=correlation_id)
    if result.outcome == "missing_tenant":
        raise TenantNotFound(str(tenant_id))
    if result.outcome != "locked":
        return _served(tenant_id, result.entry, clock.now(), "leader")

    # Follower: woken by the leader's release, not by polling; no transaction is open
    # while it waits (revenue.locks).
    released = lock_wait_released(tenant_lock_key(tenant_id), settings.REVENUE_SINGLEFLIGHT_WAIT_SECONDS)
    return _served(
        tenant_id,
        cache_entry_get(tenant_id),
        clock.now(),
        "follower",
        "refresh_incomplete" if released else "refresh_timeout",
    )


def _served(
    tenant_id: uuid.UUID,
    entry: CacheEntryState | None,
    now: datetime,
    outcome: str,
    otherwise: str = "refresh_incomplete",
) -> RevenueRead:
    """The entry a leader or follower ends with: fresh, or cooling (step 2), or the last
    good snapshot marked stale, or unavailable for the reason `otherwise`."""
    if entry is not None and entry.is_fresh(now):
        _remember(tenant_id, entry)
        return RevenueRead(entry, outcome)
    if entry is not None and entry.is_cooling(now):
        return _cooling(entry, now)
    return _stale_or(entry, now, RevenueUnavailable(otherwise, 1))


def _cooling(entry: CacheEntryState, now: datetime) -> RevenueRead:
    return _stale_or(entry, now, RevenueUnavailable("error_cooldown", entry.seconds_of_cooldown(now)))


def _stale_or(entry: CacheEntryState | None, now: datetime, unavailable: RevenueUnavailable) -> RevenueRead:
    """The last good snapshot, marked stale, while within the stale-if-error window;
    otherwise raise `unavailable`."""
    if entry is not None and entry.stale_servable(now):
        return RevenueRead(entry, "stale")
    raise unavailable


def revenue_refresh(
    tenant_id: uuid.UUID, *, correlation_id: str, ahead_seconds: float = 0, force: bool = False
) -> RefreshResult:
    """The leader path for one tenant, as the cron, the admin and the API's read-through
    run it: skip when another process holds the tenant's lock (never wait for it). The
    lock is tried by the refresh's read itself, in the same round trip."""
    key = tenant_lock_key(tenant_id)
    undecryptable = False
    started = time.monotonic()
    try:
        inputs = refresh_inputs_read(tenant_id, lock_key=key)
    except CredentialBatchUndecryptable:
        inputs, undecryptable = None, True  # the lock is held: credentials are decrypted after it
    except BaseException:
        lock_release_after_failure(key)  # the statement may have taken the lock before failing
        raise
    if inputs is None and not undecryptable:
        return RefreshResult(tenant_id, "locked")
    try:
        if inputs is None:
            inputs = _inputs_one_by_one(tenant_id)
        return _refresh_locked(
            tenant_id,
            inputs,
            started=started,
            correlation_id=correlation_id,
            ahead_seconds=ahead_seconds,
            force=force,
        )
    finally:
        lock_release(key)


def _inputs_one_by_one(tenant_id: uuid.UUID) -> RefreshInputs:
    """One ciphertext does not decrypt: read the credentials one by one to tell which."""
    with tenant_context(tenant_id):
        tenant, entry = tenant_with_entry_read(tenant_id)
        return RefreshInputs(tenant, entry, credentials_one_by_one(connection_list_active()))


def _refresh_locked(
    tenant_id: uuid.UUID,
    inputs: RefreshInputs,
    *,
    started: float,
    correlation_id: str,
    ahead_seconds: float,
    force: bool,
) -> RefreshResult:
    """The refresh once the lock is held and its inputs read (`started`: when that read
    began, so the reported duration includes it)."""
    now = clock.now()
    tenant, entry, connections = inputs.tenant, inputs.entry, inputs.connections
    if tenant is None:
        return RefreshResult(tenant_id, "missing_tenant")
    if not force and entry is not None and not entry.is_due(now, ahead_seconds=ahead_seconds):
        return RefreshResult(tenant_id, "not_due", entry)  # someone just refreshed it, or it cools down

    previous = _previous_snapshot(entry)
    window = day_window(now, tenant.timezone)
    logger.info(
        "refresh_started",
        extra={
            "event": "refresh_started",
            "tenant_id": str(tenant_id),
            "correlation_id": correlation_id,
            "platforms": sorted({conn.platform for conn, _ in connections}),
        },
    )
    outcomes = sources_fetch(
        tenant_id=tenant_id,
        connections=connections,
        previous={s.connection_id: s for s in previous.sources} if previous else {},
        window=window,
        correlation_id=correlation_id,
        now=now,
    )
    finished = clock.now()
    failures = [o for o in outcomes if o.counts_as_failure]
    succeeded = [o for o in outcomes if o.ok]
    summary = _failure_summary(outcomes)

    # A cache entry is derived data: if the server crashed in the moment before its WAL
    # reached disk, the next refresh rebuilds it, so the commit does not wait for the flush.
    if failures and not succeeded:
        cooldown = max([settings.REVENUE_ERROR_COOLDOWN_SECONDS] + [o.retry_after or 0 for o in failures])
        # The last good figures stay, now under each source's new state (what a stale
        # answer shows), with the last good refresh's window and as-of.
        states = (
            dataclasses.replace(previous, sources=_snapshot(tenant, window, outcomes, previous, finished).sources)
            if previous
            else None
        )
        stored = cache_entry_store_failure(
            tenant_id=tenant_id,
            now=finished,
            cooldown_seconds=cooldown,
            error_message=summary,
            snapshot=states,
            durable=False,
        )
        outcome = "failed"
    else:
        snapshot = _snapshot(tenant, window, outcomes, previous, finished)
        stored = cache_entry_store_snapshot(
            tenant_id=tenant_id, snapshot=snapshot, now=finished, error_message=summary, durable=False
        )
        outcome = "partial" if summary else "refreshed"
    elapsed = time.monotonic() - started
    if outcome == "failed":
        cooldown_entered(
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            until=stored.error_cooldown_until,
            seconds=max(1, cooldown),
        )
    refresh_observed(outcome=outcome, duration_seconds=elapsed)
    logger.info(
        "refresh_finished",
        extra={
            "event": "refresh_finished",
            "tenant_id": str(tenant_id),
            "correlation_id": correlation_id,
            "outcome": outcome,
            "duration_ms": round(elapsed * 1000, 1),
        },
    )
    return RefreshResult(tenant_id, outcome, stored)


def _previous_snapshot(entry: CacheEntryState | None) -> Snapshot | None:
    if entry is None or entry.payload is None:
        return None
    try:
        return Snapshot.from_payload(entry.payload)
    except (KeyError, TypeError, ValueError):
        logger.warning("cache_payload_unreadable", extra={"event": "cache_payload_unreadable"})
        return None


def _snapshot(
    tenant: Tenant,
    window: tuple[datetime, datetime],
    outcomes: list[SourceOutcome],
    previous: Snapshot | None,
    finished: datetime,
) -> Snapshot:
    sources = []
    for outcome in outcomes:
        if outcome.carried is not None:
            sources.append(outcome.carried)
            continue
        earlier = previous.source(outcome.connection_id) if previous else None
        if outcome.ok and outcome.result is not None:
            figures: Figures | None = Figures(
                amounts=dict(outcome.result.amounts),
                count=outcome.result.count,
                as_of=outcome.result.as_of,
                window_start=window[0],
                basis=basis_fields(outcome.result.basis),
            )
        else:
            figures = earlier.figures if earlier else None  # last good figures, their own as-of
        sources.append(
            SourceState(
                connection_id=outcome.connection_id,
                platform=outcome.platform,
                account=outcome.account,
                kind=outcome.kind,
                status=outcome.status,
                figures=figures,
                error=outcome.error,
                retry_not_before=retry_not_before(outcome, finished),
            )
        )
    return Snapshot(
        tenant_id=tenant.id,
        interval="day",
        window_start=window[0],
        window_end=window[1],
        currency=tenant.reporting_currency,
        sources=tuple(sources),
        data_as_of=finished,
    )


def _failure_summary(outcomes: list[SourceOutcome]) -> str | None:
    """Secret-free, one line per failed source (adapters' messages are written to be)."""
    lines = [f"{o.platform} {o.account}: {o.status}: {o.error or ''}".rstrip(": ") for o in outcomes if not o.ok]
    return "; ".join(lines) or None
