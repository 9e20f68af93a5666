"""Row-level security through the runtime role (DESIGN.md §4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connections.models import PlatformConnection, PlatformCredential
from revenue.models import RevenueCacheEntry
from skeldir.tenancy import InvalidTenant, tenant_context
from tests.factories import make_connection, make_tenant

TENANT_TABLES = ("platform_connections", "platform_credentials", "revenue_cache_entries")


def _seed(tenant):
    conn = make_connection(tenant, "stripe", f"acct_{tenant.name}")
    with tenant_context(tenant.id):
        RevenueCacheEntry.objects.create(tenant=tenant, payload={"t": tenant.name}, expires_at=timezone.now())
    return conn


def _counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for table in TENANT_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            result[table] = cursor.fetchone()[0]
        return result


@pytest.mark.django_db
def test_runtime_role_is_not_superuser_bypassrls_or_owner():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, is_super, bypass = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user")
        owned = cursor.fetchone()[0]
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
            [list(TENANT_TABLES)],
        )
        rls = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
    assert user == "skeldir_app"
    assert is_super is False and bypass is False
    assert owned == 0
    assert rls == {table: (True, True) for table in TENANT_TABLES}


@pytest.mark.django_db
def test_a_tenant_sees_and_writes_only_its_own_rows():
    a, b = make_tenant("a"), make_tenant("b")
    _seed(a), _seed(b)
    with tenant_context(a.id):
        assert _counts() == dict.fromkeys(TENANT_TABLES, 1)
        assert set(PlatformConnection.objects.values_list("tenant_id", flat=True)) == {a.id}
        assert set(PlatformCredential.objects.values_list("tenant_id", flat=True)) == {a.id}
        assert set(RevenueCacheEntry.objects.values_list("tenant_id", flat=True)) == {a.id}
        # Unfiltered writes reach only A's rows.
        assert PlatformConnection.objects.update(status="disabled") == 1
        assert PlatformCredential.objects.update(scope="x") == 1
        assert RevenueCacheEntry.objects.update(etag='"a"') == 1
        assert RevenueCacheEntry.objects.all().delete()[0] == 1
    with tenant_context(b.id):
        assert PlatformConnection.objects.get().status == "active"
        assert PlatformCredential.objects.get().scope is None
        assert RevenueCacheEntry.objects.count() == 1


@pytest.mark.django_db
def test_no_tenant_set_means_no_rows_not_an_error():
    a = make_tenant("a")
    _seed(a)
    assert _counts() == dict.fromkeys(TENANT_TABLES, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.current_tenant_id', '', true)")
    assert _counts() == dict.fromkeys(TENANT_TABLES, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("table", TENANT_TABLES)
def test_writing_another_tenants_row_is_rejected_by_the_policy(table):
    a, b = make_tenant("a"), make_tenant("b")
    conn_b = _seed(b)
    inserts = {
        "platform_connections": (
            "INSERT INTO platform_connections (tenant_id, platform, platform_account_id) VALUES (%s, 'stripe', 'x')",
            [b.id],
        ),
        "platform_credentials": (
            "INSERT INTO platform_credentials (tenant_id, platform_connection_id, platform, "
            "encrypted_access_token, key_id) VALUES (%s, %s, 'stripe', '\\x00', 'k')",
            [b.id, conn_b.id],
        ),
        "revenue_cache_entries": (
            "INSERT INTO revenue_cache_entries (tenant_id, cache_key, expires_at) VALUES (%s, 'k', now())",
            [b.id],
        ),
    }
    sql, params = inserts[table]
    with tenant_context(a.id):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)


@pytest.mark.django_db
def test_moving_a_row_to_another_tenant_is_rejected():
    a, b = make_tenant("a"), make_tenant("b")
    _seed(a)
    with tenant_context(a.id):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():
                RevenueCacheEntry.objects.update(tenant_id=b.id)


@pytest.mark.django_db
def test_a_malformed_tenant_id_is_refused_before_the_database():
    with pytest.raises(InvalidTenant):
        with tenant_context("not-a-uuid"):
            pass


def test_the_tenant_setting_does_not_outlive_its_transaction(committed_db):
    a = make_tenant("a")
    _seed(a)
    assert not connection.in_atomic_block
    with tenant_context(a.id):
        assert _counts() == dict.fromkeys(TENANT_TABLES, 1)
    # Same connection, next transaction (autocommit): nothing visible, setting gone.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_setting('app.current_tenant_id', true)")
        _, setting = cursor.fetchone()
    assert setting in (None, "")
    assert _counts() == dict.fromkeys(TENANT_TABLES, 0)


def test_a_failed_tenant_block_leaves_no_setting_behind(committed_db):
    a = make_tenant("a")
    _seed(a)
    with pytest.raises(RuntimeError):
        with tenant_context(a.id):
            assert _counts()["platform_connections"] == 1
            raise RuntimeError("boom")
    assert _counts() == dict.fromkeys(TENANT_TABLES, 0)


@pytest.mark.django_db
def test_deleting_a_tenant_cascades_in_the_database():
    a = make_tenant("a")
    _seed(a)
    tenant_id = a.id
    with tenant_context(tenant_id):  # the tenants table is under the policy too
        a.delete()
    with tenant_context(tenant_id):
        assert _counts() == dict.fromkeys(TENANT_TABLES, 0)


@pytest.mark.django_db
def test_a_credential_cannot_point_at_another_tenants_connection():
    a, b = make_tenant("a"), make_tenant("b")
    conn_b = _seed(b)
    with tenant_context(a.id):
        with pytest.raises(DatabaseError):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO platform_credentials (tenant_id, platform_connection_id, platform, "
                    "encrypted_access_token, key_id) VALUES (%s, %s, 'stripe', '\\x00', 'k')",
                    [a.id, conn_b.id],
                )


@pytest.mark.django_db
def test_expired_rows_are_still_tenant_scoped():
    a = make_tenant("a")
    with tenant_context(a.id):
        RevenueCacheEntry.objects.create(tenant=a, expires_at=timezone.now() - timedelta(days=1))
        assert RevenueCacheEntry.objects.count() == 1
