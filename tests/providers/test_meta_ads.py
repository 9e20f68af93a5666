"""Meta Ads adapter: the shared contract, the insights request, the one purchase action
type counted, cursor paging and Meta's throttling codes and usage headers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from responses import matchers

from providers.base import SourceKind
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.meta_ads import API_VERSION, ATTRIBUTION, MetaAdsProvider
from tests.providers.contract import BASE, TENANT_ZONE, ProviderContract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "meta_ads"
ACCOUNT = "act_1234567890"
ACCOUNT_URL = f"{BASE}/{API_VERSION}/act_1234567890"
INSIGHTS_URL = f"{ACCOUNT_URL}/insights"
TOKEN = "EAAGm0PX4ZCpsBO_meta_user_token_secret"
PARAMS = {
    "level": "campaign",
    "date_preset": "today",
    "fields": "account_currency,action_values,actions",
    "action_report_time": "conversion",
    "action_attribution_windows": '["7d_click","1d_view"]',
    "limit": "100",
}
BUC_USAGE = json.dumps(
    {
        "1234567890": [
            {
                "type": "ads_insights",
                "call_count": 100,
                "total_cputime": 31,
                "total_time": 44,
                "estimated_time_to_regain_access": 4,
                "ads_api_access_tier": "standard_access",
            },
            {
                "type": "ads_management",
                "call_count": 12,
                "total_cputime": 3,
                "total_time": 4,
                "estimated_time_to_regain_access": 0,
            },
        ]
    }
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def cursor(after: str | None) -> list[Any]:
    params = dict(PARAMS, after=after) if after else PARAMS
    return [matchers.query_param_matcher(params)]


def add_account(rsps: Any, zone: Any = "America/Los_Angeles") -> None:
    """The ad account node's answer to `fields=timezone_name`."""
    body = dict(load("ad_account.json"), timezone_name=zone)
    rsps.add("GET", ACCOUNT_URL, json=body, match=[matchers.query_param_matcher({"fields": "timezone_name"})])


def insights_row(campaign: int, currency: str, amount: str, *, day: str = "2026-11-27") -> dict[str, Any]:
    return {
        "account_currency": currency,
        # The same purchase reported under overlapping action types: only omni_purchase counts,
        # in the pinned windows (a 7-day click here).
        "action_values": [
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": amount},
            {"action_type": "omni_purchase", "value": amount, "7d_click": amount},
            {"action_type": "purchase", "value": amount, "7d_click": amount},
            {"action_type": "onsite_web_purchase", "value": amount},
        ],
        "actions": [
            {"action_type": "link_click", "value": "12"},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "1"},
            {"action_type": "omni_purchase", "value": "1", "7d_click": "1"},
            {"action_type": "purchase", "value": "1", "7d_click": "1"},
        ],
        "campaign_id": str(campaign),
        "date_start": day,
        "date_stop": day,
    }


