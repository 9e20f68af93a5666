"""The API when platforms fail (issue 24): a revoked key is `reconnect_required` in the
revenue answer and the connections list within one refresh, and the platform is not called
for it again; when every source fails the last good snapshot is served marked stale, with
its own validator and `max-age=0`, until REVENUE_STALE_IF_ERROR_SECONDS past its expiry;
the legacy body states its currency; the OpenAPI documents all of it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connections.services import credential_upsert
from revenue.batch import revenue_refresh_due
from revenue.selectors import cache_entry_get
from skeldir.tenancy import tenant_context
from tests.api.test_realtime_api import assert_problem
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_error, stripe_list

V1 = "/api/v1/revenue/realtime"
LEGACY = "/api/attribution/revenue/realtime"
CONNECTIONS = "/api/v1/connections"
STRIPE_KEY = "sk_test_degrade_rolled_key_0123"


def test_a_revoked_stripe_key_is_reconnect_required_within_one_refresh_and_never_called_again(
    committed_db, api, mint, simulated_platforms, settled_day, frozen_clock
):
    sandbox = simulated_platforms
    tenant = make_tenant("rolled")
    conn = make_connection(tenant, "stripe", "acct_rolled", access_token=STRIPE_KEY, metadata={"connect": True})
    token = mint(tenant.id)
    first = api.get(V1, token=token).json()
    (before,) = first["breakdown"]
    assert before["status"] == "ok" and first["revenue_total"] > 0

    sandbox.revoke("stripe", STRIPE_KEY)  # the merchant rolled the key in Stripe's dashboard
    before_calls = sandbox.calls("stripe", "acct_rolled")
    frozen_clock.advance(31)
    sandbox.set_now(frozen_clock())
    summary = revenue_refresh_due(concurrency=1, ahead_seconds=10)  # one refresh (the cron's)
    assert summary.refreshed + summary.partial == 1 and summary.failed == 0
    calls = sandbox.calls("stripe", "acct_rolled")
    assert calls == before_calls + 1  # the one refused call

    answer = api.get(V1, token=token)
    assert answer.status_code == 200
    body = answer.json()
    (source,) = body["breakdown"]
    assert (source["status"], source["stale"], body["stale"]) == ("reconnect_required", True, False)
    assert source["amounts"] == before["amounts"] and source["as_of"] == before["as_of"]  # last good figures
    assert body["revenue_total"] == first["revenue_total"] and body["stale_sources"] == ["stripe"]
    assert STRIPE_KEY not in answer.content.decode()
    (listed,) = api.get(CONNECTIONS, token=token).json()["connections"]
    assert listed["reconnect_required"] is True
    assert (listed["credential"]["lifecycle_status"], listed["credential"]["last_failure_class"]) == (
        "revoked",
        "auth_refused",
    )

    for _ in range(6):  # the next minute of refresh cycles, and a reader every ten seconds
        frozen_clock.advance(10)
        sandbox.set_now(frozen_clock())
        assert revenue_refresh_due(concurrency=1, ahead_seconds=10).failed == 0
        assert api.get(V1, token=token).status_code == 200
    assert sandbox.calls("stripe", "acct_rolled") == calls
    assert cache_entry_get(tenant.id).error_cooldown_until is None

    # What the merchant (or an operator, `connect_platform`) does: new keys. Called again.
    with tenant_context(tenant.id):
        credential_upsert(connection_row=conn, access_token="sk_test_degrade_new_key_4567")
    frozen_clock.advance(31)
    sandbox.set_now(frozen_clock())
    assert api.get(V1, token=token).json()["breakdown"][0]["status"] == "ok"
    assert sandbox.calls("stripe", "acct_rolled") == calls + 2  # charges and disputes
    assert api.get(CONNECTIONS, token=token).json()["connections"][0]["reconnect_required"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("path", [V1, LEGACY])
def test_stale_if_error_serves_the_last_good_snapshot_when_every_source_fails_and_stops_at_its_limit(
    api, mint, platforms, frozen_clock, settings, path
):
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = 10
    tenant = make_tenant(reporting_currency="EUR")
    make_connection(tenant, "stripe", "acct_a", access_token="sk_a")
    make_connection(tenant, "stripe", "acct_b", access_token="sk_b")
    platforms.stripe.set("sk_a", Behaviour(body=stripe_list(1000, currency="eur")))
    platforms.stripe.set("sk_b", Behaviour(body=stripe_list(250, currency="eur")))
    token = mint(tenant.id)
    fresh = api.get(V1, token=token)
    good = fresh.json()
    expired_at = cache_entry_get(tenant.id).expires_at

    frozen_clock.advance(31)
    platforms.stripe.set("sk_a", Behaviour(503, stripe_error(503, "api_error")))
    platforms.stripe.set("sk_b", Behaviour(500, stripe_error(500, "api_error")))
    stale = api.get(path, token=token)

    assert stale.status_code == 200
    assert stale["Cache-Control"] == "private, max-age=0" and stale["Vary"] == "Authorization"
    assert stale["ETag"].endswith('-stale"') and stale["ETag"] != fresh["ETag"]
    body = stale.json()
    assert body["stale"] is True
    if path == V1:
        assert body["data_as_of"] == good["data_as_of"] and body["revenue_total"] == good["revenue_total"] == 12.5
        assert [(s["account"], s["status"], s["stale"], s["as_of"]) for s in body["breakdown"]] == [
            ("acct_a", "upstream", True, good["breakdown"][0]["as_of"]),
            ("acct_b", "upstream", True, good["breakdown"][1]["as_of"]),
        ]
    else:
        assert (body["total_revenue"], body["currency"], body["last_updated"]) == (12.5, "EUR", good["data_as_of"])
        assert body["data_freshness_seconds"] == 31
    revalidated = api.get(path, token=token, If_None_Match=stale["ETag"])
    assert revalidated.status_code == 304 and revalidated["ETag"] == stale["ETag"]

    # During the cooldown: the same stale answer, no platform call.
    calls = platforms.stripe.total
    frozen_clock.advance(5)
    assert api.get(path, token=token).json()["stale"] is True
    assert platforms.stripe.total == calls

    # Past the cooldown a new refresh fails again: still stale, within 15 minutes of expiry.
    frozen_clock.advance(6)
    assert api.get(path, token=token).json()["stale"] is True
    assert platforms.stripe.total > calls

    # Past the stale-if-error limit: 503 as before, with Retry-After.
    frozen_clock.current = expired_at + timedelta(seconds=900 + 1)
    gone = api.get(path, token=token)
    assert_problem(gone, 503, "revenue_unavailable")
    assert int(gone["Retry-After"]) >= 1 and gone["Cache-Control"] == "no-store"

    # And recovered platforms give a fresh answer again.
    frozen_clock.advance(11)
    platforms.stripe.set("sk_a", Behaviour(body=stripe_list(10, currency="eur")))
    platforms.stripe.set("sk_b", Behaviour(body=stripe_list(20, currency="eur")))
    again = api.get(path, token=token)
    assert again.status_code == 200 and again.json()["stale"] is False
    assert again["Cache-Control"] == "private, max-age=30" and not again["ETag"].endswith('-stale"')


@pytest.mark.django_db
def test_stale_if_error_set_to_zero_turns_it_off(api, mint, platforms, frozen_clock, settings):
    settings.REVENUE_STALE_IF_ERROR_SECONDS = 0
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_off", access_token="sk_off")
    platforms.stripe.set("sk_off", Behaviour(body=stripe_list(100)))
    assert api.get(V1, token=mint(tenant.id)).status_code == 200
    frozen_clock.advance(31)
    platforms.stripe.set("sk_off", Behaviour(503, stripe_error(503, "api_error")))
    assert_problem(api.get(V1, token=mint(tenant.id)), 503, "revenue_unavailable")


@pytest.mark.django_db
def test_a_single_refused_source_answers_200_even_on_the_first_refresh(api, mint, platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_dead", access_token="sk_dead")
    platforms.stripe.set("sk_dead", Behaviour(401, stripe_error(401, "invalid_request_error", "api_key_invalid")))
    for path in (V1, LEGACY, V1):
        response = api.get(path, token=mint(tenant.id))
        assert response.status_code == 200, response.content
    body = response.json()
    assert (body["revenue_total"], body["stale"]) == (0, False)
    assert body["breakdown"][0]["status"] == "reconnect_required" and body["breakdown"][0]["as_of"] is None
    assert platforms.stripe.calls == {"sk_dead": 1}


@pytest.mark.django_db
def test_the_schema_documents_the_stale_answer_and_the_legacy_currency(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    v1, legacy = components["RealtimeRevenueV1"], components["RealtimeRevenueLegacy"]
    assert "stale" in v1["required"] and "max-age=0" in v1["properties"]["stale"]["description"]
    assert {"currency", "stale"} <= set(legacy["required"])
    assert "currency" in legacy["properties"]["total_revenue"]["description"]
    assert "not necessarily USD" in legacy["properties"]["total_revenue"]["description"]
    source = components["Source"]["properties"]
    assert "reconnect_required" in source["status"]["description"]
    assert "reconnect_required" in components["Connection"]["required"]
