"""The operators' cross-tenant path (skeldir.operator): a BYPASSRLS role that is no
superuser and owns nothing, reads every tenant but never the encrypted tokens, updates
only the columns the admin actions touch, and answers only inside operator_access()."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, connections

from revenue.models import RevenueCacheEntry
from skeldir.operator import OPERATOR_DB, OperatorAccessDenied, operator_access
from tests.factories import make_connection, make_tenant


@pytest.mark.django_db
def test_the_operator_role_bypasses_rls_but_is_no_superuser_and_owns_nothing():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s",
            [connections[OPERATOR_DB].settings_dict["USER"]],
        )
        assert cursor.fetchone() == (False, True, False, False, True)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s",
            [connections[OPERATOR_DB].settings_dict["USER"]],
        )
        assert cursor.fetchone()[0] == 0


@pytest.fixture
def two_tenants(committed_db):
    for name in ("one", "two"):
        make_connection(make_tenant(name), "stripe", f"acct_{name}", access_token=f"sk_test_operator_{name}_token")


def _run(sql: str) -> list[tuple]:
    with operator_access(), connections[OPERATOR_DB].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


def test_the_operator_role_reads_every_tenant_but_not_the_encrypted_tokens(two_tenants):
    assert _run("SELECT count(DISTINCT tenant_id) FROM platform_connections") == [(2,)]
    assert _run("SELECT count(*) FROM platform_credentials WHERE lifecycle_status = 'active'") == [(2,)]
    for sql in (
        "SELECT encrypted_access_token FROM platform_credentials",
        "SELECT encrypted_refresh_token FROM platform_credentials",
        "SELECT * FROM platform_credentials",
    ):
        with pytest.raises(DatabaseError, match="permission denied"):
            _run(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE platform_connections SET platform_account_id = 'x'",
        "UPDATE platform_credentials SET lifecycle_status = 'active'",
        "UPDATE revenue_cache_entries SET payload = NULL",
        "UPDATE tenants SET name = 'x'",
        "DELETE FROM platform_connections",
        "INSERT INTO tenants (name) VALUES ('x')",
        "TRUNCATE revenue_cache_entries",
        "CREATE TABLE operator_was_here (id int)",
    ],
)
def test_the_operator_role_changes_nothing_but_what_the_admin_actions_touch(two_tenants, sql):
    with pytest.raises(DatabaseError, match="permission denied"):
        _run(sql)


def test_the_admin_actions_columns_are_writable(two_tenants):
    assert _run("UPDATE platform_connections SET status = status, updated_at = now() RETURNING id").__len__() == 2
    assert len(_run("UPDATE platform_credentials SET next_refresh_due_at = NULL RETURNING id")) == 2


def test_the_operator_alias_refuses_every_statement_outside_operator_access(committed_db):
    with pytest.raises(OperatorAccessDenied):
        RevenueCacheEntry.objects.using(OPERATOR_DB).count()
    with pytest.raises(OperatorAccessDenied), connections[OPERATOR_DB].cursor() as cursor:
        cursor.execute("SELECT 1")
    with operator_access():
        assert RevenueCacheEntry.objects.using(OPERATOR_DB).count() == 0
