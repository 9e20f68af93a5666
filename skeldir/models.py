"""The tenant: a merchant account. Not tenant-scoped itself (no RLS); every other
table hangs off it with ON DELETE CASCADE."""

from __future__ import annotations

import uuid

from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Now


class FixedCharField(models.CharField):
    """`char(n)`, as the design's `reporting_currency char(3)`."""

    def db_type(self, connection: object) -> str:
        return f"char({self.max_length})"


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False)
    name = models.TextField()
    reporting_currency = FixedCharField(max_length=3, default="USD", db_default="USD")
    timezone = models.TextField(default="UTC", db_default="UTC")
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        db_table = "tenants"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reporting_currency__regex=r"^[A-Z]{3}$"), name="ck_tenants_reporting_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"
