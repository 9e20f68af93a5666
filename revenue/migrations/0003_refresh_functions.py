"""The refresh's read and its write, each one statement (DESIGN.md §4, §7).

A refresh used to take two transactions of several statements each (begin, the tenant
setting, the reads or the write, commit) between taking and releasing the tenant's
advisory lock. The read also takes that lock now. Each function below sets the tenant itself,
transaction-local, and runs its statements as the caller (SECURITY INVOKER: row-level
security applies to the runtime role exactly as before). Called outside a transaction the
statement is its own transaction, so the setting ends with it; called inside one, the
function puts back the setting it found. Any previous setting is restored before return.

The functions' columns follow the models' (revenue/selectors.py reads them by position);
tests/revenue/test_refresh_functions.py fails when a model gains a column they lack.
"""

from django.db import migrations

from skeldir.db_operations import runtime_function

REFRESH_READ = """
CREATE FUNCTION revenue_refresh_read(
    p_tenant uuid, p_cache_key text, p_key_ids text[], p_secrets text[], p_lock_key bigint
)
RETURNS TABLE (
    t_id uuid, t_name text, t_reporting_currency character(3), t_timezone text, t_created_at timestamptz,
    e_found boolean, e_payload jsonb, e_etag text, e_data_as_of timestamptz, e_expires_at timestamptz,
    e_error_cooldown_until timestamptz, e_last_error_at timestamptz, e_last_error_message text,
    c_id uuid, c_tenant_id uuid, c_platform text, c_platform_account_id text, c_status text,
    c_connection_metadata jsonb, c_created_at timestamptz, c_updated_at timestamptz,
    k_id uuid, k_key_id text, k_expires_at timestamptz, k_next_refresh_due_at timestamptz,
    k_lifecycle_status text, k_refresh_failure_count integer, k_key_known boolean,
    k_access_token text, k_refresh_token text
)
LANGUAGE plpgsql SECURITY INVOKER AS $$
-- The first row is the tenant with its cache entry; each further row one connection the
-- refresh reports (active, or disabled with its credential revoked) with its credential,
-- decrypted unless revoked or its key id is unknown. No row: no such tenant.
-- With p_lock_key, the tenant's session-level advisory lock is tried first, in the same
-- round trip: one row of nulls when another session holds it, and nothing else is read.
#variable_conflict use_column
DECLARE
    previous text := current_setting('app.current_tenant_id', true);
BEGIN
    IF p_lock_key IS NOT NULL AND NOT pg_try_advisory_lock(p_lock_key) THEN
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM set_config('app.current_tenant_id', p_tenant::text, true);
    RETURN QUERY
        SELECT t.id, t.name, t.reporting_currency, t.timezone, t.created_at,
               e.tenant_id IS NOT NULL, e.payload, e.etag, e.data_as_of, e.expires_at,
               e.error_cooldown_until, e.last_error_at, e.last_error_message,
               NULL::uuid, NULL::uuid, NULL, NULL, NULL, NULL::jsonb, NULL::timestamptz, NULL::timestamptz,
               NULL::uuid, NULL, NULL::timestamptz, NULL::timestamptz, NULL, NULL::integer, NULL::boolean, NULL, NULL
        FROM tenants t
        LEFT JOIN revenue_cache_entries e ON e.tenant_id = t.id AND e.cache_key = p_cache_key
        WHERE t.id = p_tenant;
    IF FOUND THEN
        RETURN QUERY
            SELECT NULL::uuid, NULL, NULL::character(3), NULL, NULL::timestamptz,
                   NULL::boolean, NULL::jsonb, NULL, NULL::timestamptz, NULL::timestamptz,
                   NULL::timestamptz, NULL::timestamptz, NULL,
                   c.id, c.tenant_id, c.platform, c.platform_account_id, c.status,
                   c.connection_metadata, c.created_at, c.updated_at,
                   k.id, k.key_id, k.expires_at, k.next_refresh_due_at,
                   k.lifecycle_status, k.refresh_failure_count, r.secret IS NOT NULL,
                   CASE WHEN r.secret IS NULL OR k.lifecycle_status = 'revoked' THEN NULL
                        ELSE pgp_sym_decrypt(k.encrypted_access_token, r.secret) END,
                   CASE WHEN r.secret IS NULL OR k.lifecycle_status = 'revoked'
                             OR k.encrypted_refresh_token IS NULL THEN NULL
                        ELSE pgp_sym_decrypt(k.encrypted_refresh_token, r.secret) END
            FROM platform_connections c
            LEFT JOIN platform_credentials k ON k.platform_connection_id = c.id
            LEFT JOIN unnest(p_key_ids, p_secrets) AS r(id, secret) ON r.id = k.key_id
            WHERE c.status = 'active' OR (c.status = 'disabled' AND k.lifecycle_status = 'revoked')
            ORDER BY c.platform, c.platform_account_id;
    END IF;
    PERFORM set_config('app.current_tenant_id', coalesce(previous, ''), true);
END
$$
"""


