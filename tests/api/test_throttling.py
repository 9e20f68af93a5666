"""Rate limits on the writes that make us call a platform: per tenant and per user, counted
in the shared database cache, answered 429 problem+json with Retry-After; reads untouched."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from tests.api.test_realtime_api import assert_problem
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db
LIST = "/api/v1/connections"


@pytest.fixture
def limits(settings):
    settings.THROTTLE_TENANT_RATE = "4/minute"
    settings.THROTTLE_USER_RATE = "3/minute"
    return settings


def _post(client: Client, token: str, path: str = LIST):
    # No platform in the body: a 400 before any platform call, but the request counts.
    return client.post(
        path,
        data=json.dumps({}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_CORRELATION_ID=str(uuid.uuid4()),
    )


def test_a_user_past_the_rate_gets_429_with_retry_after(limits, mint):
    tenant = make_tenant("throttled")
    client, token = Client(), mint(tenant.id, scopes=["manager", "viewer"], sub="anna")
    assert [_post(client, token).status_code for _ in range(3)] == [400, 400, 400]
    refused = _post(client, token)
    body = assert_problem(refused, 429, "throttled")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Retry-After" in refused and body["detail"]
    # Reads are never throttled.
    listed = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_CORRELATION_ID=str(uuid.uuid4()))
    assert listed.status_code == 200


def test_the_tenant_budget_is_shared_by_its_users_and_not_by_other_tenants(limits, mint):
    tenant, other = make_tenant("throttled-team"), make_tenant("throttled-other")
    client = Client()
    users = [mint(tenant.id, scopes=["manager"], sub=name) for name in ("anna", "bert")]
    answers = [_post(client, users[n % 2]).status_code for n in range(4)]
    assert answers == [400, 400, 400, 400]  # two users, two each: within both limits
    assert _post(client, users[0]).status_code == 429  # the tenant's fifth
    assert _post(client, mint(other.id, scopes=["manager"], sub="anna")).status_code == 400


def test_oauth_start_is_limited_on_its_own_budget(limits, mint):
    tenant = make_tenant("throttled-oauth")
    client, token = Client(), mint(tenant.id, scopes=["manager"], sub="anna")
    for _ in range(3):
        _post(client, token)  # spends the connections budget only
    started = _post(client, token, "/api/v1/connections/oauth/stripe/start")
    assert started.status_code != 429


def test_the_counters_live_in_the_shared_database_cache(limits, mint):
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    cache = caches["default"]
    assert isinstance(cache, DatabaseCache)  # every worker and machine reads the same counters
    tenant = make_tenant("throttled-shared")
    _post(Client(), mint(tenant.id, scopes=["manager"], sub="anna"))
    assert cache.get(f"throttle:ConnectionsView:tenant:{tenant.id}")
