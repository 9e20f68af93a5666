"""Writes of the revenue cache entry. The refresh's two writes are one statement each and
set the tenant themselves; the others run inside the caller's `tenant_context`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections
from psycopg.types.json import Jsonb

from revenue.models import REALTIME_CACHE_KEY
from revenue.selectors import CacheEntryState, entry_state
from revenue.snapshot import Snapshot, payload_etag
from skeldir.tenancy import savepoint_if_nested

MAX_ERROR_MESSAGE = 2000


logger = logging.getLogger(__name__)


def cache_entry_store_snapshot(
    *, tenant_id: uuid.UUID, snapshot: Snapshot, now: datetime, error_message: str | None = None, durable: bool = True
) -> CacheEntryState:
    """A successful (or partly successful) refresh: new payload, fresh for the TTL,
    cooldown cleared. `error_message` describes failed sources of a partial refresh.
    Returns the entry as stored."""
    payload = snapshot.to_payload()
    return _stored(
        "SELECT * FROM revenue_entry_store_snapshot(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            tenant_id,
            REALTIME_CACHE_KEY,
            Jsonb(payload),
            snapshot.data_as_of,
            snapshot.data_as_of + timedelta(seconds=settings.REVENUE_CACHE_TTL_SECONDS),
            now if error_message else None,
            _truncate(error_message),
            payload_etag(payload),
            now,
        ],
        durable=durable,
    )


def cache_entry_store_failure(
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    cooldown_seconds: int,
    error_message: str,
    snapshot: Snapshot | None = None,
    durable: bool = True,
) -> CacheEntryState:
    """A refresh where nothing succeeded: the entry cools down; its `data_as_of` and
    `expires_at` stay those of the last good refresh. With `snapshot` (the last good
    figures under each source's new state: what a stale answer shows) an existing payload
    is replaced by it; without one, or with no payload yet, the payload stays as it was.
    Returns the entry as stored (its `error_cooldown_until` is the end of the cooldown)."""
    until = now + timedelta(seconds=max(1, cooldown_seconds))
    payload = snapshot.to_payload() if snapshot is not None else None
    return _stored(
        "SELECT * FROM revenue_entry_store_failure(%s, %s, %s, %s, %s, %s, %s, %s)",
        [
            tenant_id,
            REALTIME_CACHE_KEY,
            now,
            until,
            _truncate(error_message),
            Jsonb(payload) if payload is not None else None,
            payload_etag(payload) if payload is not None else None,
        ],
        durable=durable,
    )


def _stored(sql: str, params: list[object], *, durable: bool) -> CacheEntryState:
    """Run one of the entry's write functions (revenue/migrations/0003): one statement that
    sets the tenant itself. `durable=False` lets the commit return before its WAL reaches
    disk — a cache entry is derived data the next refresh rebuilds — but only where this
    statement is its own transaction: inside a caller's, the commit and its durability
    are the caller's."""
    async_commit = not durable and not connection.in_atomic_block
    with savepoint_if_nested(), connection.cursor() as cursor:
        cursor.execute(sql, [*params, async_commit])
        return entry_state(cursor.fetchone())


def cache_entry_clear_cooldown(*, tenant_id: uuid.UUID) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE revenue_cache_entries SET error_cooldown_until = NULL, updated_at = now() "
            "WHERE tenant_id = %s AND cache_key = %s AND error_cooldown_until IS NOT NULL",
            [tenant_id, REALTIME_CACHE_KEY],
        )
        cleared = cursor.rowcount > 0
    if cleared:
        logger.info("cooldown_cleared", extra={"event": "cooldown_cleared", "tenant_id": str(tenant_id)})
    return cleared


def cache_entries_clear_cooldown(*, tenant_ids: Iterable[uuid.UUID], using: str, actor: str) -> list[uuid.UUID]:
    """An operator ends the cooldown of several tenants' entries at once, through `using`
    (the admin's operator alias: the runtime role would see none of them). The next read
    or cron pass refreshes them. Returns the tenants whose entry had a cooldown."""
    ids = list(tenant_ids)
    if not ids:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE revenue_cache_entries SET error_cooldown_until = NULL, updated_at = now() "
            "WHERE tenant_id = ANY(%s) AND cache_key = %s AND error_cooldown_until IS NOT NULL RETURNING tenant_id",
            [ids, REALTIME_CACHE_KEY],
        )
        cleared = [row[0] for row in cursor.fetchall()]
    for tenant_id in cleared:
        logger.info(
            "cooldown_cleared",
            extra={"event": "cooldown_cleared", "tenant_id": str(tenant_id), "actor": actor, "outcome": "cleared"},
        )
    return cleared


def _truncate(message: str | None) -> str | None:
    if message is None:
        return None
    return message if len(message) <= MAX_ERROR_MESSAGE else message[: MAX_ERROR_MESSAGE - 1] + "…"
