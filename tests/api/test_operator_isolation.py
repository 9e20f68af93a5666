"""The API and the refresher never reach the operators' cross-tenant path: across every
kind of answer (leader, hit, 304, cooldown 503, legacy) and a cron cycle, not one
connection to the operator alias is opened, in any thread."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from revenue.batch import revenue_refresh_due
from skeldir.operator import OPERATOR_DB, operator_access
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_error, stripe_list

V1 = "/api/v1/revenue/realtime"
LEGACY = "/api/attribution/revenue/realtime"


@pytest.fixture
def opened_aliases():
    """The alias of every database connection opened meanwhile, in any thread."""
    opened: list[str] = []

    def record(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(record, weak=False)
    try:
        yield opened
    finally:
        connection_created.disconnect(record)


def test_api_requests_and_a_refresh_cycle_never_open_the_operator_alias(
    committed_db, api, mint, platforms, opened_aliases
):
    ok, failing = make_tenant("ok"), make_tenant("failing")
    make_connection(ok, "stripe", "acct_ok", access_token="sk_test_isolation_ok")
    make_connection(failing, "stripe", "acct_bad", access_token="sk_test_isolation_bad")
    platforms.stripe.set("sk_test_isolation_ok", Behaviour(body=stripe_list(100)))
    platforms.stripe.set("sk_test_isolation_bad", Behaviour(500, stripe_error(500, "api_error")))
    connections.close_all()  # so every connection this test uses is opened (and seen) anew

    leader = api.get(V1, token=mint(ok.id))
    hit = api.get(LEGACY, token=mint(ok.id))
    not_modified = api.get(V1, token=mint(ok.id), If_None_Match=leader["ETag"])
    cooling = api.get(V1, token=mint(failing.id))
    unknown = api.get(V1, token=mint(uuid.uuid4()))
    summary = revenue_refresh_due(concurrency=2, ahead_seconds=3600)

    assert [r.status_code for r in (leader, hit, not_modified, cooling, unknown)] == [200, 200, 304, 503, 404]
    assert summary.refreshed == 1  # the cooling tenant is not due
    assert "default" in opened_aliases
    assert OPERATOR_DB not in opened_aliases

    with operator_access(), connections[OPERATOR_DB].cursor() as cursor:  # the check sees it when it happens
        cursor.execute("SELECT 1")
    assert OPERATOR_DB in opened_aliases
