"""Revenue cache entries in the operators' admin (DESIGN.md §9): every tenant's entry with
its state (fresh / expired / cooling down, seconds left), data age, last error and
sources, read through the operator alias. Actions: "clear cooldown" and "refresh now"
(the leader path, at most ADMIN_REFRESH_MAX_TENANTS tenants per action)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderNetworkError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from revenue import clock
from revenue.batch import revenue_refresh_tenants
from revenue.models import RevenueCacheEntry
from revenue.selectors import COOLING, EXPIRED, FRESH, entry_state_label
from revenue.services import cache_entries_clear_cooldown
from revenue.snapshot import STATUS_CREDENTIAL, STATUS_RECONNECT, Snapshot, SourceState
from revenue.sources import STATUS_INTERNAL, STATUS_UNSUPPORTED
from skeldir.admin_site import OperatorModelAdmin
from skeldir.correlation import request_correlation_id
from skeldir.operator import OPERATOR_DB

STATE_LABELS = {FRESH: "fresh", EXPIRED: "expired", COOLING: "cooling down"}
ERROR_KINDS = [
    ProviderAuthError.kind,
    ProviderRateLimited.kind,
    ProviderUnavailable.kind,
    ProviderNetworkError.kind,
    ProviderBadResponse.kind,
    STATUS_RECONNECT,
    STATUS_CREDENTIAL,
    STATUS_INTERNAL,
    STATUS_UNSUPPORTED,
]


def cooldown_seconds_left(entry: RevenueCacheEntry, now: datetime) -> int:
    """Whole seconds, rounded up (as the API's Retry-After); 0 when not cooling down."""
    if entry.error_cooldown_until is None or entry.error_cooldown_until <= now:
        return 0
    return max(1, int((entry.error_cooldown_until - now).total_seconds() + 0.999))


def entry_sources(entry: RevenueCacheEntry) -> list[SourceState]:
    if not entry.payload:
        return []
    try:
        return list(Snapshot.from_payload(entry.payload).sources)
    except (KeyError, TypeError, ValueError):
        return []


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[RevenueCacheEntry]) -> QuerySet[RevenueCacheEntry]:
        now = clock.now()
        cooling = Q(error_cooldown_until__gt=now)
        if self.value() == COOLING:
            return queryset.filter(cooling)
        if self.value() == FRESH:
            return queryset.exclude(cooling).filter(payload__isnull=False, expires_at__gt=now)
        if self.value() == EXPIRED:
            return queryset.exclude(cooling).filter(Q(payload__isnull=True) | Q(expires_at__lte=now))
        return queryset


class PlatformErrorFilter(admin.SimpleListFilter):
    """Entries whose last refresh reported this kind of platform error: a source in that
    status in the payload (a refresh where every source failed writes their states over the
    last good figures), or in the last error message (an entry with no payload to write to)."""

    title = "platform error"
    parameter_name = "error_kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind, kind.replace("_", " ")) for kind in ERROR_KINDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[RevenueCacheEntry]) -> QuerySet[RevenueCacheEntry]:
        kind = self.value()
        if kind not in ERROR_KINDS:
            return queryset
        # The message is "<platform> <account>: <kind>: <detail>; …" (revenue.realtime).
        in_message = rf"(^|; )[^;]*: {re.escape(kind)}(:|;|$)"
        return queryset.filter(
            Q(payload__contains={"sources": [{"status": kind}]}) | Q(last_error_message__regex=in_message)
        )


