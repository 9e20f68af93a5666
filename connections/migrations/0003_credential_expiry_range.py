"""Token expiries held to a range Python can read back.

An expiry of 9999-12-31T23:59:59-14:00 is year 10000 in UTC: stored, it broke the
credentials admin, the tenant's API and every refresh cycle that read the row. Rows already
out of range are first brought inside it (tenant by tenant: the owner is subject to
row-level security too): a time past the range becomes its last day, one before it its
first, which makes the credential due for refresh at once rather than never.
"""

import datetime

from django.db import migrations, models

CLAMP = """
UPDATE platform_credentials SET
    expires_at = LEAST(GREATEST(expires_at, '2000-01-01T00:00:00Z'), '2199-12-31T00:00:00Z'),
    next_refresh_due_at = LEAST(GREATEST(next_refresh_due_at, '2000-01-01T00:00:00Z'), '2199-12-31T00:00:00Z')
WHERE expires_at < '2000-01-01T00:00:00Z' OR expires_at >= '2200-01-01T00:00:00Z'
   OR next_refresh_due_at < '2000-01-01T00:00:00Z' OR next_refresh_due_at >= '2200-01-01T00:00:00Z'
"""


def clamp_out_of_range_expiries(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenants")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(CLAMP)
        cursor.execute("SELECT set_config('app.current_tenant_id', '', true)")


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_oauth_handshake_sessions"),
        ("skeldir", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(clamp_out_of_range_expiries, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="platformcredential",
            constraint=models.CheckConstraint(
                condition=models.Q(("expires_at__isnull", True))
                | models.Q(
                    ("expires_at__gte", datetime.datetime(2000, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                    ("expires_at__lt", datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                ),
                name="ck_platform_credentials_expires_at_range",
            ),
        ),
    ]
