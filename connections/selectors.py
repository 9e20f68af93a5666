"""Reads of connections and credentials. Call inside `tenant_context`."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction

from connections.crypto import CredentialKeyError, CredentialUndecryptable, UnknownCredentialKey, key_ring
from connections.models import ConnectionStatus, LifecycleStatus, PlatformConnection, PlatformCredential


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
    """The connections a revenue refresh reports, for the current tenant: every active one
    (all accounts, not one per platform), and every disconnected one — disabled with its
    credential revoked — whose revoked credential makes the refresh report it as
    `reconnect_required` without calling the platform."""
    # Plain SQL: this runs on every refresh, and compiling the ORM's EXISTS cost more
    # than the query.
    return list(
        PlatformConnection.objects.raw(
            "SELECT c.* FROM platform_connections c WHERE c.status = %s OR (c.status = %s AND EXISTS ("
            "  SELECT 1 FROM platform_credentials k WHERE k.platform_connection_id = c.id"
            "  AND k.lifecycle_status = %s)) ORDER BY c.platform, c.platform_account_id",
            [ConnectionStatus.ACTIVE, ConnectionStatus.DISABLED, LifecycleStatus.REVOKED],
        )
    )


CONNECTION_FIELDS = (
    "id",
    "platform",
    "platform_account_id",
    "status",
    "connection_metadata",
    "created_at",
    "updated_at",
)
CREDENTIAL_FIELDS = (
    "lifecycle_status",
    "expires_at",
    "scope",
    "last_refresh_at",
    "last_failure_class",
    "last_failure_at",
    "revoked_at",
)


def connection_list_with_credentials() -> list[dict[str, Any]]:
    """Every connection of the current tenant with its credential's lifecycle (never a
    token: the encrypted columns are not even read), in one query."""
    rows = PlatformConnection.objects.order_by("platform", "platform_account_id", "id").values(
        *CONNECTION_FIELDS, "credentials__id", *(f"credentials__{f}" for f in CREDENTIAL_FIELDS)
    )
    return [_with_credential(row) for row in rows]


def connection_get_with_credential(*, connection_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        PlatformConnection.objects.filter(id=connection_id)
        .values(*CONNECTION_FIELDS, "credentials__id", *(f"credentials__{f}" for f in CREDENTIAL_FIELDS))
        .first()
    )
    return _with_credential(row) if row else None


def _with_credential(row: dict[str, Any]) -> dict[str, Any]:
    item = {field: row[field] for field in CONNECTION_FIELDS}
    item["credential"] = (
        {field: row[f"credentials__{field}"] for field in CREDENTIAL_FIELDS} if row["credentials__id"] else None
    )
    return item


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


def credentials_get_many(*, connection_ids: list[uuid.UUID]) -> dict[uuid.UUID, CredentialTokens | CredentialKeyError]:
    """The decrypted credentials of several connections in one round trip (the refresh
    path reads every source's at once). A connection without a credential is absent;
    one that cannot be decrypted maps to its error, without failing the others."""
    if not connection_ids:
        return {}
    ring = key_ring()
    keys = list(ring.keys.items())
    sql = (
        "SELECT c.id, c.platform_connection_id, c.platform, c.key_id, c.expires_at, c.next_refresh_due_at,"
        " c.lifecycle_status, c.refresh_failure_count, k.secret IS NOT NULL,"
        " CASE WHEN k.secret IS NULL THEN NULL ELSE pgp_sym_decrypt(c.encrypted_access_token, k.secret) END,"
        " CASE WHEN k.secret IS NULL OR c.encrypted_refresh_token IS NULL THEN NULL"
        " ELSE pgp_sym_decrypt(c.encrypted_refresh_token, k.secret) END"
        " FROM platform_credentials c"
        " LEFT JOIN (SELECT * FROM unnest(%s::text[], %s::text[]) AS r(id, secret)) k ON k.id = c.key_id"
        " WHERE c.platform_connection_id = ANY(%s)"
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [[k for k, _ in keys], [s for _, s in keys], list(connection_ids)])
            rows = cursor.fetchall()
    except DatabaseError:
        # One ciphertext does not decrypt with its key: read them one by one to tell which.
        found: dict[uuid.UUID, CredentialTokens | CredentialKeyError] = {}
        for connection_id in connection_ids:
            try:
                tokens = credential_get(connection_id=connection_id)
            except CredentialKeyError as exc:
                found[connection_id] = exc
                continue
            if tokens is not None:
                found[connection_id] = tokens
        return found
    result: dict[uuid.UUID, CredentialTokens | CredentialKeyError] = {}
    for (
        credential_id,
        connection_id,
        platform,
        key_id,
        expires_at,
        due,
        status,
        failures,
        known,
        access,
        refresh,
    ) in rows:
        if not known:
            result[connection_id] = UnknownCredentialKey(
                f"platform credential {credential_id} is encrypted with key id {key_id!r}, "
                "which CREDENTIAL_ENCRYPTION_KEYS does not contain"
            )
            continue
        result[connection_id] = CredentialTokens(
            credential_id=credential_id,
            connection_id=connection_id,
            platform=platform,
            access_token=access,
            refresh_token=refresh,
            expires_at=expires_at,
            next_refresh_due_at=due,
            lifecycle_status=status,
            refresh_failure_count=failures,
            key_id=key_id,
        )
    return result
