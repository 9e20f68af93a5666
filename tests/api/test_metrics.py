"""/metrics after a few real requests and refreshes: requests by endpoint and status,
cache lookups and misses, refresh and per-platform fetch durations, platform errors by
kind, and the scrape-time gauges read through the operator alias (committed rows)."""

from __future__ import annotations

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_error, stripe_list

V1 = "/api/v1/revenue/realtime"


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_requests_cache_outcomes_refreshes_and_platform_errors(committed_db, api, mint, platforms):
    ok, failing = make_tenant("metrics-ok"), make_tenant("metrics-failing")
    make_connection(ok, "stripe", "acct_m_ok", access_token="sk_test_metrics_ok")
    make_connection(failing, "stripe", "acct_m_bad", access_token="sk_test_metrics_bad")
    platforms.stripe.set("sk_test_metrics_ok", Behaviour(body=stripe_list(100)))
    platforms.stripe.set("sk_test_metrics_bad", Behaviour(500, stripe_error(500, "api_error")))
    client = Client()
    before = scrape(client)

    leader = api.get(V1, token=mint(ok.id))
    api.get(V1, token=mint(ok.id))
    api.get(V1, token=mint(ok.id), If_None_Match=leader["ETag"])
    api.get(V1, token=mint(failing.id))  # refresh fails: cooldown
    api.get(V1, token=mint(failing.id))  # still cooling down
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    requests = "skeldir_http_requests_total"
    assert delta(requests, endpoint="realtime-revenue-v1", method="GET", status="200") == 2
    assert delta(requests, endpoint="realtime-revenue-v1", method="GET", status="304") == 1
    assert delta(requests, endpoint="realtime-revenue-v1", method="GET", status="503") == 2
    assert delta("skeldir_revenue_cache_lookups_total", result="hit") == 2
    assert delta("skeldir_revenue_cache_lookups_total", result="miss") == 1
    assert delta("skeldir_revenue_cache_lookups_total", result="cooldown") == 2
    assert delta("skeldir_revenue_cache_misses_total", role="leader") == 1
    assert delta("skeldir_revenue_refreshes_total", outcome="refreshed") == 1
    assert delta("skeldir_revenue_refreshes_total", outcome="failed") == 1
    assert delta("skeldir_platform_fetch_duration_seconds_count", platform="stripe") == 2
    assert delta("skeldir_revenue_refresh_duration_seconds_count", outcome="refreshed") == 1
    assert delta("skeldir_platform_errors_total", platform="stripe", kind="upstream") == 1
    assert delta("skeldir_revenue_cooldowns_entered_total") == 1
    assert after[("skeldir_tenants_in_cooldown", ())] == 1
    assert after[("skeldir_platform_credentials", (("lifecycle_status", "active"),))] == 2
    assert after[("skeldir_platform_credentials", (("lifecycle_status", "revoked"),))] == 0
    assert after[("skeldir_operator_database_up", ())] == 1
    assert delta(requests, endpoint="metrics", method="GET", status="200") == 1  # the first scrape
