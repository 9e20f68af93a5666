"""Writes of the revenue cache entry. Call inside the tenant's `tenant_context`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections
from psycopg.types.json import Jsonb

from revenue.models import REALTIME_CACHE_KEY
from revenue.selectors import ENTRY_COLUMNS, CacheEntryState, entry_state
from revenue.snapshot import Snapshot, payload_etag

MAX_ERROR_MESSAGE = 2000


logger = logging.getLogger(__name__)


def cache_entry_store_snapshot(
    *, tenant_id: uuid.UUID, snapshot: Snapshot, now: datetime, error_message: str | None = None
) -> CacheEntryState:
    """A successful (or partly successful) refresh: new payload, fresh for the TTL,
    cooldown cleared. `error_message` describes failed sources of a partial refresh.
    Returns the entry as stored."""
    payload = snapshot.to_payload()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO revenue_cache_entries AS e (
                tenant_id, cache_key, payload, data_as_of, expires_at, error_cooldown_until,
                last_error_at, last_error_message, etag, created_at, updated_at
            ) VALUES (%(tenant)s, %(key)s, %(payload)s, %(as_of)s, %(expires)s, NULL,
                      %(error_at)s, %(error)s, %(etag)s, %(now)s, %(now)s)
            ON CONFLICT (tenant_id, cache_key) DO UPDATE SET
                payload = EXCLUDED.payload, data_as_of = EXCLUDED.data_as_of, expires_at = EXCLUDED.expires_at,
                error_cooldown_until = NULL,
                last_error_at = COALESCE(EXCLUDED.last_error_at, e.last_error_at),
                last_error_message = EXCLUDED.last_error_message,
                etag = EXCLUDED.etag, updated_at = EXCLUDED.updated_at
            RETURNING {ENTRY_COLUMNS}
            """,
            {
                "tenant": tenant_id,
                "key": REALTIME_CACHE_KEY,
                "payload": Jsonb(payload),
                "as_of": snapshot.data_as_of,
                "expires": snapshot.data_as_of + timedelta(seconds=settings.REVENUE_CACHE_TTL_SECONDS),
                "error_at": now if error_message else None,
                "error": _truncate(error_message),
                "etag": payload_etag(payload),
                "now": now,
            },
        )
        return entry_state(cursor.fetchone())


def cache_entry_store_failure(
    *, tenant_id: uuid.UUID, now: datetime, cooldown_seconds: int, error_message: str
) -> CacheEntryState:
    """A refresh where nothing succeeded: the last good payload and its `data_as_of`
    stay as they were; the entry cools down. Returns the entry as stored (its
    `error_cooldown_until` is the end of the cooldown)."""
    until = now + timedelta(seconds=max(1, cooldown_seconds))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO revenue_cache_entries AS e (
                tenant_id, cache_key, payload, data_as_of, expires_at, error_cooldown_until,
                last_error_at, last_error_message, etag, created_at, updated_at
            ) VALUES (%(tenant)s, %(key)s, NULL, NULL, %(now)s, %(until)s, %(now)s, %(error)s, NULL, %(now)s, %(now)s)
            ON CONFLICT (tenant_id, cache_key) DO UPDATE SET
                error_cooldown_until = EXCLUDED.error_cooldown_until, last_error_at = EXCLUDED.last_error_at,
                last_error_message = EXCLUDED.last_error_message, updated_at = EXCLUDED.updated_at
            RETURNING {ENTRY_COLUMNS}
            """,
            {
                "tenant": tenant_id,
                "key": REALTIME_CACHE_KEY,
                "now": now,
                "until": until,
                "error": _truncate(error_message),
            },
        )
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
