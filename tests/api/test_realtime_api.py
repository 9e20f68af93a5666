"""Contract tests of GET /api/v1/revenue/realtime and GET /api/attribution/revenue/realtime."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from revenue.selectors import cache_entry_get
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, google_rows, stripe_error, stripe_list

V1 = "/api/v1/revenue/realtime"
LEGACY = "/api/attribution/revenue/realtime"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "correlation_id", "timestamp", "code"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(platforms):
    """A JPY tenant with two Stripe accounts and a Google Ads account."""
    tenant = make_tenant("shop", reporting_currency="JPY", timezone="Asia/Tokyo")
    make_connection(tenant, "stripe", "acct_1", access_token="sk_1")
    make_connection(tenant, "stripe", "acct_2", access_token="sk_2")
    make_connection(tenant, "google_ads", "123", access_token="ya29.x")
    platforms.stripe.set("sk_1", Behaviour(body=stripe_list(1200, 34, currency="jpy")))
    platforms.stripe.set("sk_2", Behaviour(body=stripe_list(999, currency="usd")))
    platforms.google_customer("123")
    platforms.google.set("ya29.x", Behaviour(body=google_rows("5000", currency="JPY")))
    return tenant


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_FIELDS
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"].endswith("/" + code.replace("_", "-"))
    assert body["correlation_id"] == response["X-Correlation-ID"]
    assert body["instance"] == f"urn:uuid:{body['correlation_id']}"
    assert RFC3339_UTC.match(body["timestamp"])
    assert "Traceback" not in body["detail"]
    return body


def test_v1_answers_every_field_with_its_type_and_constraint(api, mint, shop, platforms):
    correlation_id = str(uuid.uuid4())
    response = api.get(V1, token=mint(shop.id), correlation_id=correlation_id)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Correlation-ID"] == correlation_id
    body = response.json()
    assert uuid.UUID(body["tenant_id"]) == shop.id
    assert body["interval"] == "day"
    assert body["currency"] == "JPY"
    assert body["revenue_total"] == 1234 and body["revenue_total"] >= 0  # JPY: no decimals
    assert body["verified"] is False
    assert RFC3339_UTC.match(body["data_as_of"])
    assert body["sources"] == ["google_ads", "stripe"]
    # Additive fields.
    assert body["revenue_total_minor"] == 1234
    assert body["event_count"] == 3
    assert body["sales_by_currency"] == {"JPY": 1234, "USD": 9.99}  # kept apart, never converted
    assert body["claimed_revenue"] == {"total": 5000, "total_minor": 5000, "by_currency": {"JPY": 5000}}
    assert datetime.fromisoformat(body["window"]["start"]).utcoffset() == timedelta(hours=9)
    assert {(s["platform"], s["account"], s["kind"], s["status"]) for s in body["breakdown"]} == {
        ("stripe", "acct_1", "sales", "ok"),
        ("stripe", "acct_2", "sales", "ok"),
        ("google_ads", "123", "claimed", "ok"),
    }
    assert body["stale_sources"] == []


def test_each_source_says_what_its_figure_means(api, mint, shop):
    """Sales on the tenant's day in the tenant's zone; the ad account on its own day and zone,
    with the attribution it is reported under."""
    body = api.get(V1, token=mint(shop.id)).json()
    window_day = datetime.fromisoformat(body["window"]["start"]).date().isoformat()
    bases = {s["account"]: s["basis"] for s in body["breakdown"]}
    assert bases["acct_1"] == {
        "measure": "captured_minus_refunds_and_lost_disputes",
        "time_zone": "Asia/Tokyo",
        "date": window_day,
        "attribution": None,
        "complete_until": None,
    }
    assert bases["123"]["measure"] == "conversions_value_by_conversion_date"
    assert (bases["123"]["time_zone"], bases["123"]["date"]) == ("America/Los_Angeles", "2026-06-03")
    assert bases["123"]["attribution"]


def test_the_legacy_shape_and_its_freshness_counter(api, mint, shop, frozen_clock):
    t0 = frozen_clock()
    first = api.get(LEGACY, token=mint(shop.id))
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {
        "total_revenue",
        "event_count",
        "last_updated",
        "data_freshness_seconds",
        "verified",
        "tenant_id",
        "confidence_score",
        "upgrade_notice",
        "currency",  # additive: total_revenue is in the tenant's reporting currency
        "stale",  # additive
    }
    assert body["total_revenue"] == 1234 and body["event_count"] == 3
    assert (body["currency"], body["stale"]) == ("JPY", False)
    assert datetime.fromisoformat(body["last_updated"].replace("Z", "+00:00")) == t0
    assert body["data_freshness_seconds"] == 0
    assert body["verified"] is False and body["confidence_score"] is None
    assert isinstance(body["upgrade_notice"], str) and uuid.UUID(body["tenant_id"]) == shop.id

    frozen_clock.advance(12)
    later = api.get(LEGACY, token=mint(shop.id)).json()
    assert later["last_updated"] == body["last_updated"] and later["data_freshness_seconds"] == 12
    assert api.get(LEGACY, token=mint(shop.id))["ETag"] == first["ETag"]  # not derived from the counter

    frozen_clock.advance(-20)  # a clock that went backwards never gives a negative age
    assert api.get(LEGACY, token=mint(shop.id)).json()["data_freshness_seconds"] == 0


@pytest.mark.parametrize("path", [V1, LEGACY])
def test_caching_headers_are_private_and_vary_by_token(api, mint, shop, frozen_clock, path):
    response = api.get(path, token=mint(shop.id))
    assert response["Cache-Control"] == "private, max-age=30"
    assert response["Vary"] == "Authorization"
    entry = cache_entry_get(shop.id)
    assert response["ETag"] == entry.etag and re.match(r'^"[0-9a-f]{64}"$', response["ETag"])
    frozen_clock.advance(10)
    assert api.get(path, token=mint(shop.id))["Cache-Control"] == "private, max-age=20"


@pytest.mark.parametrize("path", [V1, LEGACY])
@pytest.mark.parametrize("validator", ["{etag}", "*", '"other", {etag}', "W/{etag}", '"a", W/{etag} , "b"'])
def test_if_none_match_gives_304_without_a_refresh_or_platform_call(api, mint, shop, platforms, path, validator):
    etag = api.get(path, token=mint(shop.id))["ETag"]
    calls = platforms.stripe.total + platforms.google.total
    response = api.get(path, token=mint(shop.id), if_none_match=validator.format(etag=etag))
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag and response["Vary"] == "Authorization"
    assert response["Cache-Control"].startswith("private, max-age=")
    assert platforms.stripe.total + platforms.google.total == calls


def test_a_stale_validator_gets_the_full_body(api, mint, shop):
    api.get(V1, token=mint(shop.id))
    response = api.get(V1, token=mint(shop.id), if_none_match='"0000"')
    assert response.status_code == 200 and response.json()["revenue_total"] == 1234


@pytest.mark.parametrize("path", [V1, LEGACY])
def test_a_cooldown_answers_503_with_retry_after_and_no_store(api, mint, platforms, frozen_clock, settings, path):
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = 5
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_limited")
    platforms.stripe.set("sk_limited", Behaviour(429, stripe_error(429, "rate_limit_error"), {"Retry-After": "42"}))
    first = api.get(path, token=mint(tenant.id))
    body = assert_problem(first, 503, "revenue_unavailable")
    assert first["Retry-After"] == "42" and first["Cache-Control"] == "no-store"
    assert "sk_limited" not in body["detail"]
    frozen_clock.advance(40)
    again = api.get(path, token=mint(tenant.id))
    assert again.status_code == 503 and again["Retry-After"] == "2"
    assert platforms.stripe.calls["sk_limited"] == 1


@pytest.mark.parametrize("path", [V1, LEGACY])
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "correlation_id_missing"),
        ("not-a-uuid", "correlation_id_malformed"),
        ("'; DROP TABLE tenants; --", "correlation_id_malformed"),
        ("x" * 500, "correlation_id_malformed"),
    ],
)
def test_a_missing_or_malformed_correlation_id_is_a_400_problem(api, mint, shop, path, header, code):
    response = api.get(path, token=mint(shop.id), correlation_id=header)
    assert_problem(response, 400, code)
    assert uuid.UUID(response["X-Correlation-ID"])  # a fresh id, never the malformed value echoed


@pytest.mark.parametrize("path", [V1, LEGACY])
def test_no_token_is_a_401_with_www_authenticate(api, path):
    response = api.get(path)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer realm=")


def test_an_expired_token_is_a_401_naming_invalid_token(api, mint, shop):
    response = api.get(V1, token=mint(shop.id, exp=1_000_000, iat=999_000))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert response["Content-Type"] == "application/problem+json"


def test_a_token_without_viewer_is_a_403(api, mint, shop):
    response = api.get(V1, token=mint(shop.id, scopes=["manager"]))
    assert_problem(response, 403, "insufficient_scope")


def test_a_token_for_another_tenant_never_sees_this_tenants_data(api, mint, shop, platforms):
    other = make_tenant("other", reporting_currency="JPY")
    make_connection(other, "stripe", "acct_other", access_token="sk_other")
    platforms.stripe.set("sk_other", Behaviour(body=stripe_list(7, currency="jpy")))
    mine = api.get(V1, token=mint(shop.id)).json()
    theirs = api.get(V1, token=mint(other.id)).json()
    assert (mine["tenant_id"], mine["revenue_total"]) == (str(shop.id), 1234)
    assert (theirs["tenant_id"], theirs["revenue_total"]) == (str(other.id), 7)
    assert {s["account"] for s in theirs["breakdown"]} == {"acct_other"}


def test_a_token_for_an_unknown_tenant_is_a_404_problem(api, mint):
    assert_problem(api.get(V1, token=mint(uuid.uuid4())), 404, "tenant_not_found")


def test_an_unexpected_error_is_a_500_problem_without_internals(api, mint, shop, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr("revenue.views.revenue_get", broken)
    body = assert_problem(api.get(V1, token=mint(shop.id)), 500, "internal_error")
    assert "SELECT" not in body["detail"] and "RuntimeError" not in body["detail"]


def test_unknown_paths_and_methods_under_api_are_problems(api, mint, shop, client):
    assert_problem(api.get("/api/v1/nope", token=mint(shop.id)), 404, "not_found")
    response = client.post(V1, HTTP_AUTHORIZATION=f"Bearer {mint(shop.id)}", HTTP_X_CORRELATION_ID=str(uuid.uuid4()))
    assert_problem(response, 405, "method_not_allowed")
    response = client.get(
        V1,
        HTTP_AUTHORIZATION=f"Bearer {mint(shop.id)}",
        HTTP_X_CORRELATION_ID=str(uuid.uuid4()),
        HTTP_ACCEPT="text/html",
    )
    assert_problem(response, 406, "not_acceptable")


def test_money_is_converted_at_the_edge_exactly(api, mint, platforms):
    tenant = make_tenant(reporting_currency="KWD")
    make_connection(tenant, "stripe", "acct_kw", access_token="sk_kw")
    platforms.stripe.set("sk_kw", Behaviour(body=stripe_list(12345, currency="kwd")))
    body = api.get(V1, token=mint(tenant.id)).json()
    assert Decimal(str(body["revenue_total"])) == Decimal("12.345")
    assert body["revenue_total_minor"] == 12345


def test_the_read_runs_as_the_tenant_under_rls(api, mint, shop):
    api.get(V1, token=mint(shop.id))
    with tenant_context(uuid.uuid4()), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM revenue_cache_entries")
        assert cursor.fetchone()[0] == 0