def _entry_write(signature: str, about: str, values: str, on_conflict: str) -> str:
    """One of the entry's two upserts as a function. Both return the entry as stored, in
    CacheEntryState's field order. With p_async_commit the commit returns before its WAL
    reaches disk: a cache entry is derived data the next refresh rebuilds (the caller asks
    for it only outside a transaction)."""
    return f"""
CREATE FUNCTION {signature}
RETURNS TABLE (
    payload jsonb, etag text, data_as_of timestamptz, expires_at timestamptz,
    error_cooldown_until timestamptz, last_error_at timestamptz, last_error_message text
)
LANGUAGE plpgsql SECURITY INVOKER AS $$
-- {about}
#variable_conflict use_column
DECLARE
    previous text := current_setting('app.current_tenant_id', true);
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant::text, true);
    IF p_async_commit THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO revenue_cache_entries AS e (
        tenant_id, cache_key, payload, data_as_of, expires_at, error_cooldown_until,
        last_error_at, last_error_message, etag, created_at, updated_at
    ) VALUES ({values})
    ON CONFLICT (tenant_id, cache_key) DO UPDATE SET {on_conflict}
    RETURNING e.payload, e.etag, e.data_as_of, e.expires_at, e.error_cooldown_until, e.last_error_at,
              e.last_error_message
    INTO payload, etag, data_as_of, expires_at, error_cooldown_until, last_error_at, last_error_message;
    PERFORM set_config('app.current_tenant_id', coalesce(previous, ''), true);
    RETURN NEXT;
END
$$
"""


STORE_SNAPSHOT = _entry_write(
    "revenue_entry_store_snapshot(p_tenant uuid, p_cache_key text, p_payload jsonb, p_data_as_of timestamptz,"
    " p_expires_at timestamptz, p_error_at timestamptz, p_error text, p_etag text, p_now timestamptz,"
    " p_async_commit boolean)",
    "A successful (or partial) refresh: new payload, fresh until p_expires_at, cooldown cleared;"
    " p_error describes the failed sources of a partial one.",
    "p_tenant, p_cache_key, p_payload, p_data_as_of, p_expires_at, NULL, p_error_at, p_error, p_etag, p_now, p_now",
    "payload = EXCLUDED.payload, data_as_of = EXCLUDED.data_as_of, expires_at = EXCLUDED.expires_at,"
    " error_cooldown_until = NULL, last_error_at = COALESCE(EXCLUDED.last_error_at, e.last_error_at),"
    " last_error_message = EXCLUDED.last_error_message, etag = EXCLUDED.etag, updated_at = EXCLUDED.updated_at",
)

STORE_FAILURE = _entry_write(
    "revenue_entry_store_failure(p_tenant uuid, p_cache_key text, p_now timestamptz, p_until timestamptz,"
    " p_error text, p_async_commit boolean)",
    "A refresh where nothing succeeded: the last good payload and its data_as_of stay; the entry"
    " cools down until p_until.",
    "p_tenant, p_cache_key, NULL, NULL, p_now, p_until, p_now, p_error, NULL, p_now, p_now",
    "error_cooldown_until = EXCLUDED.error_cooldown_until, last_error_at = EXCLUDED.last_error_at,"
    " last_error_message = EXCLUDED.last_error_message, updated_at = EXCLUDED.updated_at",
)


class Migration(migrations.Migration):
    dependencies = [
        ("skeldir", "0001_initial"),
        ("connections", "0002_oauth_handshake_sessions"),
        ("revenue", "0002_operator_grants"),
    ]

    operations = [
        runtime_function(REFRESH_READ, "revenue_refresh_read(uuid, text, text[], text[], bigint)"),
        runtime_function(
            STORE_SNAPSHOT,
            "revenue_entry_store_snapshot(uuid, text, jsonb, timestamptz, timestamptz, timestamptz, text, text,"
            " timestamptz, boolean)",
        ),
        runtime_function(
            STORE_FAILURE, "revenue_entry_store_failure(uuid, text, timestamptz, timestamptz, text, boolean)"
        ),
    ]
