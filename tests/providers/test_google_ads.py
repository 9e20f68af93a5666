"""Google Ads adapter: the shared contract, the GAQL search request, Google's error
model (quota details, auth statuses) and the OAuth refresh-token grant."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from responses import matchers

from providers.base import SourceKind, TokenRefreshContext
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderNetworkError,
    ProviderRateLimited,
    ProviderTokenRevoked,
    ProviderUnavailable,
)
from providers.google_ads import API_VERSION, ATTRIBUTION, QUERY, ZONE_QUERY, GoogleAdsProvider
from tests.providers.contract import BASE, TENANT_ZONE, ProviderContract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "google_ads"
CUSTOMER = "123-456-7890"
SEARCH_URL = f"{BASE}/{API_VERSION}/customers/1234567890/googleAds:search"
TOKEN_URL = "https://oauth.platform.test/token"
DEVELOPER_TOKEN = "devtok_ABCDEFGHIJKLmnop"
CLIENT_ID = "1234567890-abc.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-client-secret-value"
ACCESS_TOKEN = "ya29.a0_access_token_for_tests"
REFRESH_TOKEN = "1//0g_REFRESH_TOKEN_SECRET_9f8e7d6c"
ACCOUNT_ZONE = "America/Los_Angeles"
DAY = "2026-11-27"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def provider(base_url: str = BASE, **options: Any) -> GoogleAdsProvider:
    values = {
        "token_url": TOKEN_URL,
        "developer_token": DEVELOPER_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    values.update(options)
    return GoogleAdsProvider(base_url=base_url, **values)


def row(
    campaign: int,
    currency: str,
    value: str | None,
    conversions: str | None,
    *,
    zone: str = ACCOUNT_ZONE,
    day: str = DAY,
) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    # Doubles on the wire; json.dumps writes the shortest repr, so "12.345" stays 12.345.
    if value is not None:
        metrics["conversionsValueByConversionDate"] = float(value)
    if conversions is not None:
        metrics["conversionsByConversionDate"] = float(conversions)
    return {
        "customer": {"resourceName": "customers/1234567890", "currencyCode": currency, "timeZone": zone},
        "campaign": {"resourceName": f"customers/1234567890/campaigns/{campaign}", "id": str(campaign)},
        "segments": {"date": day},
        "metrics": metrics,
    }


def first_page() -> list[Any]:
    return [matchers.json_params_matcher({"query": QUERY})]


def page_token(token: str) -> list[Any]:
    return [matchers.json_params_matcher({"query": QUERY, "pageToken": token})]


def zone_query() -> list[Any]:
    return [matchers.json_params_matcher({"query": ZONE_QUERY})]


def add_zone_answer(rsps: Any, zone: Any = ACCOUNT_ZONE) -> None:
    body = load("customer_time_zone.json")
    body["results"][0]["customer"]["timeZone"] = zone
    rsps.add("POST", SEARCH_URL, json=body, match=zone_query())


class TestGoogleAdsContract(ProviderContract):
    provider_key = "google_ads"
    account_id = CUSTOMER
    kind = SourceKind.CLAIMED
    multi_currency = False

    def make_provider(self, base_url: str) -> GoogleAdsProvider:
        return provider(base_url)

    def request_method(self) -> str:
        return "POST"

    def request_url(self) -> str:
        return SEARCH_URL

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        chunks = [sales[i : i + page_size] for i in range(0, len(sales), page_size)] or [[]]
        campaign = 17_000_000_000
        for index, chunk in enumerate(chunks):
            rows = []
            for currency, amount in chunk:
                campaign += 1
                rows.append(row(campaign, currency, amount, "1"))
            # Campaigns without conversions today are not in a segmented report (Zero metrics guide).
            body: dict[str, Any] = {"fieldMask": load("search_empty.json")["fieldMask"]}
            if chunk:
                body["results"] = rows
            if index < len(chunks) - 1:
                body["nextPageToken"] = f"token-{index + 1}"
            rsps.add("POST", SEARCH_URL, json=body, match=first_page() if index == 0 else page_token(f"token-{index}"))
        if not sales:  # no rows, so the adapter asks the customer for its zone
            add_zone_answer(rsps)

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        if kind == "auth":
            rsps.add("POST", SEARCH_URL, status=401, json=load("unauthenticated.json"))
        elif kind == "rate_limited":
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            rsps.add("POST", SEARCH_URL, status=429, json=load("resource_exhausted.json"), headers=headers)
        elif kind == "upstream":
            body = {"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}
            rsps.add("POST", SEARCH_URL, status=503, json=body)
        elif kind == "bad_response":
            rsps.add("POST", SEARCH_URL, json={"results": [{"campaign": {"id": "1"}, "metrics": {"conversions": 1.0}}]})
        else:  # pragma: no cover
            raise AssertionError(kind)


# --- search -------------------------------------------------------------------------------
def fetch(metadata: dict[str, Any] | None = None, **options: Any) -> Any:
    ctx = TestGoogleAdsContract().context(
        access_token=ACCESS_TOKEN, connection_metadata=metadata if metadata is not None else {}
    )
    return provider(**options).fetch_revenue(ctx)


@responses.activate
def test_searches_the_pinned_version_with_every_header_and_follows_page_tokens() -> None:
    page1 = load("search_page1.json")
    responses.add("POST", SEARCH_URL, json=page1, match=first_page())
    responses.add("POST", SEARCH_URL, json=load("search_page2.json"), match=page_token(page1["nextPageToken"]))

    result = fetch({"login_customer_id": "999-888-7777"})

    assert len(responses.calls) == 2
    request = responses.calls[0].request
    assert request.method == "POST"
    assert request.url == f"{BASE}/v26/customers/1234567890/googleAds:search"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["developer-token"] == DEVELOPER_TOKEN
    assert request.headers["login-customer-id"] == "9998887777"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body or b"") == {
        "query": "SELECT customer.currency_code, customer.time_zone, campaign.id, segments.date, "
        "metrics.conversions_value_by_conversion_date, metrics.conversions_by_conversion_date "
        "FROM campaign WHERE segments.date DURING TODAY"
    }
    assert json.loads(responses.calls[1].request.body or b"")["pageToken"] == page1["nextPageToken"]
    assert ACCESS_TOKEN not in request.url

    # 1234.5 + 0.333333 + 99.999 = 1334.832333 USD → 133483 cents (rounded once, half-even);
    # 12 + 0.5 + 2.75 conversions = 15.25 → 15.
    assert result.amounts == {"USD": 133483}
    assert result.count == 15
    assert result.kind == SourceKind.CLAIMED
    assert result.source_key == "google_ads"
    assert result.basis is not None
    assert result.basis.measure == "conversions_value_by_conversion_date"
    assert result.basis.attribution == ATTRIBUTION


@responses.activate
def test_no_login_customer_id_header_without_a_manager_account() -> None:
    responses.add("POST", SEARCH_URL, json=load("search_empty.json"), match=first_page())
    add_zone_answer(responses.mock)
    result = fetch({})
    assert all("login-customer-id" not in call.request.headers for call in responses.calls)
    assert result.amounts == {} and result.count == 0


# --- claimed revenue by conversion date, in the account's own day ---------------------------
@responses.activate
def test_counts_the_value_by_conversion_date_not_the_click_date_value() -> None:
    # The fixture carries both metrics for the same rows: 410.25 + 89.75 by conversion date,
    # 120.50 by click date. Only the first is today's claimed revenue.
    responses.add("POST", SEARCH_URL, json=load("search_both_metrics.json"))
    result = fetch()
    assert result.amounts == {"USD": 50_000}
    assert result.count == 6  # 5 + 1.5 conversions by conversion date, not 2 by click date


@responses.activate
def test_the_basis_is_the_accounts_zone_and_date_not_the_tenants() -> None:
    # 05:00 in Berlin on 28 November is still 27 November (20:00) in Los Angeles, and Google's
    # TODAY for the account is the 27th: that is the day the figure covers.
    now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    start = now.astimezone(TENANT_ZONE).replace(hour=0)
    responses.add("POST", SEARCH_URL, json={"results": [row(1, "USD", "10.5", "1")]}, match=first_page())
    ctx = TestGoogleAdsContract().context(access_token=ACCESS_TOKEN, window_start=start, window_end=now)
    result = provider().fetch_revenue(ctx)
    assert ctx.window_start.date() == date(2026, 11, 28)
    assert result.basis is not None
    assert (result.basis.time_zone, result.basis.date) == ("America/Los_Angeles", date(2026, 11, 27))
    assert result.amounts == {"USD": 1050}
    assert len(responses.calls) == 1  # the rows named the zone: no second search


@responses.activate
def test_without_rows_the_customers_zone_is_asked_for_and_today_is_its_today() -> None:
    responses.add("POST", SEARCH_URL, json=load("search_empty.json"), match=first_page())
    add_zone_answer(responses.mock, "Asia/Kolkata")
    before = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    result = fetch()
    after = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    assert [json.loads(c.request.body or b"")["query"] for c in responses.calls] == [QUERY, ZONE_QUERY]
    assert ZONE_QUERY == "SELECT customer.time_zone FROM customer"
    assert result.basis is not None and result.basis.time_zone == "Asia/Kolkata"
    assert result.basis.date in (before, after)
    assert result.amounts == {} and result.count == 0


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "america/los_angeles", "../../etc/passwd", 7, None])
@responses.activate
def test_an_unknown_or_malformed_time_zone_is_a_bad_response(zone: Any) -> None:
    responses.add("POST", SEARCH_URL, json={"results": [row(1, "USD", "1", "1", zone=zone)]})
    with pytest.raises(ProviderBadResponse, match=r"results\[0\]\.customer\.timeZone") as info:
        fetch()
    assert info.value.kind == "bad_response" and info.value.platform == "google_ads"


@responses.activate
def test_an_unknown_time_zone_from_the_customer_query_is_a_bad_response() -> None:
    responses.add("POST", SEARCH_URL, json=load("search_empty.json"), match=first_page())
    add_zone_answer(responses.mock, "Pacific/Atlantis")
    with pytest.raises(ProviderBadResponse, match="unknown time zone"):
        fetch()


@pytest.mark.parametrize("currency", ["ZZZ", "", "US", 840, "XAU"])
@responses.activate
def test_an_unknown_currency_is_a_bad_response(currency: Any) -> None:
    responses.add("POST", SEARCH_URL, json={"results": [row(1, currency, "1", "1")]})
    with pytest.raises(ProviderBadResponse):
        fetch()


@pytest.mark.parametrize(
    "second",
    [
        {"zone": "America/New_York"},  # two zones for one customer
        {"day": "2026-11-26"},  # two dates for TODAY
    ],
)
@responses.activate
def test_rows_that_disagree_on_the_zone_or_the_day_are_a_bad_response(second: dict[str, str]) -> None:
    rows = [row(1, "USD", "1", "1"), row(2, "USD", "1", "1", **second)]
    responses.add("POST", SEARCH_URL, json={"results": rows})
    with pytest.raises(ProviderBadResponse, match="more than one time zone or date"):
        fetch()


@pytest.mark.parametrize("day", [None, "yesterday", "2026-13-01"])
@responses.activate
def test_a_row_without_a_valid_segments_date_is_a_bad_response(day: str | None) -> None:
    bad = row(1, "USD", "1", "1")
    bad["segments"] = {} if day is None else {"date": day}
    responses.add("POST", SEARCH_URL, json={"results": [bad]})
    with pytest.raises(ProviderBadResponse, match=r"segments\.date"):
        fetch()


@pytest.mark.parametrize("account_id", ["1234567890", "123-456-7890", "customers/1234567890", " 123 456 7890 "])
@responses.activate
def test_customer_id_is_normalised_to_digits(account_id: str) -> None:
    responses.add("POST", SEARCH_URL, json=load("search_empty.json"), match=first_page())
    add_zone_answer(responses.mock)
    ctx = TestGoogleAdsContract().context(platform_account_id=account_id)
    provider().fetch_revenue(ctx)
    assert responses.calls[0].request.url == SEARCH_URL


def test_an_account_id_without_digits_is_refused_before_any_call() -> None:
    with responses.RequestsMock():
        with pytest.raises(ProviderAuthError, match="customer id"):
            provider().fetch_revenue(TestGoogleAdsContract().context(platform_account_id="acme"))


def test_missing_developer_token_is_a_clear_error_and_no_call_is_made() -> None:
    with responses.RequestsMock():
        with pytest.raises(ProviderAuthError) as info:
            fetch(developer_token="")
    assert "developer token" in str(info.value)
    assert "GOOGLE_ADS_DEVELOPER_TOKEN" in str(info.value)


@pytest.mark.parametrize(("value", "minor"), [("10.125", 1012), ("10.135", 1014), ("0.004", 0)])
@responses.activate
def test_conversion_value_is_rounded_half_even_to_minor_units(value: str, minor: int) -> None:
    responses.add("POST", SEARCH_URL, json={"results": [row(1, "EUR", value, "1")]})
    assert fetch().amounts == {"EUR": minor}


@responses.activate
def test_resource_exhausted_takes_the_retry_delay_from_quota_error_details() -> None:
    responses.add("POST", SEARCH_URL, status=429, json=load("resource_exhausted.json"))
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 45
    assert "RESOURCE_EXHAUSTED" in str(info.value)
    assert "quotaError=RESOURCE_TEMPORARILY_EXHAUSTED" in str(info.value)


@responses.activate
def test_fractional_retry_delay_rounds_up() -> None:
    body = load("resource_exhausted.json")
    body["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]["retryDelay"] = "2.5s"
    responses.add("POST", SEARCH_URL, status=429, json=body)
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 3


@responses.activate
def test_a_retry_after_header_wins_over_the_quota_details() -> None:
    responses.add("POST", SEARCH_URL, status=429, json=load("resource_exhausted.json"), headers={"Retry-After": "12"})
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 12


@responses.activate
def test_resource_exhausted_without_any_hint_uses_the_default() -> None:
    body = {"error": {"code": 429, "message": "Resource has been exhausted.", "status": "RESOURCE_EXHAUSTED"}}
    responses.add("POST", SEARCH_URL, status=429, json=body)
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 30


@responses.activate
def test_unauthenticated_is_an_auth_error_naming_googles_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.add("POST", SEARCH_URL, status=401, json=load("unauthenticated.json"))
    with pytest.raises(ProviderAuthError) as info:
        fetch()
    assert "UNAUTHENTICATED" in str(info.value)
    assert "authenticationError=OAUTH_TOKEN_EXPIRED" in str(info.value)
    for secret in (ACCESS_TOKEN, DEVELOPER_TOKEN):
        assert secret not in str(info.value) and secret not in caplog.text


@responses.activate
def test_permission_denied_is_an_auth_error() -> None:
    responses.add("POST", SEARCH_URL, status=403, json=load("permission_denied.json"))
    with pytest.raises(ProviderAuthError, match="USER_PERMISSION_DENIED"):
        fetch()


@responses.activate
def test_internal_error_after_retries_is_upstream() -> None:
    responses.add("POST", SEARCH_URL, status=500, json=load("internal.json"))
    with pytest.raises(ProviderUnavailable) as info:
        fetch()
    assert info.value.status == 500
    assert len(responses.calls) == 3  # the search is a read: the session retried it twice


@responses.activate
def test_invalid_argument_is_upstream_with_the_status() -> None:
    body = {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}
    responses.add("POST", SEARCH_URL, status=400, json=body)
    with pytest.raises(ProviderUnavailable) as info:
        fetch()
    assert "400" in str(info.value) and "INVALID_ARGUMENT" in str(info.value)


@responses.activate
def test_a_developer_token_echoed_in_an_error_is_redacted() -> None:
    body = load("permission_denied.json")
    body["error"]["details"][0]["errors"][0]["message"] = f"developer token {DEVELOPER_TOKEN} is not approved"
    responses.add("POST", SEARCH_URL, status=403, json=body)
    with pytest.raises(ProviderAuthError) as info:
        fetch()
    assert DEVELOPER_TOKEN not in str(info.value)


@responses.activate
def test_a_page_token_that_repeats_is_a_bad_response() -> None:
    responses.add(
        "POST", SEARCH_URL, json={"results": [row(1, "USD", "1", "1")], "nextPageToken": "t"}, match=first_page()
    )
    responses.add(
        "POST", SEARCH_URL, json={"results": [row(2, "USD", "1", "1")], "nextPageToken": "t"}, match=page_token("t")
    )
    with pytest.raises(ProviderBadResponse, match="did not advance"):
        fetch()


@responses.activate
def test_a_non_numeric_metric_is_a_bad_response_naming_it() -> None:
    bad = row(1, "USD", "1", "1")
    bad["metrics"]["conversionsValueByConversionDate"] = "lots"
    responses.add("POST", SEARCH_URL, json={"results": [bad]})
    with pytest.raises(ProviderBadResponse, match=r"results\[0\]\.metrics\.conversionsValueByConversionDate"):
        fetch()


# --- token refresh ----------------------------------------------------------------------
def refresh_ctx(refresh_token: str = REFRESH_TOKEN) -> TokenRefreshContext:
    return TokenRefreshContext(
        tenant_id=uuid.UUID("00000000-0000-4000-8000-00000000000a"),
        connection_id=uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
        platform_account_id=CUSTOMER,
        connection_metadata={},
        refresh_token=refresh_token,
        correlation_id="3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b",
    )


def test_google_tokens_are_refreshable() -> None:
    assert GoogleAdsProvider.supports_token_refresh is True


@responses.activate
def test_refresh_posts_the_refresh_token_grant_and_returns_the_new_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = load("token_refreshed.json")
    responses.add("POST", TOKEN_URL, json=body)
    before = datetime.now(UTC)

    refreshed = provider().refresh_token(refresh_ctx())

    request = responses.calls[0].request
    assert request.method == "POST"
    assert request.url == TOKEN_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert parse_qs(str(request.body)) == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "refresh_token": [REFRESH_TOKEN],
    }
    assert refreshed.access_token == body["access_token"]
    assert refreshed.refresh_token is None  # Google keeps the refresh token: the stored one stays
    assert refreshed.expires_at is not None
    assert before + timedelta(seconds=3599) <= refreshed.expires_at <= datetime.now(UTC) + timedelta(seconds=3599)
    assert refreshed.scope == "https://www.googleapis.com/auth/adwords"
    assert refreshed.token_type == "Bearer"
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, body["access_token"]):
        assert secret not in caplog.text
        assert secret not in repr(refreshed)


@responses.activate
def test_invalid_grant_means_the_token_is_revoked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.add("POST", TOKEN_URL, status=400, json=load("token_invalid_grant.json"))
    with pytest.raises(ProviderTokenRevoked) as info:
        provider().refresh_token(refresh_ctx())
    assert info.value.kind == "auth"
    assert "invalid_grant" in str(info.value)
    for text in (str(info.value), repr(info.value), caplog.text):
        assert REFRESH_TOKEN not in text
        assert CLIENT_SECRET not in text


@responses.activate
def test_a_refresh_token_echoed_in_the_description_is_redacted() -> None:
    body = {"error": "invalid_grant", "error_description": f"Bad Request: {REFRESH_TOKEN}"}
    responses.add("POST", TOKEN_URL, status=400, json=body)
    with pytest.raises(ProviderTokenRevoked) as info:
        provider().refresh_token(refresh_ctx())
    assert REFRESH_TOKEN not in str(info.value)


@responses.activate
def test_invalid_client_is_our_configuration_not_a_revoked_token() -> None:
    responses.add("POST", TOKEN_URL, status=401, json=load("token_invalid_client.json"))
    with pytest.raises(ProviderAuthError) as info:
        provider().refresh_token(refresh_ctx())
    assert not isinstance(info.value, ProviderTokenRevoked)
    assert "GOOGLE_OAUTH_CLIENT_ID" in str(info.value)


@responses.activate
def test_token_endpoint_outage_is_transient() -> None:
    responses.add("POST", TOKEN_URL, status=503, body=b"<html>unavailable</html>", content_type="text/html")
    with pytest.raises(ProviderUnavailable):
        provider().refresh_token(refresh_ctx())


@responses.activate
def test_token_endpoint_network_failure_is_a_network_error() -> None:
    responses.add("POST", TOKEN_URL, body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(ProviderNetworkError) as info:
        provider().refresh_token(refresh_ctx())
    assert REFRESH_TOKEN not in str(info.value)


@responses.activate
def test_a_token_response_without_access_token_is_a_bad_response() -> None:
    responses.add("POST", TOKEN_URL, json={"expires_in": 3599, "token_type": "Bearer"})
    with pytest.raises(ProviderBadResponse, match="access_token"):
        provider().refresh_token(refresh_ctx())


def test_refresh_without_an_oauth_client_is_a_clear_error() -> None:
    with responses.RequestsMock():
        with pytest.raises(ProviderAuthError, match="GOOGLE_OAUTH_CLIENT_ID"):
            provider(client_secret="").refresh_token(refresh_ctx())
