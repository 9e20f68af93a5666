"""Writes of connections and credentials, and the credential lifecycle (DESIGN.md §5).

Everything except `credential_rotate_key` runs inside the caller's `tenant_context`;
the plaintext tokens and the key go to PostgreSQL as bind parameters and come back
only through `selectors.credential_get`.

Lifecycle: active → degraded on a transient refresh failure (retried with backoff) or
when a platform refuses a permission during a fetch (asked again later);
active/degraded → revoked on a terminal one, or when a platform refuses the credential
during a fetch (`credential_mark_refused`); back to active on a successful refresh or a
new upsert (reconnect, new keys: nothing else brings a revoked credential back).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from connections.crypto import PGP_OPTIONS, CredentialUndecryptable, UnknownCredentialKey, key_ring
from connections.models import STORED_TIMES_FROM, ConnectionStatus, PlatformConnection
from connections.selectors import key_ring_arrays
from skeldir.tenancy import tenant_context, tenant_ids_iter

# Transient refresh failures back off 30 s, 60 s, 120 s ... up to an hour, or longer
# when the platform asked for longer.
REFRESH_BACKOFF_BASE_SECONDS = 30
REFRESH_BACKOFF_MAX_SECONDS = 3600
# Failure classes of a credential a platform refused during a revenue fetch.
REFUSED = "auth_refused"  # 401: revoked
FORBIDDEN = "auth_forbidden"  # 403, a permission: degraded, asked again later
TOKEN_REFUSED = "auth_token_refused"  # 401 for a refreshable access token: refresh it first
# refusal -> (the lifecycle it leads to, None: unchanged; the failure class)
REFUSALS = {
    "credential": ("revoked", REFUSED),
    "permission": ("degraded", FORBIDDEN),
    "token": (None, TOKEN_REFUSED),
}

logger = logging.getLogger(__name__)


class UnknownPlatform(ValueError):
    pass


def platform_validate(platform: str) -> str:
    if platform not in settings.REVENUE_PROVIDERS:
        known = ", ".join(sorted(settings.REVENUE_PROVIDERS))
        raise UnknownPlatform(f"unknown platform {platform!r} (known: {known})")
    return platform


# The range a stored token expiry may take. Wider values are mistakes or attacks (a year
# 10000 cannot even be read back by Python), so they are refused where they enter and the
# table's CHECK constraint (migration 0003) holds the same static bounds.
EARLIEST_EXPIRY = STORED_TIMES_FROM
LONGEST_EXPIRY = timedelta(days=3653)  # ten years from now


class CredentialInvalid(ValueError):
    """A token or expiry that must not be stored; the message names what and why (never the token)."""


def credential_fields_check(
    *, access_token: str | None, refresh_token: str | None, expires_at: datetime | None, now: datetime | None = None
) -> None:
    """Every entrance that stores a credential (commands, the keys API, OAuth callbacks,
    token refreshes) passes through here."""
    for what, token in (("access token", access_token), ("refresh token", refresh_token)):
        if token is not None and any(ord(char) < 32 or ord(char) == 127 for char in token):
            raise CredentialInvalid(f"the {what} contains a control character (a line break, tab or NUL)")
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise CredentialInvalid("the expiry needs a UTC offset")
    latest = (now or timezone.now()) + LONGEST_EXPIRY
    if not EARLIEST_EXPIRY <= expires_at <= latest:
        raise CredentialInvalid(
            f"the expiry {expires_at.isoformat()} is outside {EARLIEST_EXPIRY.date()} .. {latest.date()}"
        )


def refresh_due_at(expires_at: datetime | None) -> datetime | None:
    """When a token should be refreshed: the configured lead before it expires."""
    if expires_at is None:
        return None
    return expires_at - timedelta(seconds=settings.CREDENTIAL_REFRESH_LEAD_SECONDS)


def connection_upsert(
    *,
    tenant_id: uuid.UUID,
    platform: str,
    platform_account_id: str,
    metadata: dict[str, Any] | None = None,
    status: str = ConnectionStatus.ACTIVE,
) -> PlatformConnection:
    platform_validate(platform)
    if not platform_account_id.strip():
        raise ValueError("a connection needs a platform account id")
    connection_row, _ = PlatformConnection.objects.update_or_create(
        tenant_id=tenant_id,
        platform=platform,
        platform_account_id=platform_account_id.strip(),
        defaults={"status": status, "connection_metadata": metadata},
    )
    return connection_row


def credential_upsert(
    *,
    connection_row: PlatformConnection,
    access_token: str,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    scope: str | None = None,
    token_type: str | None = None,
) -> uuid.UUID:
    """Store (or replace) the connection's one credential, encrypted under the current
    key, with its lifecycle reset to active."""
    if not access_token:
        raise ValueError("an access token is required")
    credential_fields_check(access_token=access_token, refresh_token=refresh_token, expires_at=expires_at)
    ring = key_ring()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO platform_credentials AS c (
                tenant_id, platform_connection_id, platform, encrypted_access_token, encrypted_refresh_token,
                expires_at, scope, token_type, key_id, next_refresh_due_at, lifecycle_status,
                refresh_failure_count, last_failure_class, last_failure_at, last_refresh_at, revoked_at
            ) VALUES (
                %(tenant)s, %(connection)s, %(platform)s, pgp_sym_encrypt(%(access)s, %(key)s, %(pgp)s),
                CASE WHEN %(refresh)s::text IS NULL THEN NULL
                    ELSE pgp_sym_encrypt(%(refresh)s::text, %(key)s, %(pgp)s) END,
                %(expires)s, %(scope)s, %(token_type)s, %(key_id)s, %(due)s, 'active', 0, NULL, NULL, NULL, NULL
            )
            ON CONFLICT (tenant_id, platform, platform_connection_id) DO UPDATE SET
                encrypted_access_token = EXCLUDED.encrypted_access_token,
                encrypted_refresh_token = EXCLUDED.encrypted_refresh_token,
                expires_at = EXCLUDED.expires_at, scope = EXCLUDED.scope, token_type = EXCLUDED.token_type,
                key_id = EXCLUDED.key_id, next_refresh_due_at = EXCLUDED.next_refresh_due_at,
                lifecycle_status = 'active', refresh_failure_count = 0, last_failure_class = NULL,
                last_failure_at = NULL, revoked_at = NULL, updated_at = now()
            RETURNING id
            """,
            {
                "tenant": connection_row.tenant_id,
                "connection": connection_row.id,
                "platform": connection_row.platform,
                "access": access_token,
                "refresh": refresh_token,
                "key": ring.current_secret,
                "pgp": PGP_OPTIONS,
                "key_id": ring.current_id,
                "expires": expires_at,
                "scope": scope,
                "token_type": token_type,
                "due": refresh_due_at(expires_at),
            },
        )
        return cursor.fetchone()[0]


