"""Reads of the revenue cache. Each opens its own tenant-scoped transaction."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from revenue.models import REALTIME_CACHE_KEY
from skeldir.models import Tenant
from skeldir.tenancy import tenant_context


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
        """Within the stale-if-error window after expiry (off by default)."""
        window = settings.REVENUE_STALE_IF_ERROR_SECONDS
        return window > 0 and self.payload is not None and (now - self.expires_at).total_seconds() <= window


_FIELDS = [f.name for f in dataclasses.fields(CacheEntryState)]


_READ_SQL = f"SELECT {', '.join(_FIELDS)} FROM revenue_cache_entries WHERE tenant_id = %s AND cache_key = %s"  # noqa: S608


def cache_entry_read(tenant_id: uuid.UUID) -> CacheEntryState | None:
    """Read inside the caller's tenant context (plain SQL: the hot path of every miss and
    refresh; the columns are the dataclass's fields)."""
    with connection.cursor() as cursor:
        cursor.execute(_READ_SQL, [tenant_id, REALTIME_CACHE_KEY])
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(_FIELDS, row, strict=True))
    if values["payload"] is not None:  # Django's driver setup leaves jsonb as text
        values["payload"] = json.loads(values["payload"])
    return CacheEntryState(**values)


def cache_entry_get(tenant_id: uuid.UUID) -> CacheEntryState | None:
    with tenant_context(tenant_id):
        return cache_entry_read(tenant_id)


def tenant_ids_iter(
    *, shard: tuple[int, int] | None = None, only: list[uuid.UUID] | None = None
) -> Iterator[uuid.UUID]:
    """Tenant ids in a stable order, streamed (memory does not grow with the tenant count).
    `shard=(k, n)` keeps the ids whose hash falls in shard k of n (k counted from 1)."""
    rows = Tenant.objects.order_by("id").values_list("id", flat=True)
    if only is not None:
        rows = rows.filter(id__in=only)
    for tenant_id in rows.iterator(chunk_size=2000):
        if shard is None or tenant_shard(tenant_id, shard[1]) == shard[0]:
            yield tenant_id


def tenant_shard(tenant_id: uuid.UUID, shards: int) -> int:
    return tenant_id.int % shards + 1
