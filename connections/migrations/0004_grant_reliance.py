"""Whether another active connection, in any tenant, still relies on a connection's
platform grant: the one question a disconnect must ask across tenants before revoking at
the platform (Stripe deauthorize, Shopify uninstall, Google revoke, Meta permission
removal all end the app's access to that account for everyone connected to it).

Row-level security hides other tenants from the runtime role, so the question is put to a
narrow function instead: SECURITY DEFINER (it runs as the schema owner), a fixed
search_path, a yes/no answer and no row, and only about a connection of the caller's own
tenant (any other id answers no). The owner is subject to the tenant policy too (FORCE), so
it gets one more policy: SELECT on platform_connections for itself alone — a role that could
already turn row-level security off on the tables it owns sees nothing new.

A grant is relied on when another active OAuth connection on the same platform names the
same platform account (another tenant connected the same Stripe account, Shopify shop,
Google customer or Meta ad account), or belongs to the same authorization of the same
tenant (one Google or Meta consent reaching several accounts).
"""

from django.db import migrations

from skeldir.db_operations import runtime_function

RELIED_ON = """
CREATE FUNCTION connection_grant_relied_on(p_connection uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (
        SELECT 1
        FROM platform_connections this
        JOIN platform_connections other
          ON other.platform = this.platform AND other.id <> this.id
        WHERE this.id = p_connection
          AND this.tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid
          AND other.status = 'active'
          AND other.connection_metadata ->> 'connected_via' = 'oauth'
          AND (
              other.platform_account_id = this.platform_account_id
              OR (other.tenant_id = this.tenant_id
                  AND other.connection_metadata ->> 'oauth_grant' = this.connection_metadata ->> 'oauth_grant')
          )
    )
$$
"""

OWNER_READS_CONNECTIONS = (
    "CREATE POLICY grant_reliance_owner_read ON platform_connections FOR SELECT TO CURRENT_USER USING (true)"
)


class Migration(migrations.Migration):
    dependencies = [("connections", "0003_credential_expiry_range")]

    operations = [
        migrations.RunSQL(OWNER_READS_CONNECTIONS, "DROP POLICY grant_reliance_owner_read ON platform_connections"),
        runtime_function(RELIED_ON, "connection_grant_relied_on(uuid)"),
    ]