def credential_mark_refreshed(
    *,
    credential_id: uuid.UUID,
    key_id: str,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
    scope: str | None = None,
    token_type: str | None = None,
    now: datetime | None = None,
) -> None:
    """Store a refreshed token under the current key. `refresh_token=None` keeps the
    stored one (re-encrypted, since the row moves to the current key); `key_id` is the
    key the row was read with. Raises CredentialInvalid for a token or expiry that must
    not be stored (nothing is written)."""
    now = now or timezone.now()
    credential_fields_check(access_token=access_token, refresh_token=refresh_token, expires_at=expires_at, now=now)
    ring = key_ring()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE platform_credentials SET
                encrypted_access_token = pgp_sym_encrypt(%(access)s, %(key)s, %(pgp)s),
                encrypted_refresh_token = CASE
                    WHEN %(refresh)s::text IS NOT NULL THEN pgp_sym_encrypt(%(refresh)s::text, %(key)s, %(pgp)s)
                    WHEN encrypted_refresh_token IS NULL THEN NULL
                    ELSE pgp_sym_encrypt(pgp_sym_decrypt(encrypted_refresh_token, %(old_key)s), %(key)s, %(pgp)s) END,
                expires_at = %(expires)s, scope = COALESCE(%(scope)s, scope),
                token_type = COALESCE(%(token_type)s, token_type), key_id = %(key_id)s,
                next_refresh_due_at = %(due)s, lifecycle_status = 'active', refresh_failure_count = 0,
                last_failure_class = NULL, last_failure_at = NULL, last_refresh_at = %(now)s, updated_at = %(now)s
            WHERE id = %(id)s AND lifecycle_status <> 'revoked'
            """,
            {
                "id": credential_id,
                "access": access_token,
                "refresh": refresh_token,
                "key": ring.current_secret,
                "pgp": PGP_OPTIONS,
                "old_key": ring.secret(key_id, credential=credential_id),
                "key_id": ring.current_id,
                "expires": expires_at,
                "scope": scope,
                "token_type": token_type,
                "due": refresh_due_at(expires_at),
                "now": now,
            },
        )


def credential_mark_refresh_failed(
    *, credential_id: uuid.UUID, failure_class: str, retry_after: int | None = None, now: datetime | None = None
) -> datetime:
    """A transient failure: degraded, retried after an exponential backoff (or the
    platform's hint when longer). Returns when the next attempt is due."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT refresh_failure_count FROM platform_credentials WHERE id = %s AND lifecycle_status <> 'revoked'",
            [credential_id],
        )
        row = cursor.fetchone()
        failures = (row[0] if row else 0) + 1
        backoff = min(REFRESH_BACKOFF_BASE_SECONDS * 2 ** (failures - 1), REFRESH_BACKOFF_MAX_SECONDS)
        due = now + timedelta(seconds=max(backoff, retry_after or 0))
        cursor.execute(
            """
            UPDATE platform_credentials SET lifecycle_status = 'degraded', refresh_failure_count = %(failures)s,
                last_failure_class = %(class)s, last_failure_at = %(now)s, next_refresh_due_at = %(due)s,
                updated_at = %(now)s
            WHERE id = %(id)s AND lifecycle_status <> 'revoked'
            """,
            {"id": credential_id, "failures": failures, "class": failure_class, "now": now, "due": due},
        )
    return due


