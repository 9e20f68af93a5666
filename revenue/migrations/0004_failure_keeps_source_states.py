"""A refresh where every source failed now also writes each source's new state over its
last good figures (DESIGN.md §7): the stale snapshot served during the cooldown says which
source failed how, with each figure's own as-of. `revenue_entry_store_failure` gains the
payload and its ETag; without them (no earlier payload) it behaves as before. The entry's
`data_as_of` and `expires_at` stay those of the last good refresh either way.
"""

import importlib

from django.db import migrations

from skeldir.db_operations import runtime_function

_previous = importlib.import_module("revenue.migrations.0003_refresh_functions")

OLD_SIGNATURE = "revenue_entry_store_failure(uuid, text, timestamptz, timestamptz, text, boolean)"
NEW_SIGNATURE = "revenue_entry_store_failure(uuid, text, timestamptz, timestamptz, text, jsonb, text, boolean)"

# Built by 0003's template, so the two upserts keep one shape.
STORE_FAILURE = _previous._entry_write(
    "revenue_entry_store_failure(p_tenant uuid, p_cache_key text, p_now timestamptz, p_until timestamptz,"
    " p_error text, p_payload jsonb, p_etag text, p_async_commit boolean)",
    "A refresh where nothing succeeded: the entry cools down until p_until; data_as_of and"
    " expires_at stay. With p_payload (the last good figures under each source's new state)"
    " and p_etag, an existing payload is replaced by it; a missing one stays missing.",
    "p_tenant, p_cache_key, NULL, NULL, p_now, p_until, p_now, p_error, NULL, p_now, p_now",
    "payload = CASE WHEN e.payload IS NULL OR p_payload IS NULL THEN e.payload ELSE p_payload END,"
    " etag = CASE WHEN e.payload IS NULL OR p_payload IS NULL THEN e.etag ELSE p_etag END,"
    " error_cooldown_until = EXCLUDED.error_cooldown_until, last_error_at = EXCLUDED.last_error_at,"
    " last_error_message = EXCLUDED.last_error_message, updated_at = EXCLUDED.updated_at",
)


def _replace_old() -> migrations.RunPython:
    """Drops the old function; its reverse creates it again as 0003 did (SQL and grants)."""
    old = runtime_function(_previous.STORE_FAILURE, OLD_SIGNATURE)
    return migrations.RunPython(old.reverse_code, old.code)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0003_refresh_functions")]

    operations = [_replace_old(), runtime_function(STORE_FAILURE, NEW_SIGNATURE)]
