"""An OAuth grant held pending until the user who started the install confirms it
(issue 18: an install must complete only for the user and browser that started it).

The grant lives on its handshake row, so it is under the same row-level security as the
handshake (the tenant's policy, FORCE), encrypted with pgcrypto under the credential key
ring like every token, and cleared as soon as it is confirmed, refused or expired.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0004_grant_reliance"),
        ("skeldir", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="oauthhandshake",
            name="confirm_by",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="oauthhandshake",
            name="confirmation_hash",
            field=models.TextField(null=True),
        ),
        migrations.AddField(
            model_name="oauthhandshake",
            name="encrypted_grant",
            field=models.BinaryField(null=True),
        ),
        migrations.AddField(
            model_name="oauthhandshake",
            name="grant_key_id",
            field=models.TextField(null=True),
        ),
        migrations.AddField(
            model_name="oauthhandshake",
            name="grant_status",
            field=models.TextField(
                choices=[
                    ("pending", "Pending"),
                    ("connected", "Connected"),
                    ("refused", "Refused"),
                    ("expired", "Expired"),
                ],
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="oauthhandshake",
            index=models.Index(
                condition=models.Q(("grant_status", "pending")),
                fields=["tenant", "confirm_by"],
                name="idx_oauth_handshake_pending",
            ),
        ),
        migrations.AddConstraint(
            model_name="oauthhandshake",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("grant_status__isnull", True),
                    ("grant_status__in", ["pending", "connected", "refused", "expired"]),
                    _connector="OR",
                ),
                name="ck_oauth_handshake_grant_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="oauthhandshake",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("encrypted_grant__isnull", True),
                    models.Q(
                        ("confirm_by__isnull", False),
                        ("confirmation_hash__isnull", False),
                        ("grant_key_id__isnull", False),
                        ("grant_status", "pending"),
                    ),
                    _connector="OR",
                ),
                name="ck_oauth_handshake_grant_only_while_pending",
            ),
        ),
    ]
