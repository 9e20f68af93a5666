"""WooCommerce adapter: the shared contract plus store URLs, Basic auth, X-WP-TotalPages and decimal totals."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from providers.base import ProviderContext, SourceKind
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderRateLimited, ProviderUnavailable
from providers.woocommerce import WooCommerceProvider
from tests.providers.contract import BASE, TENANT_ZONE, ProviderContract

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce"
STORE = "https://shop.example.com"
ORDERS_PATH = "/wp-json/wc/v3/orders"
# Distinctive, like the contract's token, and in WooCommerce's consumer_key:consumer_secret form.
KEYS = "ck_CONTRACT_SECRET_4f3c2b1a0f9e8d7c:cs_CONTRACT_SECRET_0a1b2c3d4e5f6a7b"
EXPECTED_QUERY = {
    "after": ["2024-05-01T22:00:00Z"],
    "before": ["2024-05-02T09:30:15Z"],
    "dates_are_gmt": ["true"],
    "status": ["processing,completed"],
    "per_page": ["100"],
    "orderby": ["date"],
    "order": ["asc"],
    "_fields": ["id,status,currency,total,refunds"],
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order(order_id: int, status: str, currency: str, total: str, refunds: tuple[str, ...] = ()) -> dict[str, Any]:
    body = load("order.json")
    body.update(id=order_id, number=str(order_id), status=status, currency=currency, total=total)
    body["refunds"] = [{"id": 9000 + n, "reason": "", "total": r} for n, r in enumerate(refunds)]
    return body


def excluded_orders() -> list[dict[str, Any]]:
    """Orders a plugin-widened query could return that are not paid sales."""
    return [
        order(801, "refunded", "USD", "40.00", refunds=("-40.00",)),
        order(802, "cancelled", "USD", "15.00"),
        order(803, "pending", "USD", "25.00"),
        order(804, "failed", "USD", "30.00"),
        order(805, "completed", "USD", "10.00", refunds=("-10.00",)),  # refunded in full, still "completed"
    ]


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def page_headers(total: int, pages: int) -> dict[str, str]:
    return {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}


def context(**overrides: Any) -> ProviderContext:
    values: dict[str, Any] = {
        "tenant_id": uuid.UUID("00000000-0000-4000-8000-00000000000a"),
        "connection_id": uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
        "platform_account_id": STORE,
        "connection_metadata": {},
        "access_token": KEYS,
        "window_start": datetime(2024, 5, 2, tzinfo=TENANT_ZONE),
        "window_end": datetime(2024, 5, 2, 11, 30, 15, 500000, tzinfo=TENANT_ZONE),
        "correlation_id": "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b",
    }
    values.update(overrides)
    return ProviderContext(**values)


class TestWooCommerceContract(ProviderContract):
    provider_key = "woocommerce"
    account_id = STORE
    access_token = KEYS
    kind = SourceKind.SALES

    def make_provider(self, base_url: str) -> WooCommerceProvider:
        return WooCommerceProvider(base_url=base_url)

    def request_url(self) -> str:
        return f"{BASE}{ORDERS_PATH}"

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        orders = [order(1000 + n, "completed" if n % 2 else "processing", c, v) for n, (c, v) in enumerate(sales)]
        pages = [orders[i : i + page_size] for i in range(0, len(orders), page_size)] or [[]]
        pages[0] = pages[0] + excluded_orders()
        total_pages = len(pages) if sales else 0  # WordPress reports nothing found as 0 pages

        def reply(request: Any) -> tuple[int, dict[str, str], str]:
            page = int(query(request)["page"][0])
            return 200, page_headers(len(orders), total_pages), json.dumps(pages[page - 1])

        rsps.add_callback("GET", self.request_url(), callback=reply, content_type="application/json")

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        url = self.request_url()
        if kind == "auth":
            rsps.get(url, status=401, json=load("error_authentication.json"))
        elif kind == "rate_limited":
            headers = {"Retry-After": retry_after} if retry_after else {}
            rsps.get(url, status=429, json=load("error_too_many_requests.json"), headers=headers)
        elif kind == "upstream":
            rsps.get(url, status=500, json=load("error_critical.json"))
        elif kind == "bad_response":
            broken = order(727, "completed", "USD", "10.00")
            del broken["total"]
            rsps.get(url, json=[broken], headers=page_headers(1, 1))
        else:
            raise AssertionError(kind)


# --- the request --------------------------------------------------------------------------


@responses.activate
def test_request_goes_to_the_store_with_basic_auth() -> None:
    url = f"https://shop.example.com/store{ORDERS_PATH}"
    responses.get(url, json=load("orders_page1.json"), headers=page_headers(7, 2))
    responses.get(url, json=load("orders_page2.json"), headers=page_headers(7, 2))
    WooCommerceProvider().fetch_revenue(context(platform_account_id="https://shop.example.com/store/"))

    first, second = (call.request for call in responses.calls)
    assert first.method == "GET"
    assert urlsplit(first.url)[:3] == ("https", "shop.example.com", f"/store{ORDERS_PATH}")
    assert query(first) == {**EXPECTED_QUERY, "page": ["1"]}
    assert query(second) == {**EXPECTED_QUERY, "page": ["2"]}
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(KEYS.encode()).decode()
    assert first.headers["X-Correlation-ID"] == "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b"
    assert "X-Skeldir-Shop" not in first.headers
    assert "consumer_key" not in first.url and "ck_" not in first.url


@responses.activate
def test_bare_host_means_https() -> None:
    responses.get(f"https://shop.example.com{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    WooCommerceProvider().fetch_revenue(context(platform_account_id="shop.example.com"))
    assert len(responses.calls) == 1


@responses.activate
def test_override_base_url_keeps_the_store_path_and_names_the_store() -> None:
    responses.get(f"{BASE}/store{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    WooCommerceProvider(base_url=BASE).fetch_revenue(context(platform_account_id="https://Shop.Example.com/store"))
    assert responses.calls[0].request.headers["X-Skeldir-Shop"] == "shop.example.com"


def test_plain_http_store_is_refused_without_an_override() -> None:
    with responses.RequestsMock() as rsps:  # any request would fail the test
        with pytest.raises(ProviderAuthError, match="plain http") as info:
            WooCommerceProvider().fetch_revenue(context(platform_account_id="http://shop.example.com"))
        assert len(rsps.calls) == 0
    assert KEYS not in str(info.value)


@responses.activate
def test_plain_http_store_is_allowed_through_an_override() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    WooCommerceProvider(base_url=BASE).fetch_revenue(context(platform_account_id="http://shop.example.com:8080"))
    assert responses.calls[0].request.headers["X-Skeldir-Shop"] == "shop.example.com:8080"


@pytest.mark.parametrize("keys", ["ck_onlythekey", ":cs_onlythesecret", "ck_key:"])
def test_keys_not_in_key_colon_secret_form_are_an_auth_error(keys: str) -> None:
    with responses.RequestsMock() as rsps:
        with pytest.raises(ProviderAuthError) as info:
            WooCommerceProvider(base_url=BASE).fetch_revenue(context(access_token=keys))
        assert len(rsps.calls) == 0
    assert keys.strip(":") not in str(info.value)


# --- what counts --------------------------------------------------------------------------


@responses.activate
def test_paid_orders_count_net_of_refunds_with_any_number_of_decimals() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=load("orders_page1.json"), headers=page_headers(7, 2))
    responses.get(f"{BASE}{ORDERS_PATH}", json=load("orders_page2.json"), headers=page_headers(7, 2))
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    # "12.5" and "1250.0" USD; EUR 50.00 less a 10.00 refund; JPY 1200; refunded, cancelled
    # and on-hold orders left out.
    assert result.amounts == {"USD": 1250 + 125000, "EUR": 4000, "JPY": 1200}
    assert result.count == 4


@responses.activate
def test_zero_total_pages_with_an_empty_list_is_one_request() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({}, 0)
    assert len(responses.calls) == 1


@responses.activate
def test_without_total_pages_header_a_short_page_ends_the_list() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(1, "completed", "USD", "10.00")] * 100)
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(2, "completed", "USD", "5.00")])
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert result.amounts == {"USD": 100 * 1000 + 500}
    assert len(responses.calls) == 2


# --- errors -------------------------------------------------------------------------------


@responses.activate
def test_cannot_view_is_auth() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", status=403, json=load("error_cannot_view.json"))
    with pytest.raises(ProviderAuthError, match="woocommerce_rest_cannot_view"):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())


@responses.activate
def test_authentication_error_code_is_auth_whatever_the_status() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", status=400, json=load("error_authentication.json"))
    with pytest.raises(ProviderAuthError):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())


@responses.activate
def test_rest_api_switched_off_is_upstream_with_status() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", status=404, json=load("error_no_route.json"))
    with pytest.raises(ProviderUnavailable) as info:
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert info.value.status == 404
    assert "rest_no_route" in str(info.value)


@responses.activate
def test_429_without_retry_after_uses_the_default_backoff() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", status=429, json=load("error_too_many_requests.json"))
    with pytest.raises(ProviderRateLimited) as info:
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert info.value.retry_after == 30


@responses.activate
def test_object_instead_of_list_is_a_bad_response() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json={"orders": []})
    with pytest.raises(ProviderBadResponse, match="list"):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())


@responses.activate
def test_unknown_currency_is_a_bad_response_naming_the_order() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(4711, "completed", "BTC", "0.001")], headers=page_headers(1, 1))
    with pytest.raises(ProviderBadResponse, match="4711"):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())