class TestMetaAdsContract(ProviderContract):
    provider_key = "meta_ads"
    account_id = ACCOUNT
    kind = SourceKind.CLAIMED
    multi_currency = False

    def make_provider(self, base_url: str) -> MetaAdsProvider:
        return MetaAdsProvider(base_url=base_url)

    def request_url(self) -> str:
        return INSIGHTS_URL

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        chunks = [sales[i : i + page_size] for i in range(0, len(sales), page_size)] or [[]]
        campaign = 120_210_000_000_000_000
        for index, chunk in enumerate(chunks):
            rows = []
            for currency, amount in chunk:
                campaign += 1
                rows.append(insights_row(campaign, currency, amount))
            if chunk:  # a campaign with spend but no conversions today has no action lists
                rows.append(
                    {
                        "account_currency": chunk[0][0],
                        "campaign_id": "1",
                        "date_start": "2026-11-27",
                        "date_stop": "2026-11-27",
                    }
                )
            paging: dict[str, Any] = {"cursors": {"before": f"b{index}", "after": f"cursor-{index + 1}"}}
            if index < len(chunks) - 1:
                paging["next"] = (
                    f"https://graph.facebook.com/{API_VERSION}/{ACCOUNT}/insights?limit=100&after=cursor-{index + 1}"
                )
            rsps.add(
                "GET",
                INSIGHTS_URL,
                json={"data": rows, "paging": paging},
                match=cursor(f"cursor-{index}" if index else None),
            )
        add_account(rsps)

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        if kind == "auth":
            rsps.add("GET", INSIGHTS_URL, status=400, json=load("oauth_expired.json"))
        elif kind == "rate_limited":
            headers = (
                {"Retry-After": retry_after} if retry_after is not None else {"X-Business-Use-Case-Usage": BUC_USAGE}
            )
            rsps.add("GET", INSIGHTS_URL, status=400, json=load("user_request_limit.json"), headers=headers)
        elif kind == "upstream":
            rsps.add("GET", INSIGHTS_URL, status=500, json=load("temporary_error.json"))
        elif kind == "bad_response":
            rsps.add(
                "GET",
                INSIGHTS_URL,
                json={"data": [{"action_values": [{"action_type": "omni_purchase", "value": "1"}]}]},
            )
        else:  # pragma: no cover
            raise AssertionError(kind)


# --- platform-specific ----------------------------------------------------------------
def fetch(account_id: str = ACCOUNT) -> Any:
    ctx = TestMetaAdsContract().context(platform_account_id=account_id, access_token=TOKEN)
    return MetaAdsProvider(base_url=BASE).fetch_revenue(ctx)


@responses.activate
def test_requests_todays_campaign_insights_and_counts_only_omni_purchase() -> None:
    responses.add("GET", INSIGHTS_URL, json=load("insights_page1.json"), match=cursor(None))
    responses.add("GET", INSIGHTS_URL, json=load("insights_page2.json"), match=cursor("MQZDZD"))
    add_account(responses.mock)

    result = fetch()

    assert len(responses.calls) == 3  # two pages of insights, then the account's time zone
    request = responses.calls[0].request
    assert request.method == "GET"
    parts = urlsplit(str(request.url))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/v27.0/act_1234567890/insights"
    assert parse_qs(parts.query) == {k: [v] for k, v in PARAMS.items()}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert parse_qs(urlsplit(str(responses.calls[1].request.url)).query)["after"] == ["MQZDZD"]
    for call in responses.calls:
        assert "access_token" not in str(call.request.url)
        assert TOKEN not in str(call.request.url)

    account = responses.calls[2].request
    assert urlsplit(str(account.url)).path == f"/{API_VERSION}/act_1234567890"
    assert parse_qs(urlsplit(str(account.url)).query) == {"fields": ["timezone_name"]}
    assert account.headers["Authorization"] == f"Bearer {TOKEN}"

    # omni_purchase only, 7d_click + 1d_view: (119.98 + 29.99) + 20.5 + 0.015 = 170.485 USD
    # → 17048 cents (half-even); the pixel, app, on-site and generic purchase rows describe
    # the same sales.
    assert result.amounts == {"USD": 17048}
    assert result.count == (2 + 1) + 1 + 1
    assert result.kind == SourceKind.CLAIMED
    assert result.source_key == "meta_ads"
    assert result.basis is not None
    assert result.basis.measure == "omni_purchase_value"
    assert result.basis.attribution == ATTRIBUTION == "action_report_time=conversion; windows=7d_click,1d_view"
    assert (result.basis.time_zone, result.basis.date) == ("America/Los_Angeles", date(2026, 11, 27))