@admin.register(RevenueCacheEntry)
class RevenueCacheEntryAdmin(OperatorModelAdmin):
    list_display = [
        "tenant_name",
        "tenant_id",
        "state",
        "cooldown_left",
        "data_age",
        "last_error_at",
        "last_error",
        "sources",
    ]
    list_display_links = ["tenant_name"]
    list_filter = [StateFilter, PlatformErrorFilter]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "tenant__id__istartswith"]
    search_help_text = "Tenant name, or tenant id (or its beginning)."
    date_hierarchy = "last_error_at"
    ordering = ["tenant__name"]
    actions = ["clear_cooldown", "refresh_now"]
    fields = [
        "tenant_name",
        "tenant_id",
        "cache_key",
        "state",
        "cooldown_left",
        "error_cooldown_until",
        "data_as_of",
        "data_age",
        "expires_at",
        "last_error_at",
        "last_error_message",
        "totals",
        "sources_detail",
        "etag",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    # --- columns -----------------------------------------------------------------------
    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, entry: RevenueCacheEntry) -> str:
        return entry.tenant.name

    @admin.display(description="tenant id")
    def tenant_id(self, entry: RevenueCacheEntry) -> str:
        return str(entry.tenant_id)

    @admin.display(description="state")
    def state(self, entry: RevenueCacheEntry) -> str:
        return STATE_LABELS[entry_state_label(entry, clock.now())]

    @admin.display(description="cooldown left (s)", ordering="error_cooldown_until")
    def cooldown_left(self, entry: RevenueCacheEntry) -> int:
        return cooldown_seconds_left(entry, clock.now())

    @admin.display(description="data age (s)", ordering="-data_as_of")
    def data_age(self, entry: RevenueCacheEntry) -> int | None:
        if entry.data_as_of is None:
            return None
        return max(0, int((clock.now() - entry.data_as_of).total_seconds()))

    @admin.display(description="last error")
    def last_error(self, entry: RevenueCacheEntry) -> str:
        message = entry.last_error_message or ""
        return message if len(message) <= 120 else message[:119] + "…"

    @admin.display(description="sources")
    def sources(self, entry: RevenueCacheEntry) -> str:
        return "; ".join(f"{s.platform} {s.account}: {s.status}" for s in entry_sources(entry)) or "—"

    @admin.display(description="totals (minor units)")
    def totals(self, entry: RevenueCacheEntry) -> str:
        if not entry.payload:
            return "—"
        try:
            snapshot = Snapshot.from_payload(entry.payload)
        except (KeyError, TypeError, ValueError):
            return "unreadable payload"
        return (
            f"sales {snapshot.revenue_total} {snapshot.currency}, claimed {snapshot.claimed_total} "
            f"{snapshot.currency}, {snapshot.event_count} events; sales by currency: "
            f"{snapshot.sales_by_currency or {}}"
        )

    @admin.display(description="sources")
    def sources_detail(self, entry: RevenueCacheEntry) -> str:
        rows = entry_sources(entry)
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    s.platform,
                    s.account,
                    s.kind,
                    s.status,
                    s.figures.as_of.isoformat() if s.figures else "—",
                    s.error or "",
                )
                for s in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>platform</th><th>account</th><th>kind</th><th>status</th><th>as of</th>"
            "<th>error</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    # --- actions -----------------------------------------------------------------------
    @admin.action(description="Clear cooldown of the selected entries", permissions=["change"])
    def clear_cooldown(self, request: HttpRequest, queryset: QuerySet[RevenueCacheEntry]) -> None:
        entries = list(queryset.select_related("tenant"))
        cleared = set(
            cache_entries_clear_cooldown(
                tenant_ids=[e.tenant_id for e in entries], using=OPERATOR_DB, actor=request.user.get_username()
            )
        )
        done = [e for e in entries if e.tenant_id in cleared]
        self.operator_logged(
            request, done, "admin_clear_cooldown", "Cleared the cooldown.", tenants=[str(e.tenant_id) for e in done]
        )
        if not done:
            self.message_user(request, "None of the selected entries had a cooldown.", messages.WARNING)
            return
        names = ", ".join(f"{e.tenant.name} ({e.tenant_id})" for e in done)
        self.message_user(request, f"Cleared the cooldown of {len(done)} tenant(s): {names}.", messages.SUCCESS)

    @admin.action(description="Refresh now (the selected tenants, from their platforms)", permissions=["change"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[RevenueCacheEntry]) -> None:
        limit = settings.ADMIN_REFRESH_MAX_TENANTS
        entries = list(queryset.select_related("tenant")[: limit + 1])
        if len(entries) > limit:
            self.message_user(
                request, f"Select at most {limit} entries to refresh at once; nothing was refreshed.", messages.ERROR
            )
            return
        correlation_id = request_correlation_id(request)
        results = revenue_refresh_tenants([e.tenant_id for e in entries], correlation_id=correlation_id, force=True)
        outcomes = {tenant_id: (r.outcome if r is not None else "error") for tenant_id, r in results.items()}
        self.operator_logged(
            request,
            entries,
            "admin_refresh_now",
            "Refreshed now.",
            correlation_id=correlation_id,
            outcomes={str(k): v for k, v in outcomes.items()},
        )
        for entry in entries:
            outcome = outcomes[entry.tenant_id]
            level = {"refreshed": messages.SUCCESS, "partial": messages.WARNING}.get(outcome, messages.ERROR)
            if outcome == "locked":
                outcome, level = "locked (another process is refreshing it)", messages.WARNING
            self.message_user(request, f"{entry.tenant.name} ({entry.tenant_id}): {outcome}", level)
