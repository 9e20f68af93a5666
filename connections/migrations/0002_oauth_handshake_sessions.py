import uuid

import django.contrib.postgres.functions
import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models

from skeldir.db_operations import cascading_foreign_key, tenant_rls


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0001_initial"),
        ("skeldir", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="OAuthHandshake",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        db_default=django.contrib.postgres.functions.RandomUUID(),
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("platform", models.TextField()),
                ("state_hash", models.TextField()),
                ("subject", models.TextField(null=True)),
                ("redirect_uri", models.TextField()),
                ("shop", models.TextField(null=True)),
                ("encrypted_code_verifier", models.BinaryField(null=True)),
                ("key_id", models.TextField(null=True)),
                ("expires_at", models.DateTimeField()),
                ("consumed_at", models.DateTimeField(null=True)),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="skeldir.tenant",
                    ),
                ),
            ],
            options={
                "db_table": "oauth_handshake_sessions",
                "indexes": [models.Index(fields=["tenant", "expires_at"], name="idx_oauth_handshake_expiry")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("encrypted_code_verifier__isnull", True), ("key_id__isnull", False), _connector="OR"
                        ),
                        name="ck_oauth_handshake_verifier_has_key",
                    ),
                ],
            },
        ),
        cascading_foreign_key(
            "oauth_handshake_sessions", "oauth_handshake_sessions_tenant_id_fkey", "tenant_id", "tenants (id)"
        ),
        tenant_rls("oauth_handshake_sessions"),
    ]