@responses.activate
def test_pins_the_report_time_and_the_attribution_windows_on_every_page() -> None:
    responses.add("GET", INSIGHTS_URL, json=load("insights_page1.json"), match=cursor(None))
    responses.add("GET", INSIGHTS_URL, json=load("insights_page2.json"), match=cursor("MQZDZD"))
    add_account(responses.mock)
    fetch()
    for call in responses.calls[:2]:
        query = parse_qs(urlsplit(str(call.request.url)).query)
        assert query["action_report_time"] == ["conversion"]
        assert json.loads(query["action_attribution_windows"][0]) == ["7d_click", "1d_view"]


@responses.activate
def test_only_the_pinned_windows_are_counted_not_the_default_value() -> None:
    # `value` is "the default attribution window" (whatever the ad set says: here it also
    # holds a 28-day click); the figure is the two pinned windows.
    row = insights_row(1, "USD", "0")
    row["action_values"][1] = {"action_type": "omni_purchase", "value": "150", "7d_click": "100", "1d_view": "20"}
    row["actions"][2] = {"action_type": "omni_purchase", "value": "5", "7d_click": "3", "1d_view": "1"}
    responses.add("GET", INSIGHTS_URL, json={"data": [row]})
    add_account(responses.mock)
    result = fetch()
    assert result.amounts == {"USD": 12_000}
    assert result.count == 4


@responses.activate
def test_a_purchase_value_without_the_pinned_windows_is_a_bad_response() -> None:
    row = insights_row(1, "USD", "10")
    row["action_values"][1] = {"action_type": "omni_purchase", "value": "10"}  # windows ignored
    responses.add("GET", INSIGHTS_URL, json={"data": [row]})
    with pytest.raises(ProviderBadResponse, match=r"data\[0\]\.action_values\[1\] has a value but none of the windows"):
        fetch()


@responses.activate
def test_the_basis_is_the_ad_accounts_zone_and_day_not_the_tenants() -> None:
    # 05:00 on 28 November in Berlin (the tenant) is 20:00 on the 27th in Los Angeles (the ad
    # account): Meta's today for the account, and the figure's day, is the 27th.
    now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    start = now.astimezone(TENANT_ZONE).replace(hour=0)
    responses.add("GET", INSIGHTS_URL, json={"data": [insights_row(1, "USD", "7.25", day="2026-11-27")]})
    add_account(responses.mock, "America/Los_Angeles")
    ctx = TestMetaAdsContract().context(access_token=TOKEN, window_start=start, window_end=now)
    result = MetaAdsProvider(base_url=BASE).fetch_revenue(ctx)
    assert ctx.window_start.date() == date(2026, 11, 28)
    assert result.basis is not None
    assert (result.basis.time_zone, result.basis.date) == ("America/Los_Angeles", date(2026, 11, 27))
    assert result.amounts == {"USD": 725}


@responses.activate
def test_without_rows_the_day_is_today_in_the_accounts_zone() -> None:
    responses.add("GET", INSIGHTS_URL, json={"data": []})
    add_account(responses.mock, "Australia/Sydney")
    before = datetime.now(ZoneInfo("Australia/Sydney")).date()
    result = fetch()
    after = datetime.now(ZoneInfo("Australia/Sydney")).date()
    assert result.basis is not None and result.basis.time_zone == "Australia/Sydney"
    assert result.basis.date in (before, after)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "PST", "america/new_york", "../../etc/passwd", 3, None])
@responses.activate
def test_an_unknown_or_malformed_account_time_zone_is_a_bad_response(zone: Any) -> None:
    responses.add("GET", INSIGHTS_URL, json={"data": [insights_row(1, "USD", "1")]})
    add_account(responses.mock, zone)
    with pytest.raises(ProviderBadResponse, match="timezone_name") as info:
        fetch()
    assert info.value.kind == "bad_response" and info.value.platform == "meta_ads"


@responses.activate
def test_an_account_answer_without_timezone_name_is_a_bad_response() -> None:
    responses.add("GET", INSIGHTS_URL, json={"data": []})
    responses.add("GET", ACCOUNT_URL, json={"id": "act_1234567890"})
    with pytest.raises(ProviderBadResponse, match="timezone_name"):
        fetch()


