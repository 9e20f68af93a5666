"""The refresh's one-statement read and writes (revenue/migrations/0003): the same rows,
the same row-level security and the same tenant-setting hygiene as the transactions they
replace, with columns that follow the models."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from connections.models import PlatformConnection
from connections.selectors import CONNECTION_WIDTH, connection_list_active
from connections.services import credential_mark_revoked
from revenue.models import REALTIME_CACHE_KEY
from revenue.selectors import _ENTRY_END, _FIELDS, _TENANT_WIDTH, RefreshInputs, refresh_inputs_read
from revenue.services import cache_entry_store_failure, cache_entry_store_snapshot
from revenue.snapshot import Snapshot, day_window
from skeldir.models import Tenant
from skeldir.tenancy import TENANT_SETTING, tenant_context
from tests.factories import make_connection, make_tenant


def _setting(name: str = TENANT_SETTING) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0] or ""


def _snapshot(tenant_id: uuid.UUID) -> Snapshot:
    now = timezone.now()
    start, end = day_window(now, "UTC")
    return Snapshot(
        tenant_id=tenant_id,
        interval="day",
        window_start=start,
        window_end=end,
        currency="USD",
        sources=(),
        data_as_of=now,
    )


@pytest.mark.django_db
def test_the_read_functions_columns_follow_the_models():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM revenue_refresh_read(%s, %s, '{}', '{}', NULL)", [uuid.uuid4(), REALTIME_CACHE_KEY]
        )
        names = [column.name for column in cursor.description]
    credential = ["id", "key_id", "expires_at", "next_refresh_due_at", "lifecycle_status", "refresh_failure_count"]
    assert names == [
        *(f"t_{field.column}" for field in Tenant._meta.concrete_fields),
        "e_found",
        *(f"e_{name}" for name in _FIELDS),
        *(f"c_{field.column}" for field in PlatformConnection._meta.concrete_fields),
        *(f"k_{name}" for name in credential),
        "k_key_known",
        "k_access_token",
        "k_refresh_token",
    ]
    assert (_TENANT_WIDTH, _ENTRY_END - _TENANT_WIDTH - 1, CONNECTION_WIDTH) == (
        len(Tenant._meta.concrete_fields),
        len(_FIELDS),
        len(PlatformConnection._meta.concrete_fields),
    )


@pytest.mark.django_db
def test_the_read_reports_the_connections_connection_list_active_reports_and_no_other_tenants():
    tenant, other = make_tenant(), make_tenant()
    make_connection(tenant, "stripe", "acct_active", access_token="tok-active", refresh_token="rt-active")
    make_connection(tenant, "shopify", "shop-without-credential.myshopify.com", access_token=None)
    disabled = make_connection(tenant, "stripe", "acct_disabled", access_token="tok-disabled")
    disconnected = make_connection(tenant, "woocommerce", "https://gone.example.com", access_token="ck:cs")
    make_connection(other, "stripe", "acct_other_tenant", access_token="tok-other")
    with tenant_context(tenant.id), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE platform_connections SET status = 'disabled' WHERE id = ANY(%s)", [[disabled.id, disconnected.id]]
        )
        cursor.execute("SELECT id FROM platform_credentials WHERE platform_connection_id = %s", [disconnected.id])
        credential_mark_revoked(credential_id=cursor.fetchone()[0], failure_class="invalid_grant")
        expected = [conn.platform_account_id for conn in connection_list_active()]

    inputs = refresh_inputs_read(tenant.id)

    assert inputs.tenant == tenant and inputs.tenant.timezone == tenant.timezone
    assert inputs.entry is None
    assert (
        [conn.platform_account_id for conn, _ in inputs.connections]
        == expected
        == [
            "shop-without-credential.myshopify.com",
            "acct_active",
            "https://gone.example.com",
        ]
    )
    tokens = {conn.platform_account_id: credential for conn, credential in inputs.connections}
    assert (tokens["acct_active"].access_token, tokens["acct_active"].refresh_token) == ("tok-active", "rt-active")
    assert tokens["shop-without-credential.myshopify.com"] is None
    revoked = tokens["https://gone.example.com"]
    assert revoked.lifecycle_status == "revoked" and revoked.access_token == ""  # never decrypted
    assert all(conn.tenant_id == tenant.id for conn, _ in inputs.connections)


@pytest.mark.django_db
def test_an_unknown_tenant_reads_as_missing():
    assert refresh_inputs_read(uuid.uuid4()) == RefreshInputs(tenant=None, entry=None, connections=[])


def test_outside_a_transaction_the_tenant_setting_ends_with_each_statement(committed_db):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="tok-one")
    assert not connection.in_atomic_block

    assert refresh_inputs_read(tenant.id).connections
    assert _setting() == ""
    stored = cache_entry_store_snapshot(
        tenant_id=tenant.id, snapshot=_snapshot(tenant.id), now=timezone.now(), durable=False
    )
    # The asynchronous commit was that statement's own: the session is back to durable.
    assert _setting() == "" and _setting("synchronous_commit") == "on"
    assert refresh_inputs_read(tenant.id).entry == stored

    # With no tenant set nothing is visible: the function's setting did not outlive it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM revenue_cache_entries")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_inside_a_transaction_each_function_puts_back_the_tenant_it_found_and_keeps_commits_durable():
    tenant, other = make_tenant(), make_tenant()
    make_connection(other, "stripe", "acct_other", access_token="tok-other")
    with tenant_context(tenant.id):
        assert refresh_inputs_read(other.id).connections  # the other tenant's, by its own setting
        assert _setting() == str(tenant.id)
        now = timezone.now()
        failed = cache_entry_store_failure(
            tenant_id=other.id, now=now, cooldown_seconds=60, error_message="stripe acct_other: upstream", durable=False
        )
        assert failed.error_cooldown_until == now + timedelta(seconds=60)
        assert _setting() == str(tenant.id)
        # The caller's transaction decides its own durability.
        assert _setting("synchronous_commit") == "on"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM revenue_cache_entries")
            assert cursor.fetchone()[0] == 0  # the other tenant's entry is not visible here


@pytest.mark.django_db
def test_a_failing_read_inside_a_transaction_leaves_that_transaction_usable(settings):
    from connections.selectors import CredentialBatchUndecryptable
    from tests.connections.test_credentials import ring

    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="tok-one")
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("test-k1", **{"test-k1": "not-the-right-secret-0123456789abcdef"})
    with transaction.atomic():
        with pytest.raises(CredentialBatchUndecryptable):
            refresh_inputs_read(tenant.id)
        assert _setting() == ""  # and the transaction still answers


@pytest.mark.django_db
def test_only_the_runtime_role_and_the_owner_may_execute_the_functions(settings):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, proacl::text[], prosecdef FROM pg_proc"
            " WHERE proname IN ('revenue_refresh_read', 'revenue_entry_store_snapshot', 'revenue_entry_store_failure')"
        )
        rows = cursor.fetchall()
    assert len(rows) == 3
    for name, acl, security_definer in rows:
        assert not security_definer, name  # runs as the caller: row-level security applies
        assert not [entry for entry in acl if entry.startswith("=")], (name, acl)  # nothing for PUBLIC
        assert any(entry.startswith(f"{settings.DATABASE_RUNTIME_ROLE}=X") for entry in acl), (name, acl)


def test_a_refresh_takes_the_lock_in_its_read_and_reads_nothing_while_another_session_holds_it(committed_db, platforms):
    from django.db import connections

    from revenue.realtime import revenue_refresh, tenant_lock_key
    from tests.stubs import Behaviour, held_advisory_locks, stripe_list

    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    platforms.stripe.set("sk_one", Behaviour(body=stripe_list(100)))
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [tenant_lock_key(tenant.id)])
        assert refresh_inputs_read(tenant.id, lock_key=tenant_lock_key(tenant.id)) is None
        assert revenue_refresh(tenant.id, correlation_id="cid").outcome == "locked"
        assert platforms.stripe.total == 0
        assert held_advisory_locks() == 1  # the other session's, and only that
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [tenant_lock_key(tenant.id)])
    finally:
        other.close()

    assert revenue_refresh(tenant.id, correlation_id="cid").outcome == "refreshed"
    assert held_advisory_locks() == 0  # taken by the read, released after the write


def test_a_read_that_fails_after_taking_the_lock_still_releases_it(committed_db, settings, platforms):
    from revenue.realtime import revenue_refresh
    from tests.connections.test_credentials import ring
    from tests.stubs import Behaviour, held_advisory_locks, stripe_list

    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    platforms.stripe.set("sk_one", Behaviour(body=stripe_list(100)))
    # The credential's key id keeps its name but not its secret: the batch read takes the
    # lock, then fails to decrypt; the refresh reads one by one under that lock.
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("test-k1", **{"test-k1": "not-the-right-secret-0123456789abcdef"})
    result = revenue_refresh(tenant.id, correlation_id="cid")
    assert result.outcome == "failed" and "cannot be decrypted" in result.entry.last_error_message
    assert held_advisory_locks() == 0


def test_a_read_that_loses_its_connection_raises_that_error_and_leaves_no_lock(committed_db):
    from django.db import OperationalError

    from revenue.realtime import revenue_refresh
    from tests.stubs import held_advisory_locks, terminate_server_session

    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    terminate_server_session()
    # The release after the failure finds the session gone and closes it quietly: what
    # reaches the caller is the read's own error.
    with pytest.raises(OperationalError):
        revenue_refresh(tenant.id, correlation_id="cid")
    connection.close()
    assert held_advisory_locks() == 0
