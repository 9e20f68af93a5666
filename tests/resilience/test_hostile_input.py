"""Hostile requests: malformed and oversized headers, SQL-looking correlation ids, huge
and forged tokens, tokens for unknown tenants — each a precise 4xx problem, never a 5xx —
and 1,000 concurrent requests from 50 tenants, every answer carrying only its own
tenant's data."""

from __future__ import annotations

import concurrent.futures
import random
import uuid

import pytest
import requests
from django.utils import timezone

from revenue.services import cache_entry_store_snapshot
from revenue.snapshot import Figures, Snapshot, SourceState, day_window
from skeldir.tenancy import tenant_context, tenant_create
from tests.factories import make_tenant

V1 = "/api/v1/revenue/realtime"


def _fresh_tenant(minor: int):
    """A tenant whose entry is fresh and whose total is `minor` (unique per tenant)."""
    tenant = tenant_create(name=f"hostile-{minor}")
    now = timezone.now()
    start, end = day_window(now, "UTC")
    with tenant_context(tenant.id):
        cache_entry_store_snapshot(
            tenant_id=tenant.id,
            now=now,
            snapshot=Snapshot(
                tenant_id=tenant.id,
                interval="day",
                window_start=start,
                window_end=end,
                currency="USD",
                sources=(
                    SourceState(
                        str(uuid.uuid4()),
                        "stripe",
                        f"acct_{minor}",
                        "sales",
                        "ok",
                        Figures({"USD": minor}, 1, now, start),
                    ),
                ),
                data_as_of=now,
            ),
        )
    return tenant


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"HTTP_AUTHORIZATION": "Bearer " + "A" * 20_000}, 401, "token_malformed"),
        ({"HTTP_AUTHORIZATION": "Bearer"}, 401, "token_malformed"),
        ({"HTTP_AUTHORIZATION": "Bearer a b c"}, 401, "token_malformed"),
        ({"HTTP_AUTHORIZATION": "Bearer ünïcode"}, 401, "token_malformed"),
        ({"HTTP_AUTHORIZATION": "Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnRfaWQiOiJ4In0."}, 401, "token_invalid"),
        ({"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}, 401, "unsupported_scheme"),
        (
            {"HTTP_AUTHORIZATION": "Bearer x.y.z", "HTTP_X_CORRELATION_ID": "1' OR '1'='1"},
            400,
            "correlation_id_malformed",
        ),
        ({"HTTP_X_CORRELATION_ID": "%00%0d%0aSet-Cookie: a=b"}, 400, "correlation_id_malformed"),
        ({"HTTP_X_CORRELATION_ID": "a" * 100_000}, 400, "correlation_id_malformed"),
    ],
)
def test_malformed_and_oversized_headers_are_precise_problems(client, mint, headers, status, code):
    sent = {"HTTP_X_CORRELATION_ID": str(uuid.uuid4()), **headers}
    if "HTTP_AUTHORIZATION" not in sent:
        sent["HTTP_AUTHORIZATION"] = f"Bearer {mint(uuid.uuid4())}"
    response = client.get(V1, **sent)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert "Set-Cookie" not in response


@pytest.mark.django_db
def test_a_huge_jwt_with_many_claims_is_refused_before_verification(client, mint):
    token = mint(uuid.uuid4(), padding="x" * 50_000)
    response = client.get(V1, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_CORRELATION_ID=str(uuid.uuid4()))
    assert response.status_code == 401 and response.json()["code"] == "token_malformed"


@pytest.mark.django_db
def test_a_token_for_a_tenant_that_does_not_exist_is_a_404_problem(client, mint):
    response = client.get(
        V1, HTTP_AUTHORIZATION=f"Bearer {mint(uuid.uuid4())}", HTTP_X_CORRELATION_ID=str(uuid.uuid4())
    )
    assert response.status_code == 404 and response.json()["code"] == "tenant_not_found"


def test_a_thousand_concurrent_requests_from_fifty_tenants_never_cross(live_url, mint):
    tenants = [_fresh_tenant(1000 + n) for n in range(50)]
    tokens = {tenant.id: mint(tenant.id) for tenant in tenants}
    expected = {tenant.id: 1000 + n for n, tenant in enumerate(tenants)}
    plan = [random.Random(7).choice(tenants).id for _ in range(1000)]  # noqa: S311 - a test's shuffle
    sessions: dict[int, requests.Session] = {}

    def ask(tenant_id):
        import threading

        session = sessions.setdefault(threading.get_ident(), requests.Session())
        response = session.get(
            f"{live_url}{V1}",
            timeout=30,
            headers={"Authorization": f"Bearer {tokens[tenant_id]}", "X-Correlation-ID": str(uuid.uuid4())},
        )
        return tenant_id, response.status_code, response.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(ask, plan))

    crossed = [
        (t, body)
        for t, status, body in answers
        if status != 200 or body["tenant_id"] != str(t) or body["revenue_total_minor"] != expected[t]
    ]
    assert len(answers) == 1000 and crossed == []


@pytest.mark.django_db
def test_an_unknown_tenant_never_falls_back_to_another(client, mint):
    make_tenant("existing")
    response = client.get(
        V1, HTTP_AUTHORIZATION=f"Bearer {mint(uuid.uuid4())}", HTTP_X_CORRELATION_ID=str(uuid.uuid4())
    )
    assert response.status_code == 404
