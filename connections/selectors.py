"""Reads of connections and credentials. Call inside `tenant_context`."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction

from connections.crypto import CredentialKeyError, CredentialUndecryptable, UnknownCredentialKey, key_ring
from connections.models import ConnectionStatus, LifecycleStatus, PlatformConnection, PlatformCredential
from skeldir.rows import model_from_row


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
    `reconnect_required` without calling the platform. (The refresh's one-statement read,
    `revenue_refresh_read` in revenue/migrations/0003, states the same rule in SQL; a test
    holds the two together.)"""
    return list(
        PlatformConnection.objects.raw(
            "SELECT c.* FROM platform_connections c"
            " LEFT JOIN platform_credentials k ON k.platform_connection_id = c.id"
            " WHERE c.status = %(active)s OR (c.status = %(disabled)s AND k.lifecycle_status = %(revoked)s)"
            " ORDER BY c.platform, c.platform_account_id",
            {
                "active": ConnectionStatus.ACTIVE,
                "disabled": ConnectionStatus.DISABLED,
                "revoked": LifecycleStatus.REVOKED,
            },
        )
    )


class CredentialBatchUndecryptable(Exception):
    """A ciphertext of the batch does not decrypt with its key; the statement (and the
    transaction around it) failed. Read the credentials one by one to tell which."""


ConnectionCredential = tuple[PlatformConnection, CredentialTokens | CredentialKeyError | None]

# The columns a batch read returns per connection: the connection's own, in model field
# order, then the credential's (see _credential_of).
CONNECTION_WIDTH = len(PlatformConnection._meta.concrete_fields)


def key_ring_arrays() -> tuple[list[str], list[str]]:
    """(key ids, secrets) of the key ring, as two arrays for a statement that decrypts
    every credential it reads with its own key (sent as parameters, never in the text)."""
    keys = list(key_ring().keys.items())
    return [key_id for key_id, _ in keys], [secret for _, secret in keys]


@contextmanager
def batch_decryption() -> Iterator[None]:
    """Around a statement that decrypts several credentials: a ciphertext that does not
    decrypt raises CredentialBatchUndecryptable (its transaction is then unusable, so the
    caller falls back outside it); trouble with the connection or the server is raised
    as it is."""
    try:
        yield
    except DatabaseError as exc:
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        if sqlstate is None or sqlstate.startswith(("08", "57")):
            raise  # the connection or the server is in trouble, not a ciphertext
        # pgcrypto's "Wrong key or corrupt data" (or bytes that are not text): not chained,
        # so nothing of the statement travels further.
        raise CredentialBatchUndecryptable("a platform credential does not decrypt with its key") from None


def connection_credential_from_row(values: Sequence[Any], *, using: str) -> ConnectionCredential:
    """A connection and its credential from a batch read's columns."""
    conn = model_from_row(PlatformConnection, values[:CONNECTION_WIDTH], using=using)
    return conn, _credential_of(conn, *values[CONNECTION_WIDTH:])


def _credential_of(
    conn: PlatformConnection,
    credential_id: uuid.UUID | None,
    key_id: str,
    expires_at: datetime | None,
    due: datetime | None,
    status: str,
    failures: int,
    key_known: bool,
    access: str | None,
    refresh: str | None,
) -> CredentialTokens | CredentialKeyError | None:
    if credential_id is None:
        return None
    if not key_known and status != LifecycleStatus.REVOKED:
        return UnknownCredentialKey(
            f"platform credential {credential_id} is encrypted with key id {key_id!r}, "
            "which CREDENTIAL_ENCRYPTION_KEYS does not contain"
        )
    return CredentialTokens(
        credential_id=credential_id,
        connection_id=conn.id,
        platform=conn.platform,
        access_token=access or "",
        refresh_token=refresh,
        expires_at=expires_at,
        next_refresh_due_at=due,
        lifecycle_status=status,
        refresh_failure_count=failures,
        key_id=key_id,
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


def credentials_one_by_one(connections: list[PlatformConnection]) -> list[ConnectionCredential]:
    """Each connection's credential read on its own (the fallback when the batch does not
    decrypt): one that cannot be decrypted is reported as its error, the others as usual."""
    paired: list[ConnectionCredential] = []
    for conn in connections:
        try:
            tokens: CredentialTokens | CredentialKeyError | None = credential_get(connection_id=conn.id)
        except CredentialKeyError as exc:
            tokens = exc
        paired.append((conn, tokens))
    return paired


def connection_grant_relied_on(*, connection_id: uuid.UUID) -> bool:
    """Whether another active connection, in this tenant or any other, relies on the same
    platform grant as `connection_id` (of the current tenant): then revoking it at the
    platform would cut them off too. Asked through the narrow database function of
    migration connections/0004, since row-level security hides the other tenants."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT connection_grant_relied_on(%s)", [connection_id])
        return bool(cursor.fetchone()[0])
