"""The cached revenue snapshot of each tenant (tenant-scoped, under row-level security)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from skeldir.models import Tenant

REALTIME_CACHE_KEY = "realtime_revenue:shared:v1"


class RevenueCacheEntry(models.Model):
    # A surrogate key: the table it mirrors used (tenant_id, cache_key) as a composite
    # primary key, which Django's admin cannot register. That pair stays unique and is
    # the conflict target of every upsert.
    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    cache_key = models.TextField(default=REALTIME_CACHE_KEY)
    payload = models.JSONField(null=True)  # NULL until a first refresh succeeds
    data_as_of = models.DateTimeField(null=True)
    expires_at = models.DateTimeField()
    error_cooldown_until = models.DateTimeField(null=True)
    last_error_at = models.DateTimeField(null=True)
    last_error_message = models.TextField(null=True)  # sanitised, secret-free
    etag = models.TextField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        db_table = "revenue_cache_entries"
        verbose_name_plural = "revenue cache entries"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "cache_key"], name="uq_revenue_cache_entries_tenant_key"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="idx_revenue_cache_expires_at"),
        ]

    def __str__(self) -> str:
        return f"{self.cache_key} for {self.tenant_id}"
