"""The statements a cache hit costs, counted on a real connection outside any test
transaction (savepoints would inflate the count): begin, tenant setting, read, commit at
most, and never an authentication query."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_list

V1 = "/api/v1/revenue/realtime"


def _hit(api, mint, tenant, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(V1, token=mint(tenant.id), **headers)
    return response, [q["sql"] for q in queries.captured_queries]


def test_a_cache_hit_costs_at_most_four_statements(committed_db, api, mint, platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_1")
    platforms.stripe.set("sk_1", Behaviour(body=stripe_list(100)))
    first = api.get(V1, token=mint(tenant.id))
    assert first.status_code == 200

    response, statements = _hit(api, mint, tenant)
    assert response.status_code == 200
    assert len(statements) <= 4, statements
    assert not any("auth_user" in sql or "tenants" in sql.split("FROM")[-1] for sql in statements)

    response, statements = _hit(api, mint, tenant, if_none_match=first["ETag"])
    assert response.status_code == 304 and len(statements) <= 4, statements
    assert platforms.stripe.total == 1
    assert uuid.UUID(response["X-Correlation-ID"])
