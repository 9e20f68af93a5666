"""Row-level security on the tenants table itself: the runtime role sees, and may create,
only the tenant set in its transaction (`tenant_context`), never the list of every tenant
(names and ids).

The cron's cycle and the key rotation must still walk every tenant: they ask the narrow
function `tenant_ids_list(shard, shards)`, SECURITY DEFINER (it runs as the schema owner),
a fixed search_path, ids and nothing else, optionally one shard of them (the shard of a
tenant is the last 32 bits of its id modulo the shard count, as `tenant_shard` computes it).
The owner is subject to the tenant policy too (FORCE), so it gets one more policy: SELECT
for itself alone (a role that could already turn row-level security off on the tables it
owns sees nothing new). The operators' role bypasses row-level security, as before.
"""

from django.db import migrations

from skeldir.db_operations import runtime_function, tenant_rls

TENANT_IDS_LIST = """
CREATE FUNCTION tenant_ids_list(p_shard integer, p_shards integer) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id FROM tenants
    WHERE p_shards IS NULL
       OR mod(('x' || right(replace(id::text, '-', ''), 8))::bit(32)::bigint, p_shards) = p_shard - 1
$$
"""

OWNER_READS_TENANTS = "CREATE POLICY tenant_ids_owner_read ON tenants FOR SELECT TO CURRENT_USER USING (true)"


class Migration(migrations.Migration):
    dependencies = [
        ("skeldir", "0001_initial"),
        # Every migration so far that reads tenants as the owner runs before its policy exists.
        ("connections", "0004_grant_reliance"),
        ("revenue", "0003_refresh_functions"),
    ]

    operations = [
        tenant_rls("tenants", column="id"),
        migrations.RunSQL(OWNER_READS_TENANTS, "DROP POLICY tenant_ids_owner_read ON tenants"),
        runtime_function(TENANT_IDS_LIST, "tenant_ids_list(integer, integer)"),
    ]
