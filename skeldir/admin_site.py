"""The operators' admin site: staff only, every tenant visible through the operator alias.

`OperatorAdminSite` is Django's default admin site here (see `skeldir.apps.OperatorAdminConfig`),
so `@admin.register` works as usual. It opens `operator_access()` around each admin view
of a staff user, and renders the page inside it (querysets are evaluated while the
template renders). `OperatorModelAdmin` reads through the operator alias and is
read-only: operators act through the actions, which call services and are logged with
their username (Django's LogEntry and a structured log line).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import models
from django.http import HttpRequest, HttpResponse

from skeldir.operator import OPERATOR_DB, operator_access

logger = logging.getLogger("skeldir.admin")


class OperatorAdminSite(admin.AdminSite):
    site_header = "Skeldir Revenue operations"
    site_title = "Skeldir operations"
    index_title = "Tenants, cache and connections"
    site_url = None  # the service has no site to view
    enable_nav_sidebar = False  # the wide change lists need the room

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def with_operator_access(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not self.has_permission(request):
                return inner(request, *args, **kwargs)  # the redirect to the login page
            with operator_access():
                response = inner(request, *args, **kwargs)
                render = getattr(response, "render", None)
                if callable(render) and not getattr(response, "is_rendered", True):
                    response = render()
            return response

        return with_operator_access


class OperatorModelAdmin(admin.ModelAdmin):
    """Reads through the operator alias (all tenants); nothing is added, edited in a
    form or deleted here. `deferred_fields` are never selected (the encrypted tokens:
    the operator role cannot even read those columns)."""

    deferred_fields: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request).using(OPERATOR_DB)
        return queryset.defer(*self.deferred_fields) if self.deferred_fields else queryset

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions need "change"; a single object's page is view-only.
        return obj is None and super().has_change_permission(request)

    def operator_logged(
        self, request: HttpRequest, objects: Iterable[models.Model], event: str, message: str, **fields: Any
    ) -> None:
        """Record an operator action: one admin LogEntry per object, one structured line."""
        objects = list(objects)
        if objects:
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=objects, action_flag=CHANGE, change_message=message
            )
        logger.info(
            event,
            extra={"event": event, "actor": request.user.get_username(), "objects": len(objects), **fields},
        )


def login_locked_out(request: HttpRequest, response: HttpResponse | None, credentials: dict[str, Any]) -> HttpResponse:
    """django-axes' answer once a user name and address have failed too often: a 429 page
    naming the wait (no detail on the account), and the audit line operators search for."""
    username = str((credentials or {}).get("username") or request.POST.get("username") or "")[:150]
    wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
    logger.warning(
        "admin_login_locked_out",
        extra={
            "event": "admin_login_locked_out",
            "actor": username,
            "client": request.META.get("REMOTE_ADDR"),
            "outcome": "locked_out",
        },
    )
    locked = HttpResponse(
        f"Too many failed logins. Try again in {wait // 60} minutes.", status=429, content_type="text/plain"
    )
    locked["Retry-After"] = str(wait)
    return locked
