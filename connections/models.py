"""Platform accounts a tenant has connected, and their encrypted credentials.

Both tables are tenant-scoped under row-level security (see the migrations); rows are
only ever read or written inside `skeldir.tenancy.tenant_context`. Foreign keys are
declared by SQL in the migrations with ON DELETE CASCADE, so Django's own cascade
emulation (which would run under RLS and see nothing) is switched off: DO_NOTHING.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Now

from skeldir.models import Tenant

# The static bounds the database holds stored token times to (services check tighter ones).
STORED_TIMES_FROM = datetime(2000, 1, 1, tzinfo=UTC)
STORED_TIMES_UNTIL = datetime(2200, 1, 1, tzinfo=UTC)


class ConnectionStatus(models.TextChoices):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class LifecycleStatus(models.TextChoices):
    ACTIVE = "active"
    DEGRADED = "degraded"  # a refresh failed transiently; retried with backoff
    REVOKED = "revoked"  # only reconnecting the account can fix it


class PendingGrantStatus(models.TextChoices):
    """Where an OAuth grant stands between the callback and the starter's confirmation."""

    PENDING = "pending"  # held, encrypted, until confirmed or confirm_by
    CONNECTED = "connected"  # confirmed by the user who started: stored as connections
    REFUSED = "refused"  # confirmed by someone else: withdrawn at the platform
    EXPIRED = "expired"  # never confirmed in time: withdrawn at the platform


class PlatformConnection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    platform = models.TextField()
    platform_account_id = models.TextField()
    status = models.TextField(choices=ConnectionStatus.choices, default="active", db_default="active")
    connection_metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        db_table = "platform_connections"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "platform", "platform_account_id"],
                name="uq_platform_connections_tenant_platform_account",
            ),
            # Target of the credentials' composite foreign key: a credential can only
            # belong to a connection of its own tenant and platform.
            models.UniqueConstraint(
                fields=["id", "tenant", "platform"], name="uq_platform_connections_id_tenant_platform"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ConnectionStatus.values), name="ck_platform_connections_status_valid"
            ),
        ]
        indexes = [
            models.Index("tenant", "platform", models.F("updated_at").desc(), name="idx_conn_tenant_platform_upd"),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.platform_account_id}"


class PlatformCredential(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    platform_connection = models.ForeignKey(
        PlatformConnection, on_delete=models.DO_NOTHING, db_constraint=False, related_name="credentials"
    )
    platform = models.TextField()
    encrypted_access_token = models.BinaryField()
    encrypted_refresh_token = models.BinaryField(null=True)
    expires_at = models.DateTimeField(null=True)  # NULL: the token does not expire
    scope = models.TextField(null=True)
    token_type = models.TextField(null=True)
    key_id = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    next_refresh_due_at = models.DateTimeField(null=True)
    lifecycle_status = models.TextField(choices=LifecycleStatus.choices, default="active", db_default="active")
    refresh_failure_count = models.IntegerField(default=0, db_default=0)
    last_failure_class = models.TextField(null=True)
    last_failure_at = models.DateTimeField(null=True)
    last_refresh_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "platform_credentials"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "platform", "platform_connection"],
                name="uq_platform_credentials_tenant_platform_connection",
            ),
            models.CheckConstraint(
                condition=models.Q(lifecycle_status__in=LifecycleStatus.values),
                name="ck_platform_credentials_lifecycle_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(refresh_failure_count__gte=0),
                name="ck_platform_credentials_refresh_failure_count_nonnegative",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | models.Q(lifecycle_status="revoked"),
                name="ck_platform_credentials_revoked_status_consistency",
            ),
            models.CheckConstraint(
                condition=~models.Q(lifecycle_status="revoked") | models.Q(next_refresh_due_at__isnull=True),
                name="ck_platform_credentials_revoked_refresh_due_null",
            ),
            # A time Python cannot read back (year 10000) would break every page and cycle
            # that loads the row; services refuse these at the door, this holds it anyway.
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True)
                | models.Q(expires_at__gte=STORED_TIMES_FROM, expires_at__lt=STORED_TIMES_UNTIL),
                name="ck_platform_credentials_expires_at_range",
            ),
        ]
        indexes = [
            models.Index("tenant", "platform", models.F("updated_at").desc(), name="idx_cred_tenant_platform_upd"),
            models.Index(
                fields=["tenant", "lifecycle_status", "next_refresh_due_at"],
                name="idx_platform_credentials_due",
                condition=models.Q(next_refresh_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"credential for {self.platform} connection {self.platform_connection_id}"


class OAuthHandshake(models.Model):
    """One OAuth install in progress: created by `start`, consumed by the callback.

    The browser comes back from the platform without our bearer token, carrying only the
    `state` we gave it: `v1.<tenant id>.<handshake id>.<secret>` (see connections.oauth.state).
    Only the SHA-256 of the secret is stored; the callback opens the tenant named in the
    state (RLS as everywhere), reads the handshake by id and compares hashes in constant
    time. `subject` is the token `sub` of the manager who started it; the PKCE verifier is
    encrypted like tokens (pgcrypto, `key_id` of the key ring).

    After the callback the row also holds the grant, pending until the user who started
    confirms it (connections.oauth.services): `encrypted_grant` (tokens and accounts as one
    pgcrypto-encrypted JSON document, `grant_key_id`), the SHA-256 of the one-time
    confirmation code, and `confirm_by`. `grant_status` is `pending` while the grant is
    held, then `connected`, `refused` or `expired`, and the encrypted grant is cleared the
    moment it leaves that state (stored as connections, or withdrawn at the platform).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    platform = models.TextField()
    state_hash = models.TextField()
    subject = models.TextField(null=True)
    redirect_uri = models.TextField()
    shop = models.TextField(null=True)  # Shopify: the shop the install was started for
    encrypted_code_verifier = models.BinaryField(null=True)
    key_id = models.TextField(null=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    grant_status = models.TextField(choices=PendingGrantStatus.choices, null=True)
    encrypted_grant = models.BinaryField(null=True)
    grant_key_id = models.TextField(null=True)
    confirmation_hash = models.TextField(null=True)
    confirm_by = models.DateTimeField(null=True)

    class Meta:
        db_table = "oauth_handshake_sessions"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(encrypted_code_verifier__isnull=True) | models.Q(key_id__isnull=False),
                name="ck_oauth_handshake_verifier_has_key",
            ),
            models.CheckConstraint(
                condition=models.Q(grant_status__isnull=True) | models.Q(grant_status__in=PendingGrantStatus.values),
                name="ck_oauth_handshake_grant_status_valid",
            ),
            # A grant is held only while pending, always encrypted under a known key and
            # with a confirmation hash and a deadline.
            models.CheckConstraint(
                condition=models.Q(encrypted_grant__isnull=True)
                | models.Q(
                    grant_status=PendingGrantStatus.PENDING,
                    grant_key_id__isnull=False,
                    confirmation_hash__isnull=False,
                    confirm_by__isnull=False,
                ),
                name="ck_oauth_handshake_grant_only_while_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "expires_at"], name="idx_oauth_handshake_expiry"),
            models.Index(
                fields=["tenant", "confirm_by"],
                name="idx_oauth_handshake_pending",
                condition=models.Q(grant_status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} OAuth handshake {self.id}"