@pytest.mark.parametrize("currency", ["ZZZ", "", "DOLLARS", 840])
@responses.activate
def test_an_unknown_currency_is_a_bad_response(currency: Any) -> None:
    responses.add("GET", INSIGHTS_URL, json={"data": [insights_row(1, currency, "1")]})
    with pytest.raises(ProviderBadResponse):
        fetch()


@responses.activate
def test_rows_of_different_days_are_a_bad_response() -> None:
    rows = [insights_row(1, "USD", "1"), insights_row(2, "USD", "1", day="2026-11-26")]
    responses.add("GET", INSIGHTS_URL, json={"data": rows})
    with pytest.raises(ProviderBadResponse, match="more than one day"):
        fetch()


@responses.activate
def test_purchase_types_other_than_omni_purchase_are_never_counted() -> None:
    row = insights_row(1, "EUR", "10.00")
    row["action_values"] = [e for e in row["action_values"] if e["action_type"] != "omni_purchase"]
    row["actions"] = [e for e in row["actions"] if e["action_type"] != "omni_purchase"]
    responses.add("GET", INSIGHTS_URL, json={"data": [row], "paging": {"cursors": {"before": "a", "after": "b"}}})
    add_account(responses.mock)
    result = fetch()
    assert result.amounts == {"EUR": 0}
    assert result.count == 0


@pytest.mark.parametrize("account_id", ["act_1234567890", "1234567890", " act_1234567890 "])
@responses.activate
def test_the_act_prefix_is_optional(account_id: str) -> None:
    responses.add("GET", INSIGHTS_URL, json={"data": []})
    add_account(responses.mock)
    fetch(account_id)
    assert urlsplit(responses.calls[0].request.url).path == f"/{API_VERSION}/act_1234567890/insights"


@pytest.mark.parametrize("account_id", ["", "act_", "act_12ab", "123/../me"])
def test_a_malformed_account_id_is_refused_before_any_call(account_id: str) -> None:
    with responses.RequestsMock():
        with pytest.raises(ProviderAuthError, match="ad account id"):
            fetch(account_id)


@responses.activate
def test_paging_next_without_cursors_uses_the_after_parameter_of_next() -> None:
    first = {
        "data": [insights_row(1, "USD", "1.00")],
        "paging": {"next": f"{BASE}/{API_VERSION}/{ACCOUNT}/insights?after=QVFIUk&limit=100"},
    }
    responses.add("GET", INSIGHTS_URL, json=first, match=cursor(None))
    responses.add(
        "GET", INSIGHTS_URL, json={"data": [insights_row(2, "USD", "2.00")], "paging": {}}, match=cursor("QVFIUk")
    )
    add_account(responses.mock)
    assert fetch().amounts == {"USD": 300}


@responses.activate
def test_the_next_url_is_not_requested_as_given() -> None:
    first = {
        "data": [],
        "paging": {
            "cursors": {"after": "c1"},
            "next": "https://elsewhere.test/v27.0/act_1/insights?access_token=leak&after=c1",
        },
    }
    responses.add("GET", INSIGHTS_URL, json=first, match=cursor(None))
    responses.add("GET", INSIGHTS_URL, json={"data": []}, match=cursor("c1"))
    add_account(responses.mock)
    fetch()
    assert [urlsplit(c.request.url).netloc for c in responses.calls] == ["platform.test"] * 3


@responses.activate
def test_a_cursor_that_does_not_advance_is_a_bad_response() -> None:
    page = {"data": [], "paging": {"cursors": {"after": "same"}, "next": "https://graph.facebook.com/x?after=same"}}
    responses.add("GET", INSIGHTS_URL, json=page, match=cursor(None))
    responses.add("GET", INSIGHTS_URL, json=page, match=cursor("same"))
    with pytest.raises(ProviderBadResponse, match="did not advance"):
        fetch()


