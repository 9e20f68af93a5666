"""Connecting an account with keys, and disconnecting one (the connections API).

Both talk to the platform, so the platform call happens outside any transaction, between
short tenant-scoped ones:

- `connection_connect_with_keys`: the revenue adapter's `verify_credentials` makes one
  cheap read with the keys; only when the platform accepts them are the connection and its
  encrypted credential upserted. A refusal is a ProviderAuthError (nothing stored).
- `connection_disconnect`: revoke at the platform where it offers revocation (OAuth
  connections: Stripe deauthorize, Shopify uninstall, Google revoke, Meta permissions
  delete), then mark the credential revoked and the connection disabled. Idempotent: a
  disconnected connection is left alone (unless its revocation failed, which is retried).
  A grant shared with other still-connected accounts (one Google or Meta authorization
  covering several) is not revoked while they use it.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from connections.crypto import CredentialKeyError
from connections.models import ConnectionStatus, LifecycleStatus, PlatformConnection, PlatformCredential
from connections.oauth.registry import oauth_flow_get
from connections.selectors import CredentialTokens, connection_grant_relied_on, credential_get
from connections.services import (
    connection_upsert,
    credential_fields_check,
    credential_mark_revoked,
    credential_upsert,
)
from providers.base import CredentialCheckContext
from providers.errors import ProviderError
from providers.registry import provider_get
from skeldir.tenancy import tenant_context

logger = logging.getLogger(__name__)

# What happened at the platform when disconnecting.
REVOKED = "revoked"  # the platform confirmed (or the grant was already invalid there)
NOT_OFFERED = "not_offered"  # keys (Stripe restricted key, PayPal, WooCommerce): no revocation API
SHARED = "kept_for_other_accounts"  # the same authorization still serves other connections
FAILED = "failed"  # the platform could not be told; disconnected here, retried on the next DELETE
ALREADY = "already_disconnected"


class ConnectionNotFound(LookupError):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyCredentials:
    """Credentials a merchant pastes: what the adapter uses as access token (Stripe key,
    `ck:cs`) and as refresh token (PayPal `client_id:client_secret`)."""

    access_token: str | None = dataclasses.field(default=None, repr=False)
    refresh_token: str | None = dataclasses.field(default=None, repr=False)


def connection_connect_with_keys(
    *,
    tenant_id: uuid.UUID,
    platform: str,
    account_id: str,
    credentials: KeyCredentials,
    correlation_id: str,
) -> tuple[PlatformConnection, bool]:
    """Check the keys with the platform, then store them. Returns (connection, created).
    Raises ProviderAuthError when the platform refuses them, other ProviderErrors when it
    could not be asked; nothing is stored in either case."""
    metadata: dict[str, Any] = {"connected_via": "keys"}
    # Refused before the platform is asked: a key with a line break is never sent anywhere.
    credential_fields_check(
        access_token=credentials.access_token, refresh_token=credentials.refresh_token, expires_at=None
    )
    check = provider_get(platform).verify_credentials(
        CredentialCheckContext(
            platform_account_id=account_id,
            connection_metadata=metadata,
            access_token=credentials.access_token,
            refresh_token=credentials.refresh_token,
            correlation_id=correlation_id,
        )
    )
    token = check.token
    access_token = token.access_token if token else credentials.access_token
    if not access_token:
        raise ValueError(f"{platform} credentials produced no access token")
    with tenant_context(tenant_id):
        created = not PlatformConnection.objects.filter(platform=platform, platform_account_id=account_id).exists()
        row = connection_upsert(
            tenant_id=tenant_id, platform=platform, platform_account_id=account_id, metadata=metadata
        )
        credential_upsert(
            connection_row=row,
            access_token=access_token,
            refresh_token=credentials.refresh_token,
            expires_at=token.expires_at if token else None,
            scope=token.scope if token else None,
            token_type=token.token_type if token else None,
        )
    logger.info(
        "connection_connected",
        extra={
            "event": "connection_connected",
            "platform": platform,
            "tenant_id": str(tenant_id),
            "outcome": "created" if created else "updated",
            "correlation_id": correlation_id,
        },
    )
    return row, created


@dataclasses.dataclass(frozen=True)
class Disconnection:
    connection: PlatformConnection
    revocation: str


def connection_disconnect(
    *, tenant_id: uuid.UUID, connection_id: uuid.UUID, correlation_id: str, now: datetime | None = None
) -> Disconnection:
    now = now or timezone.now()
    with tenant_context(tenant_id):
        conn = PlatformConnection.objects.filter(id=connection_id).first()
        if conn is None:
            raise ConnectionNotFound(str(connection_id))  # RLS: another tenant's id is simply not there
        credential = (
            PlatformCredential.objects.filter(platform_connection_id=conn.id).values("id", "lifecycle_status").first()
        )
        metadata = dict(conn.connection_metadata or {})
        credential_revoked = credential is None or credential["lifecycle_status"] == LifecycleStatus.REVOKED
        if conn.status == ConnectionStatus.DISABLED and credential_revoked and metadata.get("revocation") != FAILED:
            return Disconnection(conn, ALREADY)
        tokens: CredentialTokens | None = None
        try:
            tokens = credential_get(connection_id=conn.id) if credential else None
        except CredentialKeyError:
            tokens = None
        # Only an OAuth grant can be revoked at the platform: only then ask who else relies on it.
        shared = metadata.get("connected_via") == "oauth" and connection_grant_relied_on(connection_id=conn.id)

    revocation = _revoke_at_platform(conn, metadata, tokens, shared, correlation_id)

    with tenant_context(tenant_id):
        if credential is not None and not credential_revoked:
            credential_mark_revoked(credential_id=credential["id"], failure_class="disconnected", now=now)
        metadata.update({"disconnected_at": now.isoformat(), "revocation": revocation})
        PlatformConnection.objects.filter(id=conn.id).update(
            status=ConnectionStatus.DISABLED, connection_metadata=metadata, updated_at=now
        )
        conn.refresh_from_db()
    logger.info(
        "connection_disconnected",
        extra={
            "event": "connection_disconnected",
            "platform": conn.platform,
            "tenant_id": str(tenant_id),
            "outcome": revocation,
            "correlation_id": correlation_id,
        },
    )
    return Disconnection(conn, revocation)


def _revoke_at_platform(
    conn: PlatformConnection,
    metadata: dict[str, Any],
    tokens: CredentialTokens | None,
    shared: bool,
    correlation_id: str,
) -> str:
    if metadata.get("connected_via") != "oauth":
        return NOT_OFFERED
    flow = oauth_flow_get(conn.platform)
    if flow is None or not flow.supports_revoke:
        return NOT_OFFERED
    if shared:
        return SHARED
    if tokens is None or not flow.configured:
        logger.warning(
            "connection_revocation_failed",
            extra={
                "event": "connection_revocation_failed",
                "platform": conn.platform,
                "outcome": "no_credential" if tokens is None else "oauth_unavailable",
            },
        )
        return FAILED
    try:
        flow.revoke(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            account_id=conn.platform_account_id,
            correlation_id=correlation_id,
        )
    except ProviderError as exc:
        logger.warning(
            "connection_revocation_failed",
            extra={
                "event": "connection_revocation_failed",
                "platform": conn.platform,
                "outcome": exc.kind,
                "error": str(exc),
            },
        )
        return FAILED
    return REVOKED
