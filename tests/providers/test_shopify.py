"""Shopify adapter: the shared contract, plus the GraphQL Admin API's own signals."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from providers import shopify
from providers.base import SourceKind
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.shopify import API_VERSION, ShopifyProvider
from tests.providers.contract import BASE, TENANT_ZONE, ProviderContract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shopify"
SHOP = "skeldir-demo.myshopify.com"
GRAPHQL_URL = f"{BASE}/admin/api/{API_VERSION}/graphql.json"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order(number: int, currency: str, amount: str, **overrides: Any) -> dict[str, Any]:
    node = {
        "id": f"gid://shopify/Order/58012345{number:05d}",
        "name": f"#{1000 + number}",
        "createdAt": "2026-11-27T09:00:00Z",
        "test": False,
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "currentTotalPriceSet": {"shopMoney": {"amount": amount, "currencyCode": currency}},
    }
    node.update(overrides)
    return {"node": node}


def page(edges: list[dict[str, Any]], end_cursor: str | None, has_next: bool) -> dict[str, Any]:
    return {
        "data": {"orders": {"edges": edges, "pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor}}},
        "extensions": {
            "cost": {
                "requestedQueryCost": 752,
                "actualQueryCost": 2 + 3 * len(edges),
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0},
            }
        },
    }


def after(cursor: str | None) -> list[Any]:
    return [matchers.json_params_matcher({"variables": {"after": cursor}}, strict_match=False)]


class TestShopifyContract(ProviderContract):
    provider_key = "shopify"
    account_id = SHOP
    kind = SourceKind.SALES

    def make_provider(self, base_url: str) -> ShopifyProvider:
        return ShopifyProvider(base_url=base_url)

    def request_method(self) -> str:
        return "POST"

    def request_url(self) -> str:
        return GRAPHQL_URL

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        chunks = [sales[i : i + page_size] for i in range(0, len(sales), page_size)] or [[]]
        number = 0
        for index, chunk in enumerate(chunks):
            edges = []
            for currency, amount in chunk:
                number += 1
                edges.append(order(number, currency, amount))
            # What Shopify also returns for the window and must not be counted.
            edges += [
                order(900 + index, "USD", "500.00", test=True),
                order(910 + index, "USD", "75.00", cancelledAt="2026-11-27T10:00:00Z", displayFinancialStatus="VOIDED"),
                order(920 + index, "USD", "0.00", displayFinancialStatus="REFUNDED"),
            ]
            last = index == len(chunks) - 1
            cursor_in = None if index == 0 else f"cursor-{index}"
            rsps.add(
                "POST",
                GRAPHQL_URL,
                json=page(edges, None if last else f"cursor-{index + 1}", not last),
                match=after(cursor_in),
            )

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        if kind == "auth":
            rsps.add("POST", GRAPHQL_URL, status=401, json=load("invalid_token.json"))
        elif kind == "rate_limited":
            if retry_after is not None:
                rsps.add(
                    "POST", GRAPHQL_URL, status=429, json=load("throttled.json"), headers={"Retry-After": retry_after}
                )
            else:
                rsps.add("POST", GRAPHQL_URL, status=200, json=load("throttled.json"))
        elif kind == "upstream":
            rsps.add(
                "POST", GRAPHQL_URL, status=503, body=b"<html>Service Unavailable</html>", content_type="text/html"
            )
        elif kind == "bad_response":
            rsps.add("POST", GRAPHQL_URL, status=200, json={"data": {"orders": {"nodes": []}}})
        else:  # pragma: no cover
            raise AssertionError(kind)


# --- platform-specific ----------------------------------------------------------------
WINDOW_START = datetime(2026, 11, 27, 0, 0, tzinfo=TENANT_ZONE)
WINDOW_END = datetime(2026, 11, 27, 14, 5, 30, 123456, tzinfo=TENANT_ZONE)


def fetch(base_url: str = BASE, account_id: str = SHOP, token: str = TOKEN) -> Any:
    ctx = TestShopifyContract().context(
        platform_account_id=account_id, access_token=token, window_start=WINDOW_START, window_end=WINDOW_END
    )
    return ShopifyProvider(base_url=base_url).fetch_revenue(ctx)


@responses.activate
def test_posts_the_pinned_orders_query_and_follows_the_cursor() -> None:
    page1 = load("orders_page1.json")
    responses.add("POST", GRAPHQL_URL, json=page1, match=after(None))
    responses.add(
        "POST",
        GRAPHQL_URL,
        json=load("orders_page2.json"),
        match=after(page1["data"]["orders"]["pageInfo"]["endCursor"]),
    )

    result = fetch()

    assert len(responses.calls) == 2
    first = responses.calls[0].request
    assert first.method == "POST"
    assert first.url == f"{BASE}/admin/api/2026-10/graphql.json"
    assert first.headers["X-Shopify-Access-Token"] == TOKEN
    assert first.headers["X-Skeldir-Shop"] == SHOP
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["X-Correlation-ID"] == "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b"
    assert "Authorization" not in first.headers
    body = json.loads(first.body or b"")
    assert "orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT)" in body["query"]
    for field in ("createdAt", "test", "cancelledAt", "displayFinancialStatus", "currentTotalPriceSet"):
        assert field in body["query"]
    assert "shopMoney { amount currencyCode }" in body["query"]
    assert "pageInfo { hasNextPage endCursor }" in body["query"]
    # Berlin midnight is 23:00 UTC the day before; the end is inclusive to the second.
    assert body["variables"] == {
        "first": 250,
        "after": None,
        "query": "created_at:>='2026-11-26T23:00:00Z' AND created_at:<'2026-11-27T13:05:31Z'",
    }
    second = json.loads(responses.calls[1].request.body or b"")
    assert second["variables"]["after"] == page1["data"]["orders"]["pageInfo"]["endCursor"]
    assert second["variables"]["query"] == body["variables"]["query"]

    # 49.9 paid + 30.10 still kept of a partially refunded order + 120.00 pending;
    # the test order, the cancelled/voided one and the fully refunded one are not counted.
    assert result.amounts == {"EUR": 4990 + 3010 + 12000}
    assert result.count == 3
    assert result.source_key == "shopify"
    assert result.kind == SourceKind.SALES


@responses.activate
def test_test_and_cancelled_orders_are_excluded() -> None:
    edges = [
        order(1, "USD", "10.00", test=True),
        order(2, "USD", "20.00", cancelledAt="2026-11-27T10:00:00Z"),
        order(3, "USD", "30.00", cancelledAt="2026-11-27T10:00:00Z", displayFinancialStatus="PAID"),
        order(4, "USD", "40.00", displayFinancialStatus="EXPIRED"),
        order(5, "USD", "5.00"),
    ]
    responses.add("POST", GRAPHQL_URL, json=page(edges, "c1", False))
    result = fetch()
    assert result.amounts == {"USD": 500}
    assert result.count == 1


@responses.activate
def test_without_override_calls_the_shop_itself_and_sends_no_shop_header() -> None:
    url = f"https://{SHOP}/admin/api/{API_VERSION}/graphql.json"
    responses.add("POST", url, json=page([order(1, "USD", "9.99")], None, False))
    result = fetch(base_url="")
    request = responses.calls[0].request
    assert request.url == url
    assert "X-Skeldir-Shop" not in request.headers
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert result.amounts == {"USD": 999}


@responses.activate
def test_a_bare_shop_handle_or_url_is_normalised_to_the_myshopify_domain() -> None:
    url = f"https://{SHOP}/admin/api/{API_VERSION}/graphql.json"
    responses.add("POST", url, json=page([], None, False))
    fetch(base_url="", account_id="skeldir-demo")
    fetch(base_url="", account_id="https://Skeldir-Demo.myshopify.com/")
    assert [c.request.url for c in responses.calls] == [url, url]


@responses.activate
def test_the_override_names_the_shop_in_the_header() -> None:
    responses.add("POST", GRAPHQL_URL, json=page([], None, False))
    fetch(account_id="https://skeldir-demo.myshopify.com")
    assert responses.calls[0].request.headers["X-Skeldir-Shop"] == SHOP


@pytest.mark.parametrize("account_id", ["shop.example.com", "evil.test/x?y=", "", "skeldir demo"])
def test_a_token_is_only_sent_to_a_myshopify_domain(account_id: str) -> None:
    with responses.RequestsMock() as rsps:  # any request at all would fail the test
        with pytest.raises(ProviderAuthError):
            fetch(base_url="", account_id=account_id)
        assert len(rsps.calls) == 0


@responses.activate
def test_throttled_with_http_200_waits_for_the_bucket_to_refill() -> None:
    responses.add("POST", GRAPHQL_URL, status=200, json=load("throttled.json"))
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    # ceil((752 requested - 152 available) / 100 restored per second)
    assert info.value.retry_after == 6
    assert info.value.status == 200
    assert len(responses.calls) == 1


@responses.activate
def test_throttled_with_http_429_and_retry_after_uses_the_header() -> None:
    responses.add("POST", GRAPHQL_URL, status=429, json=load("throttled.json"), headers={"Retry-After": "11"})
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 11
    assert info.value.status == 429


@responses.activate
def test_throttled_with_http_429_and_no_header_uses_the_cost() -> None:
    responses.add("POST", GRAPHQL_URL, status=429, json=load("throttled.json"))
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 6


@responses.activate
def test_throttle_wait_is_at_least_one_second() -> None:
    body = load("throttled.json")
    body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] = 751.5
    responses.add("POST", GRAPHQL_URL, json=body)
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 1


@responses.activate
def test_throttled_without_cost_falls_back_to_the_default() -> None:
    responses.add("POST", GRAPHQL_URL, json={"errors": [{"message": "Throttled"}]})
    with pytest.raises(ProviderRateLimited) as info:
        fetch()
    assert info.value.retry_after == 30


@responses.activate
def test_invalid_access_token_is_an_auth_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.add("POST", GRAPHQL_URL, status=401, json=load("invalid_token.json"))
    with pytest.raises(ProviderAuthError) as info:
        fetch()
    assert "Invalid API key or access token" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text


@responses.activate
def test_access_denied_graphql_error_is_an_auth_error() -> None:
    responses.add("POST", GRAPHQL_URL, status=200, json=load("access_denied.json"))
    with pytest.raises(ProviderAuthError) as info:
        fetch()
    assert "ACCESS_DENIED" in str(info.value)


@responses.activate
def test_other_graphql_errors_are_upstream_and_quoted_briefly() -> None:
    responses.add("POST", GRAPHQL_URL, status=200, json=load("internal_error.json"))
    with pytest.raises(ProviderUnavailable) as info:
        fetch()
    assert "INTERNAL_SERVER_ERROR" in info.value.message
    assert len(info.value.message) <= 250


@responses.activate
def test_a_token_echoed_by_the_platform_is_redacted() -> None:
    body = {"errors": [{"message": f"bad token {TOKEN} for shop", "extensions": {"code": "ACCESS_DENIED"}}]}
    responses.add("POST", GRAPHQL_URL, json=body)
    with pytest.raises(ProviderAuthError) as info:
        fetch()
    assert TOKEN not in str(info.value)
    assert "[redacted]" in str(info.value)


@responses.activate
def test_a_missing_money_field_is_a_bad_response_naming_it() -> None:
    edge = order(1, "USD", "1.00")
    del edge["node"]["currentTotalPriceSet"]["shopMoney"]["amount"]
    responses.add("POST", GRAPHQL_URL, json=page([edge], None, False))
    with pytest.raises(ProviderBadResponse) as info:
        fetch()
    assert "data.orders.edges[0].node.currentTotalPriceSet.shopMoney.amount" in str(info.value)
    assert info.value.platform == "shopify"


@responses.activate
def test_an_amount_with_too_many_decimals_is_refused() -> None:
    responses.add("POST", GRAPHQL_URL, json=page([order(1, "USD", "1.005")], None, False))
    with pytest.raises(ProviderBadResponse):
        fetch()


@responses.activate
def test_a_cursor_that_does_not_advance_is_a_bad_response() -> None:
    responses.add("POST", GRAPHQL_URL, json=page([order(1, "USD", "1.00")], "same", True), match=after(None))
    responses.add("POST", GRAPHQL_URL, json=page([order(2, "USD", "1.00")], "same", True), match=after("same"))
    with pytest.raises(ProviderBadResponse, match="did not advance"):
        fetch()


@responses.activate
def test_pages_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shopify, "MAX_PAGES", 3)
    for n in range(3):
        responses.add("POST", GRAPHQL_URL, json=page([], f"c{n + 1}", True), match=after(f"c{n}" if n else None))
    with pytest.raises(ProviderBadResponse, match="more than 3 pages"):
        fetch()
    assert len(responses.calls) == 3
