"""Least privilege of the runtime role (issue 18, finding 9): an SQL-level foothold in the API's
role used to reach Django's accounts (password hashes, sessions, group memberships: a staff
login whose admin sees every tenant) and the list of every tenant. Each attack is replayed
as the runtime role on a connection of its own, as an attacker holding it would; the admin
still logs in over HTTP and sees every tenant, and the cron still walks every tenant."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import requests
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext

from skeldir.routers import ADMIN_DB, AdminAccountsRouter
from skeldir.tenancy import tenant_create, tenant_ids_iter, tenant_shard
from tests.factories import make_tenant

PASSWORD = "correct-horse-battery-least-privilege"
ACCOUNT_TABLES = sorted(
    {
        model._meta.db_table
        for label in AdminAccountsRouter.app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }
)
TENANT_TABLES = (
    "tenants",
    "platform_connections",
    "platform_credentials",
    "revenue_cache_entries",
    "oauth_handshake_sessions",
)


def _connect(alias: str) -> psycopg.Connection:
    db = settings.DATABASES[alias]
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None, port=db["PORT"] or None, autocommit=True
    )


@pytest.fixture
def runtime_sql(committed_db: None) -> Iterator[psycopg.Connection]:
    """A connection as the runtime role (what an SQL injection in the API would hold)."""
    with _connect("default") as conn:
        yield conn


def _refused(conn: psycopg.Connection, sql: str, params: list | None = None) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(sql, params)
    return str(refused.value)


def test_the_account_tables_are_the_ones_the_attack_used():
    assert {
        "auth_user",
        "auth_user_groups",
        "auth_group",
        "auth_permission",
        "django_session",
        "django_admin_log",
        "django_content_type",
        "axes_accessattempt",
        "axes_accesslog",
    } <= set(ACCOUNT_TABLES)


@pytest.mark.parametrize("table", ACCOUNT_TABLES)
def test_the_runtime_role_cannot_read_an_account_table(runtime_sql, table):
    assert "permission denied" in _refused(runtime_sql, f"SELECT * FROM {table} LIMIT 1")


def test_the_runtime_role_cannot_forge_a_staff_session_or_membership(runtime_sql):
    user = get_user_model().objects.create_user(username=f"victim-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    forged = f"forged{uuid.uuid4().hex}"
    try:
        _refused(
            runtime_sql,
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, 'x', now())",
            [forged],
        )
        _refused(runtime_sql, "INSERT INTO auth_user_groups (user_id, group_id) VALUES (%s, 1)", [user.pk])
        _refused(runtime_sql, "UPDATE auth_user SET is_staff = true, is_superuser = true WHERE id = %s", [user.pk])
        _refused(runtime_sql, "DELETE FROM axes_accessattempt")
        _refused(runtime_sql, "SELECT nextval('auth_user_id_seq')")

        user.refresh_from_db()
        assert (user.is_staff, user.is_superuser, user.groups.count()) == (False, False, 0)
        assert not Session.objects.filter(session_key=forged).exists()
    finally:
        user.delete()


def test_every_account_table_is_closed_to_the_runtime_role_and_open_to_the_admins(committed_db):
    """Also tables a later Django or django-axes adds: the runtime role's default privileges
    grant it DML on every new table until a migration hands the table to the admin's role
    (skeldir.db_operations.admin_accounts_tables)."""
    runtime, admin = settings.DATABASE_RUNTIME_ROLE, settings.DATABASE_ADMIN_ROLE
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT relname, has_table_privilege(%s, oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES'), "
            "has_table_privilege(%s, oid, 'SELECT') AND has_table_privilege(%s, oid, 'INSERT') "
            "AND has_table_privilege(%s, oid, 'UPDATE') AND has_table_privilege(%s, oid, 'DELETE') "
            "FROM pg_class WHERE relkind = 'r' AND relname = ANY(%s)",
            [runtime, admin, admin, admin, admin, ACCOUNT_TABLES],
        )
        rows = {name: (runtime_may, admin_may) for name, runtime_may, admin_may in cursor.fetchall()}
        cursor.execute(
            "SELECT s.relname, CASE WHEN s.relkind = 'S' THEN has_sequence_privilege(%s, s.oid, 'USAGE, SELECT') END "
            "FROM pg_class s "
            "JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i') "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "WHERE s.relkind = 'S' AND t.relname = ANY(%s)",
            [runtime, ACCOUNT_TABLES],
        )
        sequences = dict(cursor.fetchall())
    connections["owner"].close()
    assert rows == dict.fromkeys(ACCOUNT_TABLES, (False, True))
    assert "auth_user_id_seq" in sequences and not any(sequences.values())


def test_the_admins_role_sees_no_tenant_table_and_bypasses_nothing(committed_db):
    make_tenant("admin-role-probe")
    with _connect(ADMIN_DB) as conn:
        assert conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False, False, False, False)
        for table in TENANT_TABLES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")


def test_an_api_request_never_reaches_the_admin_accounts(committed_db, api, mint):
    tenant = make_tenant("api-no-accounts")
    with CaptureQueriesContext(connections[ADMIN_DB]) as admin_queries:
        listed = api.get("/api/v1/connections", token=mint(tenant.id))
        refused = api.get("/api/v1/connections", token="not-a-token")
    assert (listed.status_code, refused.status_code) == (200, 401)
    assert admin_queries.captured_queries == []


def test_the_runtime_role_sees_only_the_current_tenant(runtime_sql):
    a, b = make_tenant("rls-a"), make_tenant("rls-b")
    assert runtime_sql.execute("SELECT id FROM tenants").fetchall() == []  # no tenant set
    assert runtime_sql.execute("SELECT count(*) FROM tenants WHERE name LIKE 'rls-%'").fetchone() == (0,)
    with runtime_sql.transaction():
        runtime_sql.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(a.id)])
        assert runtime_sql.execute("SELECT id, name FROM tenants").fetchall() == [(a.id, "rls-a")]
        assert runtime_sql.execute("UPDATE tenants SET name = 'renamed' WHERE id = %s", [b.id]).rowcount == 0
    with runtime_sql.transaction():
        runtime_sql.execute("SELECT set_config('app.current_tenant_id', '', true)")
        assert runtime_sql.execute("SELECT id FROM tenants").fetchall() == []


def test_the_runtime_role_creates_a_tenant_only_as_the_current_one(runtime_sql):
    current, other = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        with runtime_sql.transaction():
            runtime_sql.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(current)])
            runtime_sql.execute("INSERT INTO tenants (id, name) VALUES (%s, 'smuggled')", [other])
    assert other not in set(tenant_ids_iter())

    created = tenant_create(name="created-narrowly", reporting_currency="eur")
    assert created.reporting_currency == "EUR" and created.id in set(tenant_ids_iter())


def test_the_tenant_list_function_gives_ids_only_and_only_to_the_service(runtime_sql):
    a, b = make_tenant("list-a"), make_tenant("list-b")
    ids = [row[0] for row in runtime_sql.execute("SELECT * FROM tenant_ids_list(NULL, NULL)").fetchall()]
    assert {a.id, b.id} <= set(ids)
    assert [column.name for column in runtime_sql.execute("SELECT * FROM tenant_ids_list(1, 1)").description] == [
        "tenant_ids_list"
    ]
    with _connect(ADMIN_DB) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM tenant_ids_list(NULL, NULL)")


def _cycle(*args: str) -> dict:
    out = io.StringIO()
    call_command("refresh_revenue", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_the_cron_still_walks_every_tenant_and_its_shards(committed_db):
    tenants = {make_tenant(f"cron-{n}").id for n in range(6)}

    whole = _cycle("--ahead", "0")
    shards = [_cycle("--ahead", "0", "--shard", f"{k}/2") for k in (1, 2)]

    assert (whole["tenants_seen"], whole["tenants_due"], whole["failed"]) == (6, 6, 0)
    assert [shard["tenants_seen"] for shard in shards] == [
        sum(tenant_shard(t, 2) == k for t in tenants) for k in (1, 2)
    ]
    assert set(tenant_ids_iter()) == tenants


@pytest.fixture
def operator_login(committed_db, settings):
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False  # the live server is plain http
    user = get_user_model().objects.create_user(
        username=f"ops-{uuid.uuid4().hex[:8]}", password=PASSWORD, is_staff=True, is_superuser=True
    )
    yield user
    user.delete()


def test_the_admin_still_logs_in_and_sees_every_tenant(live_url, operator_login, runtime_sql):
    names = [make_tenant(f"admin-sees-{n}").name for n in range(3)]
    browser = requests.Session()
    page = browser.get(f"{live_url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    login = browser.post(
        f"{live_url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": operator_login.username, "password": PASSWORD},
        headers={"Referer": f"{live_url}/admin/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 302 and "sessionid" in browser.cookies

    tenants = browser.get(f"{live_url}/admin/skeldir/tenant/", timeout=10)
    assert tenants.status_code == 200
    assert all(name in tenants.text for name in names)
    # The session is stored where the admin's role reads it, out of the runtime role's reach.
    assert Session.objects.filter(session_key=browser.cookies["sessionid"]).exists()
    _refused(runtime_sql, "SELECT 1 FROM django_session WHERE session_key = %s", [browser.cookies["sessionid"]])
