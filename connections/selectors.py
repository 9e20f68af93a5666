"""Reads of connections and credentials. Call inside `tenant_context`."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from django.db import DatabaseError, connection, transaction

from connections.crypto import CredentialUndecryptable, key_ring
from connections.models import ConnectionStatus, PlatformConnection, PlatformCredential


@dataclasses.dataclass(frozen=True)
class CredentialTokens:
    """A decrypted credential. Tokens are kept out of repr so they cannot reach a log
    line or a traceback by accident."""

    credential_id: uuid.UUID
    connection_id: uuid.UUID
    platform: str
    access_token: str = dataclasses.field(repr=False)
    refresh_token: str | None = dataclasses.field(repr=False)
    expires_at: datetime | None
    next_refresh_due_at: datetime | None
    lifecycle_status: str
    refresh_failure_count: int
    key_id: str


def connection_list_active() -> list[PlatformConnection]:
    """Every active connection of the current tenant: all accounts, not one per platform."""
    return list(
        PlatformConnection.objects.filter(status=ConnectionStatus.ACTIVE).order_by("platform", "platform_account_id")
    )


def credential_get(*, connection_id: uuid.UUID, for_update: bool = False) -> CredentialTokens | None:
    """The decrypted credential of a connection, or None when it has none."""
    rows = PlatformCredential.objects.filter(platform_connection_id=connection_id)
    if for_update:
        rows = rows.select_for_update()
    row = rows.values(
        "id",
        "platform",
        "key_id",
        "expires_at",
        "next_refresh_due_at",
        "lifecycle_status",
        "refresh_failure_count",
    ).first()
    if row is None:
        return None
    secret = key_ring().secret(row["key_id"], credential=row["id"])
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pgp_sym_decrypt(encrypted_access_token, %(key)s),"
                " CASE WHEN encrypted_refresh_token IS NULL THEN NULL"
                " ELSE pgp_sym_decrypt(encrypted_refresh_token, %(key)s) END"
                " FROM platform_credentials WHERE id = %(id)s",
                {"key": secret, "id": row["id"]},
            )
            access_token, refresh_token = cursor.fetchone()
    except DatabaseError:
        # pgcrypto says "Wrong key or corrupt data"; the driver's error would carry the
        # statement's parameters, so it is not chained.
        raise CredentialUndecryptable(
            f"platform credential {row['id']} cannot be decrypted with key id {row['key_id']!r}"
        ) from None
    return CredentialTokens(
        credential_id=row["id"],
        connection_id=connection_id,
        platform=row["platform"],
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=row["expires_at"],
        next_refresh_due_at=row["next_refresh_due_at"],
        lifecycle_status=row["lifecycle_status"],
        refresh_failure_count=row["refresh_failure_count"],
        key_id=row["key_id"],
    )