@responses.activate
def test_expired_token_code_190_is_an_auth_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.add("GET", INSIGHTS_URL, status=400, json=load("oauth_expired.json"))
    with pytest.raises(ProviderAuthError) as info:
        fetch()
    assert "code 190/463" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text


@pytest.mark.parametrize("status", [400, 403])
@pytest.mark.parametrize("code", [4, 17, 32, 613, 80000, 80004, 80014])
@responses.activate
def test_throttling_codes_are_rate_limited_with_the_business_use_case_hint(code: int, status: int) -> None:
    body = load("user_request_limit.json")
    body["error"]["code"] = code
    responses.add("GET", INSIGHTS_URL, status=status, json=body, headers={"X-Business-Use-Case-Usage": BUC_USAGE})
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 4 * 60  # estimated_time_to_regain_access is in minutes
    assert info.value.status == status
    assert f"code {code}" in str(info.value)


@responses.activate
def test_ads_insights_throttle_fixture_is_rate_limited() -> None:
    responses.add("GET", INSIGHTS_URL, status=400, json=load("insights_throttled.json"))
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 30


@responses.activate
def test_ad_account_usage_reset_time_is_the_second_hint() -> None:
    headers = {
        "X-Ad-Account-Usage": json.dumps(
            {"acc_id_util_pct": 100, "reset_time_duration": 118, "ads_api_access_tier": "standard_access"}
        )
    }
    responses.add("GET", INSIGHTS_URL, status=400, json=load("app_request_limit.json"), headers=headers)
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 118


@responses.activate
def test_retry_after_wins_over_the_usage_headers() -> None:
    headers = {"Retry-After": "9", "X-Business-Use-Case-Usage": BUC_USAGE}
    responses.add("GET", INSIGHTS_URL, status=400, json=load("user_request_limit.json"), headers=headers)
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 9


@responses.activate
def test_malformed_usage_headers_fall_back_to_the_default() -> None:
    headers = {"X-Business-Use-Case-Usage": "not json", "X-Ad-Account-Usage": "[]"}
    responses.add("GET", INSIGHTS_URL, status=403, json=load("user_request_limit.json"), headers=headers)
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 30


@responses.activate
def test_a_temporary_error_code_is_upstream() -> None:
    responses.add("GET", INSIGHTS_URL, status=400, json=load("temporary_error.json"))
    with pytest.raises(ProviderUnavailable, match="code 2"):
        fetch()


@responses.activate
def test_a_server_error_after_retries_is_upstream() -> None:
    responses.add("GET", INSIGHTS_URL, status=503, body=b"<html>down</html>", content_type="text/html")
    with pytest.raises(ProviderUnavailable):
        fetch()
    assert len(responses.calls) == 3


@responses.activate
def test_an_invalid_parameter_is_upstream_with_status_and_code() -> None:
    body = {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "fbtrace_id": "x"}}
    responses.add("GET", INSIGHTS_URL, status=400, json=body)
    with pytest.raises(ProviderUnavailable) as info:
        fetch()
    assert "400" in str(info.value) and "code 100" in str(info.value)


@responses.activate
def test_a_missing_currency_is_a_bad_response_naming_the_field() -> None:
    responses.add("GET", INSIGHTS_URL, json={"data": [{"campaign_id": "1"}]})
    with pytest.raises(ProviderBadResponse, match=r"data\[0\]\.account_currency"):
        fetch()


@responses.activate
def test_a_non_numeric_action_value_is_a_bad_response() -> None:
    row = insights_row(1, "USD", "12.50")
    row["action_values"][1]["7d_click"] = "n/a"
    responses.add("GET", INSIGHTS_URL, json={"data": [row]})
    with pytest.raises(ProviderBadResponse, match=r"data\[0\]\.action_values\[1\]\.7d_click"):
        fetch()
