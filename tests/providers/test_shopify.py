"""Shopify adapter: the shared contract, plus the GraphQL Admin API's own signals."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from providers import shopify
from providers.base import Basis, SourceKind
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


def order(number: int, currency: str, received: str, refunded: str = "0.0", **overrides: Any) -> dict[str, Any]:
    """An order edge as Shopify answers ORDERS_QUERY: `received` and `refunded` are the
    shop-money amounts of totalReceivedSet and totalRefundedSet."""
    node = {
        "id": f"gid://shopify/Order/58012345{number:05d}",
        "name": f"#{1000 + number}",
        "createdAt": "2026-11-27T09:00:00Z",
        "test": False,
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "totalReceivedSet": {"shopMoney": {"amount": received, "currencyCode": currency}},
        "totalRefundedSet": {"shopMoney": {"amount": refunded, "currencyCode": currency}},
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
                order(900 + index, "USD", "500.0", test=True),
                order(910 + index, "USD", "0.0", cancelledAt="2026-11-27T10:00:00Z", displayFinancialStatus="VOIDED"),
                order(920 + index, "USD", "75.0", "75.0", displayFinancialStatus="REFUNDED"),
                order(930 + index, "USD", "0.0", displayFinancialStatus="PENDING"),
                order(940 + index, "USD", "0.0", displayFinancialStatus="AUTHORIZED"),
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
    for field in ("createdAt", "test", "cancelledAt", "displayFinancialStatus"):
        assert field in body["query"]
    assert "totalReceivedSet { shopMoney { amount currencyCode } }" in body["query"]
    assert "totalRefundedSet { shopMoney { amount currencyCode } }" in body["query"]
    assert "presentmentMoney" not in body["query"] and "currentTotalPriceSet" not in body["query"]
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

    # 49.9 paid + (50.0 received − 19.9 refunded) + 40.0 received of a partially paid order;
    # the test order, the voided, the fully refunded, the pending and the authorized ones
    # add nothing and are not counted.
    assert result.amounts == {"EUR": 4990 + 3010 + 4000}
    assert result.count == 3
    assert result.source_key == "shopify"
    assert result.kind == SourceKind.SALES
    assert result.basis == Basis(measure="received_minus_refunded", time_zone="Europe/Berlin", date=date(2026, 11, 27))


def fetch_one_page(*edges: dict[str, Any]) -> Any:
    responses.add("POST", GRAPHQL_URL, json=page(list(edges), None, False))
    return fetch()


# --- the rule: received minus refunded, in shop money -------------------------------------


@pytest.mark.parametrize("status", ["PENDING", "AUTHORIZED"])
@responses.activate
def test_pending_and_authorized_orders_count_nothing(status: str) -> None:
    result = fetch_one_page(order(1, "USD", "0.0", displayFinancialStatus=status), order(2, "USD", "5.0"))
    assert result.amounts == {"USD": 500}
    assert result.count == 1


@responses.activate
def test_a_partially_paid_order_counts_what_was_received() -> None:
    # A 100.00 order of which 30.00 was captured: Shopify reports 30.0 received.
    result = fetch_one_page(order(1, "USD", "30.0", displayFinancialStatus="PARTIALLY_PAID"))
    assert result.amounts == {"USD": 3000}
    assert result.count == 1


@responses.activate
def test_a_partial_refund_is_netted() -> None:
    result = fetch_one_page(order(1, "GBP", "120.0", "45.5", displayFinancialStatus="PARTIALLY_REFUNDED"))
    assert result.amounts == {"GBP": 7450}
    assert result.count == 1


@responses.activate
def test_a_refund_made_today_of_an_order_created_today_is_netted() -> None:
    # Created at 08:00, refunded in full at 13:00 the same day: nothing left to count.
    refunded_today = order(
        1, "USD", "60.0", "60.0", createdAt="2026-11-27T08:00:00Z", displayFinancialStatus="REFUNDED"
    )
    result = fetch_one_page(refunded_today, order(2, "USD", "9.99"))
    assert result.amounts == {"USD": 999}
    assert result.count == 1


@responses.activate
def test_refunds_beyond_what_was_received_never_count_below_zero() -> None:
    result = fetch_one_page(order(1, "USD", "10.0", "25.0", displayFinancialStatus="REFUNDED"), order(2, "USD", "1.0"))
    assert result.amounts == {"USD": 100}
    assert result.count == 1


@pytest.mark.parametrize("status", ["VOIDED", "EXPIRED"])
@responses.activate
def test_voided_and_expired_orders_received_nothing(status: str) -> None:
    result = fetch_one_page(order(1, "USD", "0.0", displayFinancialStatus=status))
    assert result.amounts == {}
    assert result.count == 0


@responses.activate
def test_test_orders_are_excluded() -> None:
    result = fetch_one_page(order(1, "USD", "10.0", test=True), order(2, "USD", "5.0"))
    assert result.amounts == {"USD": 500}
    assert result.count == 1


@responses.activate
def test_cancelled_orders_count_nothing_even_before_their_refund() -> None:
    cancelled_unrefunded = order(1, "USD", "30.0", cancelledAt="2026-11-27T10:00:00Z", displayFinancialStatus="PAID")
    cancelled_voided = order(2, "USD", "0.0", cancelledAt="2026-11-27T10:00:00Z", displayFinancialStatus="VOIDED")
    result = fetch_one_page(cancelled_unrefunded, cancelled_voided, order(3, "USD", "5.0"))
    assert result.amounts == {"USD": 500}
    assert result.count == 1


@pytest.mark.parametrize("status", ["CAPTURED", "paid", "", "PARTIALLY_CAPTURED"])
@responses.activate
def test_an_unknown_financial_status_is_a_bad_response(status: str) -> None:
    responses.add("POST", GRAPHQL_URL, json=page([order(1, "USD", "5.0", displayFinancialStatus=status)], None, False))
    with pytest.raises(ProviderBadResponse) as info:
        fetch()
    assert "data.orders.edges[0].node.displayFinancialStatus" in str(info.value)
    assert info.value.platform == "shopify" and info.value.kind == "bad_response"


@responses.activate
def test_a_null_financial_status_is_decided_by_the_money() -> None:
    # The field is nullable in the schema; the money fields still say what was received.
    result = fetch_one_page(order(1, "USD", "5.0", displayFinancialStatus=None))
    assert result.amounts == {"USD": 500}


@pytest.mark.parametrize("field", ["totalReceivedSet", "totalRefundedSet"])
@pytest.mark.parametrize("part", ["", ".shopMoney", ".shopMoney.amount", ".shopMoney.currencyCode"])
@responses.activate
def test_a_missing_money_field_is_a_bad_response_naming_it(field: str, part: str) -> None:
    edge = order(1, "USD", "1.0", test=True)  # checked on orders that count nothing, too
    *parents, last = f"{field}{part}".split(".")
    holder = edge["node"]
    for key in parents:
        holder = holder[key]
    del holder[last]
    responses.add("POST", GRAPHQL_URL, json=page([edge], None, False))
    with pytest.raises(ProviderBadResponse) as info:
        fetch()
    assert f"data.orders.edges[0].node.{field}{part}" in str(info.value)
    assert info.value.platform == "shopify"


@pytest.mark.parametrize("currency", ["XXX", "USDC", "ZZZ"])
@responses.activate
def test_a_currency_without_an_iso_minor_unit_is_a_bad_response(currency: str) -> None:
    responses.add("POST", GRAPHQL_URL, json=page([order(1, currency, "1.0")], None, False))
    with pytest.raises(ProviderBadResponse) as info:
        fetch()
    assert "data.orders.edges[0].node.totalReceivedSet.shopMoney" in str(info.value)


@responses.activate
def test_received_and_refunded_in_different_currencies_is_a_bad_response() -> None:
    edge = order(1, "USD", "10.0", "2.0", displayFinancialStatus="PARTIALLY_REFUNDED")
    edge["node"]["totalRefundedSet"]["shopMoney"]["currencyCode"] = "EUR"
    responses.add("POST", GRAPHQL_URL, json=page([edge], None, False))
    with pytest.raises(ProviderBadResponse, match="different shop currencies"):
        fetch()


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


@responses.activate
def test_shop_money_is_counted_never_presentment_money() -> None:
    # A EUR shop selling to a customer in JPY: were Shopify to send presentmentMoney too,
    # the shop's own currency is what counts.
    edge = order(1, "EUR", "92.0", "9.2", displayFinancialStatus="PARTIALLY_REFUNDED")
    edge["node"]["totalReceivedSet"]["presentmentMoney"] = {"amount": "15137.0", "currencyCode": "JPY"}
    edge["node"]["totalRefundedSet"]["presentmentMoney"] = {"amount": "1514.0", "currencyCode": "JPY"}
    result = fetch_one_page(edge)
    assert result.amounts == {"EUR": 8280}


MULTI_SHOP_QUERY = """query($query: String) { orders(first: 250, query: $query) { nodes {
  test cancelledAt presentmentCurrencyCode
  totalReceivedSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
  totalRefundedSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } } } } }"""


def test_a_multi_currency_shop_is_counted_in_its_own_currency(sandbox: Any) -> None:
    """Against the simulator: a `-multi` shop presents orders in USD, EUR, GBP and JPY; the
    figure is the shop money of the same orders, in the shop's currency only."""
    shop, now = "rule-check-multi.myshopify.com", datetime(2026, 6, 3, 21, 0, tzinfo=UTC)
    sandbox.set_now(now)
    ctx = TestShopifyContract().context(
        platform_account_id=shop, access_token=TOKEN, window_start=now.replace(hour=0), window_end=now
    )
    result = ShopifyProvider(base_url=sandbox.url).fetch_revenue(ctx)

    search = f"created_at:>='{now.replace(hour=0).isoformat()}' AND created_at:<='{now.isoformat()}'"
    answer = requests.post(
        f"{sandbox.url}/admin/api/{API_VERSION}/graphql.json",
        json={"query": MULTI_SHOP_QUERY, "variables": {"query": search}},
        headers={"X-Shopify-Access-Token": TOKEN, "X-Skeldir-Shop": shop},
        timeout=10,
    ).json()
    counted = [o for o in answer["data"]["orders"]["nodes"] if not o["test"] and not o["cancelledAt"]]
    assert {o["presentmentCurrencyCode"] for o in counted} == {"USD", "EUR", "GBP", "JPY"}

    def net(o: dict[str, Any], money: str) -> Decimal:
        return Decimal(o["totalReceivedSet"][money]["amount"]) - Decimal(o["totalRefundedSet"][money]["amount"])

    assert result.amounts == {"USD": int(sum(net(o, "shopMoney") for o in counted) * 100)}
    assert result.count == sum(1 for o in counted if net(o, "shopMoney") > 0)
