"""What an operator asks about tenants from a shell (`list_tenants`, `tenant_status`): each
tenant's cache entry state, its sources as the last snapshot saw them, and its connections
with their credentials' lifecycle — never a token (the encrypted columns are not read).

Reads run as the runtime role, one tenant at a time under its own row-level security; the
tenants are walked with `tenant_ids_iter`, the same narrow listing the cron uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connections.presenters import connection_body, reconnect_required
from connections.selectors import connection_list_with_credentials
from revenue import clock
from revenue.selectors import CacheEntryState, entry_state_label, tenant_with_entry_read
from skeldir.tenancy import InvalidTenant, tenant_context, tenant_ids_iter


def entry_state(entry: CacheEntryState | None, now: datetime) -> str:
    """`none` when the tenant has no entry yet, else the admin's label for it."""
    return "none" if entry is None else entry_state_label(entry, now)


def tenant_summaries() -> Iterator[dict[str, Any]]:
    """One line's worth per tenant, in id order, streamed."""
    now = clock.now()
    for tenant_id in tenant_ids_iter():
        with tenant_context(tenant_id):
            tenant, entry = tenant_with_entry_read(tenant_id)
            if tenant is None:  # deleted since it was listed
                continue
            connections = connection_list_with_credentials()
        yield {
            "id": str(tenant.id),
            "name": tenant.name,
            "currency": tenant.reporting_currency,
            "timezone": tenant.timezone,
            "state": entry_state(entry, now),
            "connections": len(connections),
            "reconnect_required": sum(1 for c in connections if reconnect_required(c["credential"])),
        }


def tenant_status(tenant_id: uuid.UUID) -> dict[str, Any]:
    """Everything an operator needs about one tenant. Raises InvalidTenant."""
    now = clock.now()
    with tenant_context(tenant_id):
        tenant, entry = tenant_with_entry_read(tenant_id)
        if tenant is None:
            raise InvalidTenant(f"no tenant with id {tenant_id}")
        connections = [connection_body(c) for c in connection_list_with_credentials()]
    payload = entry.payload if entry is not None else None
    return {
        "tenant": {
            "id": str(tenant.id),
            "name": tenant.name,
            "currency": tenant.reporting_currency,
            "timezone": tenant.timezone,
        },
        "entry": None
        if entry is None
        else {
            "state": entry_state(entry, now),
            "data_as_of": _iso(entry.data_as_of),
            "expires_at": _iso(entry.expires_at),
            "cooldown_until": _iso(entry.error_cooldown_until) if entry.is_cooling(now) else None,
            "cooldown_seconds_left": entry.seconds_of_cooldown(now),
            "last_error_at": _iso(entry.last_error_at),
            "last_error": entry.last_error_message,
        },
        "sources": [_source(s) for s in (payload or {}).get("sources", [])],
        "connections": connections,
    }


def _source(source: dict[str, Any]) -> dict[str, Any]:
    figures = source.get("figures") or {}
    return {
        "platform": source.get("platform"),
        "account": source.get("account"),
        "status": source.get("status"),
        "as_of": figures.get("as_of"),
        "measure": (figures.get("basis") or {}).get("measure"),
        "error": source.get("error"),
        "retry_not_before": source.get("retry_not_before"),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
