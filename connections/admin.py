"""Platform connections and their credentials in the operators' admin (DESIGN.md §9).

Every tenant's connections and credential lifecycle, read through the operator alias.
Tokens are never decrypted here, nor even selected: the credential queries name their
columns (`CREDENTIAL_FIELDS`) and the operator role cannot read the encrypted columns at
all (revenue/migrations/0002). A token shows as a fixed mask.

Actions: disable / enable connections; mark credentials for refresh (their token is
refreshed at the tenant's next refresh).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from connections.models import ConnectionStatus, PlatformConnection, PlatformCredential
from connections.services import connections_set_status, credentials_mark_refresh_due
from skeldir.admin_site import OperatorModelAdmin
from skeldir.operator import OPERATOR_DB

TOKEN_MASK = "•••••••• (encrypted, never shown)"
# Every credential column an operator may see; the encrypted tokens are not among them.
CREDENTIAL_FIELDS = (
    "id",
    "tenant",
    "platform_connection",
    "platform",
    "expires_at",
    "scope",
    "token_type",
    "key_id",
    "created_at",
    "updated_at",
    "next_refresh_due_at",
    "lifecycle_status",
    "refresh_failure_count",
    "last_failure_class",
    "last_failure_at",
    "last_refresh_at",
    "revoked_at",
)
_SUMMARY_FIELDS = [f if f not in ("tenant", "platform_connection") else f"{f}_id" for f in CREDENTIAL_FIELDS]


def _when(moment: datetime | None, otherwise: str) -> str:
    return moment.isoformat(timespec="seconds") if moment else otherwise


def _credential_url(credential_id: Any) -> str:
    return reverse("admin:connections_platformcredential_change", args=[credential_id])


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(OperatorModelAdmin):
    list_display = ["platform", "platform_account_id", "status", "tenant_name", "tenant_id", "credential", "updated_at"]
    list_display_links = ["platform", "platform_account_id"]
    list_filter = ["status", "platform"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "tenant__id__istartswith", "platform_account_id"]
    search_help_text = "Tenant name or id, or platform account id."
    ordering = ["tenant__name", "platform", "platform_account_id"]
    actions = ["disable", "enable"]
    fields = [
        "tenant_name",
        "tenant_id",
        "platform",
        "platform_account_id",
        "status",
        "connection_metadata",
        "credential_detail",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlatformConnection]:
        credentials = PlatformCredential.objects.using(OPERATOR_DB).filter(platform_connection=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                credential_pk=Subquery(credentials.values("id")[:1]),
                credential_status=Subquery(credentials.values("lifecycle_status")[:1]),
            )
        )

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, conn: PlatformConnection) -> str:
        return conn.tenant.name

    @admin.display(description="tenant id")
    def tenant_id(self, conn: PlatformConnection) -> str:
        return str(conn.tenant_id)

    @admin.display(description="credential", ordering="credential_status")
    def credential(self, conn: PlatformConnection) -> str:
        if conn.credential_pk is None:  # type: ignore[attr-defined]
            return "none"
        return format_html('<a href="{}">{}</a>', _credential_url(conn.credential_pk), conn.credential_status)  # type: ignore[attr-defined]

    @admin.display(description="credential")
    def credential_detail(self, conn: PlatformConnection) -> str:
        row = (
            PlatformCredential.objects.using(OPERATOR_DB)
            .filter(platform_connection_id=conn.pk)
            .values(*_SUMMARY_FIELDS)
            .first()
        )
        if row is None:
            return "none: the account must be connected"
        return format_html(
            '<a href="{}">{}</a>: {}; expires {}; next refresh due {}; {} failure(s){}; key id {}; access token {}',
            _credential_url(row["id"]),
            row["id"],
            row["lifecycle_status"],
            _when(row["expires_at"], "never"),
            _when(row["next_refresh_due_at"], "—"),
            row["refresh_failure_count"],
            f" (last: {row['last_failure_class']})" if row["last_failure_class"] else "",
            row["key_id"],
            TOKEN_MASK,
        )

    def _set_status(self, request: HttpRequest, queryset: QuerySet[PlatformConnection], status: str) -> None:
        rows = list(queryset.select_related("tenant"))
        changed = set(
            connections_set_status(
                connection_ids=[c.pk for c in rows],
                status=status,
                using=OPERATOR_DB,
                actor=request.user.get_username(),
            )
        )
        done = [c for c in rows if c.pk in changed]
        self.operator_logged(
            request, done, f"admin_connection_{status}", f"Set status {status}.", connections=[str(c.pk) for c in done]
        )
        self.message_user(
            request,
            f"{len(done)} connection(s) set {status}; {len(rows) - len(done)} already were.",
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description="Disable the selected connections (left out of refreshes)", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[PlatformConnection]) -> None:
        self._set_status(request, queryset, ConnectionStatus.DISABLED)

    @admin.action(description="Enable the selected connections", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[PlatformConnection]) -> None:
        self._set_status(request, queryset, ConnectionStatus.ACTIVE)


@admin.register(PlatformCredential)
class PlatformCredentialAdmin(OperatorModelAdmin):
    list_display = [
        "platform",
        "account",
        "tenant_name",
        "lifecycle_status",
        "expires_at",
        "next_refresh_due_at",
        "refresh_failure_count",
        "last_failure_class",
        "key_id",
        "access_token",
    ]
    list_display_links = ["platform", "account"]
    list_filter = ["lifecycle_status", "platform", "last_failure_class"]
    list_select_related = ["tenant", "platform_connection"]
    search_fields = ["tenant__name", "tenant__id__istartswith", "platform_connection__platform_account_id"]
    search_help_text = "Tenant name or id, or platform account id."
    ordering = ["tenant__name", "platform"]
    actions = ["mark_for_refresh"]
    fields = [
        "tenant_label",
        "connection",
        "platform",
        "lifecycle_status",
        "access_token",
        "refresh_token",
        "key_id",
        "scope",
        "token_type",
        "expires_at",
        "next_refresh_due_at",
        "last_refresh_at",
        "refresh_failure_count",
        "last_failure_class",
        "last_failure_at",
        "revoked_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlatformCredential]:
        return (
            super()
            .get_queryset(request)
            .only(
                *CREDENTIAL_FIELDS,
                "tenant__id",
                "tenant__name",
                "platform_connection__id",
                "platform_connection__platform_account_id",
                "platform_connection__platform",
                "platform_connection__status",
            )
        )

    @admin.display(description="account", ordering="platform_connection__platform_account_id")
    def account(self, credential: PlatformCredential) -> str:
        return credential.platform_connection.platform_account_id

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, credential: PlatformCredential) -> str:
        return credential.tenant.name

    @admin.display(description="tenant")
    def tenant_label(self, credential: PlatformCredential) -> str:
        return f"{credential.tenant.name} ({credential.tenant_id})"

    @admin.display(description="connection")
    def connection(self, credential: PlatformCredential) -> str:
        conn = credential.platform_connection
        url = reverse("admin:connections_platformconnection_change", args=[conn.pk])
        return format_html('<a href="{}">{} {}</a> ({})', url, conn.platform, conn.platform_account_id, conn.status)

    @admin.display(description="access token")
    def access_token(self, credential: PlatformCredential) -> str:
        return TOKEN_MASK

    @admin.display(description="refresh token")
    def refresh_token(self, credential: PlatformCredential) -> str:
        return TOKEN_MASK + " if stored"

    @admin.action(description="Mark the selected credentials for refresh", permissions=["change"])
    def mark_for_refresh(self, request: HttpRequest, queryset: QuerySet[PlatformCredential]) -> None:
        rows = list(queryset)
        marked = set(
            credentials_mark_refresh_due(
                credential_ids=[c.pk for c in rows], using=OPERATOR_DB, actor=request.user.get_username()
            )
        )
        done = [c for c in rows if c.pk in marked]
        self.operator_logged(
            request,
            done,
            "admin_credential_mark_for_refresh",
            "Marked for refresh.",
            credentials=[str(c.pk) for c in done],
        )
        skipped = len(rows) - len(done)
        self.message_user(
            request,
            f"{len(done)} credential(s) will be refreshed at their tenant's next refresh"
            + (f"; {skipped} revoked one(s) left alone (only reconnecting helps)." if skipped else "."),
            messages.SUCCESS if done else messages.WARNING,
        )
