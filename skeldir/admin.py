"""Tenants in the operators' admin (read-only, every tenant)."""

from django.contrib import admin

from skeldir.admin_site import OperatorModelAdmin
from skeldir.models import Tenant


@admin.register(Tenant)
class TenantAdmin(OperatorModelAdmin):
    list_display = ["name", "id", "reporting_currency", "timezone", "created_at"]
    search_fields = ["name", "id__istartswith"]
    readonly_fields = list_display
    fields = list_display
