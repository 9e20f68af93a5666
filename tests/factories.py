"""Small builders for rows the tests need (through the services, under RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from connections.models import PlatformConnection
from connections.services import connection_upsert, credential_upsert
from skeldir.models import Tenant
from skeldir.tenancy import tenant_context, tenant_create


def make_tenant(name: str | None = None, **kwargs: Any) -> Tenant:
    return tenant_create(name=name or f"tenant-{uuid.uuid4().hex[:8]}", **kwargs)


def make_connection(
    tenant: Tenant,
    platform: str = "stripe",
    account: str | None = None,
    *,
    access_token: str | None = "sk_test_factory_token",
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> PlatformConnection:
    with tenant_context(tenant.id):
        row = connection_upsert(
            tenant_id=tenant.id,
            platform=platform,
            platform_account_id=account or f"acct_{uuid.uuid4().hex[:12]}",
            metadata=metadata,
        )
        if access_token is not None:
            credential_upsert(
                connection_row=row, access_token=access_token, refresh_token=refresh_token, expires_at=expires_at
            )
    return row