def credential_mark_revoked(*, credential_id: uuid.UUID, failure_class: str, now: datetime | None = None) -> None:
    """A terminal failure (invalid_grant, revoked app, disconnect): only reconnecting helps."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE platform_credentials SET lifecycle_status = 'revoked', revoked_at = %(now)s,
                next_refresh_due_at = NULL, refresh_failure_count = refresh_failure_count + 1,
                last_failure_class = %(class)s, last_failure_at = %(now)s, updated_at = %(now)s
            WHERE id = %(id)s
            """,
            {"id": credential_id, "class": failure_class, "now": now},
        )


def credential_mark_refused(
    *, credential_id: uuid.UUID, access_token: str, refusal: str, now: datetime | None = None
) -> bool:
    """The platform refused this credential when revenue was fetched with it. `refusal`:

    - "credential" (HTTP 401, a rolled or revoked key, a dead grant): revoked — only a new
      credential (reconnect, new keys) helps, and until then no refresh calls the platform;
    - "permission" (HTTP 403: the credential authenticates but lacks a permission the fetch
      needs, which the merchant may grant at the platform without giving us a new key):
      degraded, and the refresh asks again after a while (REVENUE_FORBIDDEN_RECHECK_SECONDS)
      or as soon as the credential changes;
    - "token" (a 401 for the access token of a credential that can be refreshed, not
      refreshed in this pass: it may only have ended early): its refresh is due now, and the
      next refresh decides — a refused refresh revokes it, and so does a 401 for the new
      token.

    Marked only while the row still holds `access_token`, the token that was refused: a
    credential replaced while the fetch ran (a reconnect racing the refresh) is left alone.
    The comparison decrypts the stored token with its own key inside the statement (the
    ring's keys as bind parameters, as the refresh's read does). Returns whether it was
    marked."""
    if refusal not in REFUSALS:
        raise ValueError(f"unknown refusal {refusal!r}")
    now = now or timezone.now()
    key_ids, secrets = key_ring_arrays()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE platform_credentials AS k SET
                lifecycle_status = COALESCE(%(status)s, k.lifecycle_status),
                revoked_at = CASE WHEN %(status)s = 'revoked' THEN %(now)s END,
                next_refresh_due_at = CASE WHEN %(status)s = 'revoked' THEN NULL
                    WHEN %(refusal)s = 'token' THEN %(now)s ELSE k.next_refresh_due_at END,
                refresh_failure_count = k.refresh_failure_count + 1, last_failure_class = %(class)s,
                last_failure_at = %(now)s, updated_at = %(now)s
            FROM unnest(%(key_ids)s::text[], %(secrets)s::text[]) AS r(id, secret)
            WHERE k.id = %(id)s AND r.id = k.key_id AND k.lifecycle_status <> 'revoked'
              AND pgp_sym_decrypt(k.encrypted_access_token, r.secret) = %(access)s
            """,
            {
                "id": credential_id,
                "status": REFUSALS[refusal][0],
                "refusal": refusal,
                "class": REFUSALS[refusal][1],
                "now": now,
                "key_ids": key_ids,
                "secrets": secrets,
                "access": access_token,
            },
        )
        return cursor.rowcount > 0


def connections_set_status(
    *, connection_ids: Iterable[uuid.UUID], status: str, using: str, actor: str
) -> list[uuid.UUID]:
    """An operator enables or disables connections of any tenants, through `using` (the
    admin's operator alias). A disabled connection is left out of refreshes. Returns the
    connections whose status changed."""
    if status not in (ConnectionStatus.ACTIVE, ConnectionStatus.DISABLED):
        raise ValueError(f"operators set connections active or disabled, not {status!r}")
    ids = list(connection_ids)
    if not ids:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE platform_connections SET status = %s, updated_at = now() "
            "WHERE id = ANY(%s) AND status <> %s RETURNING id, tenant_id, platform",
            [status, ids, status],
        )
        changed = cursor.fetchall()
    for connection_id, tenant_id, platform in changed:
        logger.info(
            "connection_status_changed",
            extra={
                "event": "connection_status_changed",
                "tenant_id": str(tenant_id),
                "platform": platform,
                "connection_id": str(connection_id),
                "outcome": str(status),
                "actor": actor,
            },
        )
    return [row[0] for row in changed]


def credentials_mark_refresh_due(
    *, credential_ids: Iterable[uuid.UUID], using: str, actor: str, now: datetime | None = None
) -> list[uuid.UUID]:
    """An operator asks for these credentials' tokens to be refreshed at the next refresh of
    their tenant (next_refresh_due_at = now), through `using` (the operator alias). Revoked
    credentials are left alone: only reconnecting the account helps them. Returns the
    credentials marked."""
    ids = list(credential_ids)
    if not ids:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE platform_credentials SET next_refresh_due_at = %s, updated_at = now() "
            "WHERE id = ANY(%s) AND lifecycle_status <> 'revoked' RETURNING id, tenant_id, platform",
            [now or timezone.now(), ids],
        )
        marked = cursor.fetchall()
    for credential_id, tenant_id, platform in marked:
        logger.info(
            "credential_marked_for_refresh",
            extra={
                "event": "credential_marked_for_refresh",
                "tenant_id": str(tenant_id),
                "platform": platform,
                "credential_id": str(credential_id),
                "actor": actor,
            },
        )
    return [row[0] for row in marked]


@dataclasses.dataclass
class RotationReport:
    moved: int = 0
    tenants: int = 0
    unknown_key_ids: set[str] = dataclasses.field(default_factory=set)
    unknown_rows: int = 0


def credential_rotate_key(*, batch_size: int | None = None) -> RotationReport:
    """Re-encrypt every credential to the current key, tenant by tenant (through the
    RLS-bound role, like everything else) and in short batches so no lock is held long.
    Rows under a key id the ring no longer has are counted and left alone."""
    ring = key_ring()
    batch_size = batch_size or settings.CREDENTIAL_ROTATION_BATCH_SIZE
    report = RotationReport()
    for tenant_id in tenant_ids_iter():
        with tenant_context(tenant_id), connection.cursor() as cursor:
            cursor.execute(
                "SELECT key_id, count(*) FROM platform_credentials WHERE key_id <> %s GROUP BY key_id",
                [ring.current_id],
            )
            old_keys = dict(cursor.fetchall())
        if not old_keys:
            continue
        report.tenants += 1
        for old_id, rows in old_keys.items():
            try:
                old_secret = ring.secret(old_id)
            except UnknownCredentialKey:
                report.unknown_key_ids.add(old_id)
                report.unknown_rows += rows
                continue
            try:
                report.moved += _rotate_batches(tenant_id, old_id, old_secret, batch_size)
            except DatabaseError:
                # pgcrypto's "Wrong key or corrupt data"; not chained, as the driver's
                # error can carry the statement's parameters.
                raise CredentialUndecryptable(
                    f"credentials of tenant {tenant_id} under key id {old_id!r} cannot be decrypted with that key"
                ) from None
    return report


def _rotate_batches(tenant_id: uuid.UUID, old_id: str, old_secret: str, batch_size: int) -> int:
    ring = key_ring()
    moved = 0
    while True:
        with tenant_context(tenant_id), connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE platform_credentials SET
                    encrypted_access_token =
                        pgp_sym_encrypt(pgp_sym_decrypt(encrypted_access_token, %(old)s), %(new)s, %(pgp)s),
                    encrypted_refresh_token = CASE WHEN encrypted_refresh_token IS NULL THEN NULL ELSE
                        pgp_sym_encrypt(pgp_sym_decrypt(encrypted_refresh_token, %(old)s), %(new)s, %(pgp)s) END,
                    key_id = %(new_id)s, updated_at = now()
                WHERE id IN (
                    SELECT id FROM platform_credentials WHERE key_id = %(old_id)s
                    ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED
                )
                """,
                {
                    "old": old_secret,
                    "new": ring.current_secret,
                    "pgp": PGP_OPTIONS,
                    "new_id": ring.current_id,
                    "old_id": old_id,
                    "batch": batch_size,
                },
            )
            count = cursor.rowcount
        moved += count
        if count < batch_size:
            return moved
