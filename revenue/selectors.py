"""Reads of the revenue cache: inside the caller's tenant context, or each in its own
tenant-scoped transaction or statement, as each says."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from connections.selectors import (
    ConnectionCredential,
    batch_decryption,
    connection_credential_from_row,
    key_ring_arrays,
)
from revenue.models import REALTIME_CACHE_KEY
from skeldir.models import Tenant
from skeldir.rows import model_columns, model_from_row
from skeldir.tenancy import savepoint_if_nested, tenant_context


@dataclasses.dataclass(frozen=True)
class CacheEntryState:
    payload: dict[str, Any] | None
    etag: str | None
    data_as_of: datetime | None
    expires_at: datetime
    error_cooldown_until: datetime | None
    last_error_at: datetime | None
    last_error_message: str | None

    def is_fresh(self, now: datetime) -> bool:
        return self.payload is not None and self.expires_at > now

    def is_cooling(self, now: datetime) -> bool:
        return self.error_cooldown_until is not None and self.error_cooldown_until > now

    def is_due(self, now: datetime, *, ahead_seconds: float = 0) -> bool:
        """Worth refreshing: missing payload or expiring within `ahead_seconds`, not cooling."""
        if self.is_cooling(now):
            return False
        return self.payload is None or (self.expires_at - now).total_seconds() <= ahead_seconds

    def seconds_to_expiry(self, now: datetime) -> int:
        return max(0, int((self.expires_at - now).total_seconds()))

    def seconds_of_cooldown(self, now: datetime) -> int:
        """Whole seconds left, at least 1 while cooling (a Retry-After of 0 invites a retry storm)."""
        if not self.is_cooling(now):
            return 0
        remaining = (self.error_cooldown_until - now).total_seconds()  # type: ignore[operator]
        return max(1, int(remaining + 0.999))

    def stale_servable(self, now: datetime) -> bool:
        """A payload within the stale-if-error window after its expiry
        (REVENUE_STALE_IF_ERROR_SECONDS; 0 turns it off)."""
        window = settings.REVENUE_STALE_IF_ERROR_SECONDS
        return window > 0 and self.payload is not None and (now - self.expires_at).total_seconds() <= window


_FIELDS = [f.name for f in dataclasses.fields(CacheEntryState)]


_ENTRY_COLUMNS = ", ".join(_FIELDS)
_READ_SQL = f"SELECT {_ENTRY_COLUMNS} FROM revenue_cache_entries WHERE tenant_id = %s AND cache_key = %s"  # noqa: S608


def cache_entry_read(tenant_id: uuid.UUID) -> CacheEntryState | None:
    """Read inside the caller's tenant context (plain SQL: the hot path of every miss and
    refresh; the columns are the dataclass's fields)."""
    with connection.cursor() as cursor:
        cursor.execute(_READ_SQL, [tenant_id, REALTIME_CACHE_KEY])
        row = cursor.fetchone()
    return None if row is None else entry_state(row)


@dataclasses.dataclass(frozen=True)
class RefreshInputs:
    """What a refresh starts from: the tenant (None when there is no such tenant), its
    cache entry, and the connections it reports, each with its decrypted credential."""

    tenant: Tenant | None
    entry: CacheEntryState | None
    connections: list[ConnectionCredential]


_TENANT_WIDTH = len(Tenant._meta.concrete_fields)
_ENTRY_END = _TENANT_WIDTH + 1 + len(_FIELDS)


def refresh_inputs_read(tenant_id: uuid.UUID, *, lock_key: int | None = None) -> RefreshInputs | None:
    """The tenant, its entry and its connections with their credentials, in one statement
    that sets the tenant itself (`revenue_refresh_read`, revenue/migrations/0003): a refresh
    reads them every time (credentials too, even when the entry then proves not due: the
    rare tenant another refresher just did costs less than a second statement for all the
    others). Raises CredentialBatchUndecryptable when a ciphertext does not decrypt (then
    read them with `tenant_with_entry_read` and `credentials_one_by_one`).

    With `lock_key` the statement first tries that session-level advisory lock (as
    `revenue.locks.lock_try` would, in the same round trip): None when another session
    holds it. Otherwise the lock is held when this returns, and also when it raises
    CredentialBatchUndecryptable (credentials are decrypted after the lock is taken);
    the caller releases it."""
    key_ids, secrets = key_ring_arrays()
    with savepoint_if_nested(), batch_decryption(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM revenue_refresh_read(%s, %s, %s, %s, %s)",
            [tenant_id, REALTIME_CACHE_KEY, key_ids, secrets, lock_key],
        )
        rows = cursor.fetchall()
    if not rows:
        return RefreshInputs(None, None, [])
    first = rows[0]
    if first[0] is None:
        return None  # another session holds the lock
    tenant = model_from_row(Tenant, first[:_TENANT_WIDTH], using=connection.alias)
    entry = entry_state(first[_TENANT_WIDTH + 1 : _ENTRY_END]) if first[_TENANT_WIDTH] else None
    return RefreshInputs(
        tenant, entry, [connection_credential_from_row(row[_ENTRY_END:], using=connection.alias) for row in rows[1:]]
    )


_TENANT_WITH_ENTRY_SQL = (
    f"SELECT {model_columns(Tenant, 't')}, e.tenant_id IS NOT NULL, "  # noqa: S608 (model columns)
    f"{', '.join('e.' + name for name in _FIELDS)}"
    " FROM tenants t LEFT JOIN revenue_cache_entries e ON e.tenant_id = t.id AND e.cache_key = %s"
    " WHERE t.id = %s"
)


FRESH, EXPIRED, COOLING = "fresh", "expired", "cooling_down"


def entry_state_label(entry: Any, now: datetime) -> str:
    """`fresh`, `expired` or `cooling_down`: of a CacheEntryState or a cache entry row alike
    (the admin's list and the operator's commands say the same)."""
    if entry.error_cooldown_until is not None and entry.error_cooldown_until > now:
        return COOLING
    if entry.payload is not None and entry.expires_at > now:
        return FRESH
    return EXPIRED


def tenant_with_entry_read(tenant_id: uuid.UUID) -> tuple[Tenant | None, CacheEntryState | None]:
    """The tenant and its cache entry in one statement, inside the caller's tenant
    context (a refresh whose credentials must be read one by one starts with both)."""
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_WITH_ENTRY_SQL, [REALTIME_CACHE_KEY, tenant_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    tenant = model_from_row(Tenant, row[:_TENANT_WIDTH], using=connection.alias)
    has_entry, values = row[_TENANT_WIDTH], row[_TENANT_WIDTH + 1 :]
    return tenant, (entry_state(values) if has_entry else None)


def entry_state(values: tuple[Any, ...] | list[Any]) -> CacheEntryState:
    """A CacheEntryState from the entry's columns in `_FIELDS` order."""
    fields = dict(zip(_FIELDS, values, strict=True))
    if isinstance(fields["payload"], (str, bytes)):  # Django's driver setup leaves jsonb as text
        fields["payload"] = json.loads(fields["payload"])
    return CacheEntryState(**fields)


def cache_entry_get(tenant_id: uuid.UUID) -> CacheEntryState | None:
    with tenant_context(tenant_id):
        return cache_entry_read(tenant_id)
