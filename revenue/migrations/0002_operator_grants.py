"""The operators' role (the admin's `operator` alias, BYPASSRLS): read every tenant's rows
except the encrypted tokens, and update only what the admin actions change — a
connection's status, a credential's next refresh, a cache entry's cooldown."""

from django.db import migrations

from skeldir.db_operations import operator_grants


class Migration(migrations.Migration):
    dependencies = [
        ("skeldir", "0001_initial"),
        ("connections", "0001_initial"),
        ("revenue", "0001_initial"),
    ]

    operations = [
        operator_grants(
            select={
                "tenants": None,
                "platform_connections": None,
                "platform_credentials": [
                    "id",
                    "tenant_id",
                    "platform_connection_id",
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
                ],
                "revenue_cache_entries": None,
            },
            update={
                "platform_connections": ["status", "updated_at"],
                "platform_credentials": ["next_refresh_due_at", "updated_at"],
                "revenue_cache_entries": ["error_cooldown_until", "updated_at"],
            },
        ),
    ]
