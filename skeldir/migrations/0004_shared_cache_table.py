"""The shared cache's table (`CACHES`, `dbcache://skeldir_cache` by default): the API's rate
limit counters live there so every worker counts against one budget. Created as Django's
`createcachetable` would (owner-owned; the runtime role gets DML through the default
privileges); nothing is created when the cache is elsewhere (Redis, local memory)."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_tables(apps, schema_editor):
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.db import BaseDatabaseCache

    with schema_editor.connection.cursor() as cursor:
        for alias in settings.CACHES:
            cache = caches[alias]
            if isinstance(cache, BaseDatabaseCache):
                cursor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(cache._table)}")


class Migration(migrations.Migration):
    dependencies = [("skeldir", "0003_admin_accounts_role")]

    operations = [migrations.RunPython(create_cache_tables, drop_cache_tables)]
