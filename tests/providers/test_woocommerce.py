"""WooCommerce adapter: the shared contract plus store URLs, Basic auth, X-WP-TotalPages, the
window's bounds as WordPress applies them, `dp` per currency, paid statuses and refunds."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from providers.base import Basis, ProviderContext, SourceKind
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderRateLimited, ProviderUnavailable
from providers.woocommerce import PAID_STATUSES, UNPAID_STATUSES, WooCommerceProvider
from tests.providers.contract import BASE, TENANT_ZONE, ProviderContract, window

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce"
STORE = "https://shop.example.com"
ORDERS_PATH = "/wp-json/wc/v3/orders"
# Distinctive, like the contract's token, and in WooCommerce's consumer_key:consumer_secret form.
KEYS = "ck_CONTRACT_SECRET_4f3c2b1a0f9e8d7c:cs_CONTRACT_SECRET_0a1b2c3d4e5f6a7b"
# The window of `context()`: 2024-05-02 in Berlin, i.e. from 2024-05-01T22:00:00Z.
MIDNIGHT_GMT = "2024-05-01T22:00:00"
EXPECTED_QUERY = {
    "after": ["2024-05-01T21:59:59"],  # one second early: WordPress's `after` is exclusive
    "before": ["2024-05-02T09:30:16"],  # the end (09:30:15.5Z) rounded up to the second
    "dates_are_gmt": ["true"],
    "status": ["any"],
    "dp": ["2"],
    "per_page": ["100"],
    "orderby": ["date"],
    "order": ["asc"],
    "_fields": ["id,status,currency,total,refunds,date_created_gmt"],
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order(
    order_id: int,
    status: str,
    currency: str,
    total: str,
    refunds: tuple[str, ...] = (),
    created: str = "2024-05-01T22:28:02",
) -> dict[str, Any]:
    body = load("order.json")
    body.update(id=order_id, number=str(order_id), status=status, currency=currency, total=total)
    body.update(date_created_gmt=created, date_created=created)  # (the store's zone does not matter here)
    body["refunds"] = [{"id": 9000 + n, "reason": "", "total": r} for n, r in enumerate(refunds)]
    return body


def excluded_orders(created: str = "2024-05-01T22:28:02") -> list[dict[str, Any]]:
    """Orders of the day (status=any lists them all) that are not paid sales."""
    return [
        order(801, "refunded", "USD", "40.00", refunds=("-40.00",), created=created),
        order(802, "cancelled", "USD", "15.00", created=created),
        order(803, "pending", "USD", "25.00", created=created),
        order(804, "failed", "USD", "30.00", created=created),
        order(806, "on-hold", "USD", "35.00", created=created),
        order(807, "checkout-draft", "USD", "45.00", created=created),
        # refunded in full, still "completed"
        order(805, "completed", "USD", "10.00", refunds=("-10.00",), created=created),
    ]


def store(orders: list[dict[str, Any]], *, pages_of: int = 100) -> Any:
    """A `responses` callback answering like WooCommerce: `orders` hold amounts as the store
    keeps them (any number of decimals) and are rendered with the request's `dp` (PHP's
    number_format: half away from zero), a page at a time, with X-WP-TotalPages."""

    def render(value: str, dp: str | None) -> str:
        if dp is None:
            return value
        return str(Decimal(value).quantize(Decimal(1).scaleb(-int(dp)), rounding=ROUND_HALF_UP))

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        params = {k: v[0] for k, v in query(request).items()}
        page = int(params.get("page", "1"))
        chunk = orders[(page - 1) * pages_of : page * pages_of]
        body = [
            {
                **o,
                "total": render(o["total"], params.get("dp")),
                "refunds": [
                    {**r, "total": "-" + render(r["total"].lstrip("-"), params.get("dp"))} for r in o["refunds"]
                ],
            }
            for o in chunk
        ]
        pages = -(-len(orders) // pages_of)
        return 200, page_headers(len(orders), pages), json.dumps(body)

    return reply


def dps(calls: Any) -> list[tuple[str, str]]:
    """(dp, page) of every request made."""
    return [(query(c.request)["dp"][0], query(c.request)["page"][0]) for c in calls]


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def gmt(moment: datetime) -> str:
    """`date_created_gmt` of an order placed at `moment`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


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
        created = gmt(window()[0])  # placed at the very start of the tenant's day
        orders = [
            order(1000 + n, "completed" if n % 2 else "processing", c, v, created=created)
            for n, (c, v) in enumerate(sales)
        ]
        pages = [orders[i : i + page_size] for i in range(0, len(orders), page_size)] or [[]]
        pages[0] = pages[0] + excluded_orders(created)
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
            broken = order(727, "completed", "USD", "10.00", created=gmt(window()[0]))
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

    first, second = (call.request for call in responses.calls[:2])
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


# --- the window ---------------------------------------------------------------------------


@responses.activate
def test_an_order_placed_at_exactly_midnight_counts_once() -> None:
    # WordPress applies `after` strictly (WP_Date_Query, inclusive=false): asked for
    # after=21:59:59 it lists the 22:00:00 order. A plugin widening the query could still
    # list one from before the window; it belongs to yesterday and is dropped here.
    responses.add_callback(
        "GET",
        f"{BASE}{ORDERS_PATH}",
        content_type="application/json",
        callback=store(
            [
                order(1, "completed", "USD", "7.00", created="2024-05-01T21:59:59"),
                order(2, "completed", "USD", "10.00", created=MIDNIGHT_GMT),
                order(3, "processing", "USD", "1.25", created="2024-05-02T09:30:15"),
                order(4, "completed", "USD", "3.00", created="2024-05-02T09:30:16"),  # after the end
            ]
        ),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert query(responses.calls[0].request)["after"] == ["2024-05-01T21:59:59"]
    assert (result.amounts, result.count) == ({"USD": 1000 + 125}, 2)


@responses.activate
def test_window_bounds_are_the_utc_wall_clock_without_an_offset() -> None:
    # WordPress converts a value WITH an offset to the store's zone before comparing it
    # with date_created_gmt (build_mysql_datetime); a bare wall clock is compared as is.
    responses.get(f"{BASE}{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    start = datetime(2024, 5, 2, tzinfo=TENANT_ZONE)
    WooCommerceProvider(base_url=BASE).fetch_revenue(context(window_start=start, window_end=start + timedelta(days=1)))
    sent = query(responses.calls[0].request)
    assert (sent["after"], sent["before"]) == (["2024-05-01T21:59:59"], ["2024-05-02T22:00:00"])
    assert sent["dates_are_gmt"] == ["true"]


@responses.activate
def test_the_figure_says_what_it_means() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert result.basis == Basis(measure="paid_orders_minus_refunds", time_zone="Europe/Berlin", date=date(2024, 5, 2))


# --- amounts and dp -------------------------------------------------------------------------


@responses.activate
def test_dp_is_sent_so_a_store_with_four_decimals_does_not_fail() -> None:
    # The store shows 4 decimals: without dp WooCommerce answers "12.3456" (not a USD
    # amount); with dp=2 it rounds half away from zero, as number_format does.
    responses.add_callback(
        "GET",
        f"{BASE}{ORDERS_PATH}",
        content_type="application/json",
        callback=store(
            [
                order(1, "completed", "USD", "12.3456"),
                order(2, "processing", "USD", "0.1250", refunds=("-0.0050",)),
                order(3, "completed", "EUR", "19.9949"),
            ]
        ),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert result.amounts == {"USD": 1235 + 13 - 1, "EUR": 1999}
    assert dps(responses.calls) == [("2", "1")]


@responses.activate
def test_a_store_in_another_currency_is_read_with_its_own_dp() -> None:
    # A JPY store keeping 2 decimals: the first page (asked with dp=2) has no two-decimal
    # order, so the walk starts again with dp=0 at once; 1200.50 JPY renders as 1201.
    responses.add_callback(
        "GET",
        f"{BASE}{ORDERS_PATH}",
        content_type="application/json",
        callback=store([order(n, "completed", "JPY", "1200.50") for n in range(1, 4)], pages_of=2),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert result.amounts == {"JPY": 3 * 1201}
    assert dps(responses.calls) == [("2", "1"), ("0", "1"), ("0", "2")]


@responses.activate
def test_each_order_of_a_mixed_currency_store_is_read_with_its_currencys_dp() -> None:
    responses.add_callback(
        "GET",
        f"{BASE}{ORDERS_PATH}",
        content_type="application/json",
        callback=store(
            [
                order(1, "completed", "USD", "10.005"),
                order(2, "completed", "JPY", "1200.4"),
                order(3, "completed", "KWD", "12.3455"),
                order(4, "processing", "USD", "1.00"),
            ],
            pages_of=3,
        ),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert result.amounts == {"USD": 1001 + 100, "JPY": 1200, "KWD": 12346}
    assert result.count == 4
    assert dps(responses.calls) == [("2", "1"), ("2", "2"), ("0", "1"), ("0", "2"), ("3", "1"), ("3", "2")]


@responses.activate
def test_more_decimals_than_dp_asked_for_is_a_bad_response() -> None:
    # A store (or plugin) that ignores dp: silently rounding money would hide it.
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(9, "completed", "USD", "12.3456")], headers=page_headers(1, 1))
    with pytest.raises(ProviderBadResponse, match="more decimals"):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())


# --- what counts --------------------------------------------------------------------------


@responses.activate
def test_paid_orders_count_net_of_refunds_with_any_number_of_decimals() -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        page = query(request)["page"][0]
        return 200, page_headers(7, 2), (FIXTURES / f"orders_page{page}.json").read_text()

    responses.add_callback("GET", f"{BASE}{ORDERS_PATH}", callback=reply, content_type="application/json")
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    # "12.5" and "1250.0" USD; EUR 50.00 less a 10.00 refund; JPY 1200; refunded, cancelled
    # and on-hold orders left out.
    assert result.amounts == {"USD": 1250 + 125000, "EUR": 4000, "JPY": 1200}
    assert result.count == 4


@responses.activate
def test_a_partial_refund_is_netted() -> None:
    responses.get(
        f"{BASE}{ORDERS_PATH}",
        json=[order(1, "completed", "EUR", "50.00", refunds=("-10.00", "-5.50"))],
        headers=page_headers(1, 1),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({"EUR": 3450}, 1)


@responses.activate
def test_a_refund_made_today_of_an_order_placed_today_is_netted() -> None:
    # WooCommerce lists an order's refunds on the order, whenever they were made. An order
    # placed yesterday and refunded today is not today's order: it does not reduce today.
    responses.get(
        f"{BASE}{ORDERS_PATH}",
        json=[
            order(1, "processing", "USD", "80.00", refunds=("-30.00",), created="2024-05-02T06:00:00"),
            order(2, "completed", "USD", "99.00", refunds=("-99.00",), created="2024-05-01T12:00:00"),
        ],
        headers=page_headers(2, 1),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 5000}, 1)


@responses.activate
def test_refunds_beyond_the_total_count_zero_not_below() -> None:
    responses.get(
        f"{BASE}{ORDERS_PATH}",
        json=[order(1, "completed", "USD", "10.00", refunds=("-8.00", "-4.00")), order(2, "completed", "USD", "1.00")],
        headers=page_headers(2, 1),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 100}, 1)


@pytest.mark.parametrize("status", sorted(UNPAID_STATUSES))
@responses.activate
def test_a_known_unpaid_status_counts_zero(status: str) -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(1, status, "USD", "25.00")], headers=page_headers(1, 1))
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({}, 0)


@pytest.mark.parametrize("status", sorted(PAID_STATUSES))
@responses.activate
def test_each_paid_status_counts(status: str) -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(1, status, "USD", "25.00")], headers=page_headers(1, 1))
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 2500}, 1)


@responses.activate
def test_an_unknown_status_is_a_bad_response_naming_it() -> None:
    # e.g. a plugin's "shipped", which the store may count as paid: not a silent 0.
    responses.get(
        f"{BASE}{ORDERS_PATH}",
        json=[order(1, "completed", "USD", "5.00"), order(4712, "shipped", "USD", "25.00")],
        headers=page_headers(2, 1),
    )
    with pytest.raises(ProviderBadResponse, match="4712.*unknown order status shipped"):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())


@pytest.mark.parametrize("field", ["total", "currency", "date_created_gmt", "status"])
@responses.activate
def test_a_paid_order_missing_a_field_it_is_read_by_is_a_bad_response(field: str) -> None:
    broken = order(1, "completed", "USD", "5.00")
    del broken[field]
    responses.get(f"{BASE}{ORDERS_PATH}", json=[broken], headers=page_headers(1, 1))
    with pytest.raises(ProviderBadResponse, match=field):
        WooCommerceProvider(base_url=BASE).fetch_revenue(context())


@responses.activate
def test_an_order_listed_twice_across_pages_counts_once() -> None:
    # Offset pagination shifts when an order is deleted mid-walk.
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(1, "completed", "USD", "4.00")], headers=page_headers(2, 2))
    responses.get(
        f"{BASE}{ORDERS_PATH}",
        json=[order(1, "completed", "USD", "4.00"), order(2, "completed", "USD", "1.00")],
        headers=page_headers(2, 2),
    )
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 500}, 2)


@responses.activate
def test_zero_total_pages_with_an_empty_list_is_one_request() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[], headers=page_headers(0, 0))
    result = WooCommerceProvider(base_url=BASE).fetch_revenue(context())
    assert (result.amounts, result.count) == ({}, 0)
    assert len(responses.calls) == 1


@responses.activate
def test_without_total_pages_header_a_short_page_ends_the_list() -> None:
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(n, "completed", "USD", "10.00") for n in range(100)])
    responses.get(f"{BASE}{ORDERS_PATH}", json=[order(100, "completed", "USD", "5.00")])
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


# --- end to end, against the simulator ---------------------------------------------------

E2E_NOW = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)


def sim_context(store: str, start: datetime, end: datetime) -> ProviderContext:
    return context(
        platform_account_id=f"https://{store}", access_token="ck_e2e:cs_e2e", window_start=start, window_end=end
    )


@pytest.fixture
def simulator(sandbox: Any) -> Any:
    sandbox.set_now(E2E_NOW)
    return sandbox


def test_simulator_order_placed_at_exactly_the_tenants_midnight_counts_once(simulator: Any) -> None:
    # `-midnight`: an order on every quarter hour on the dot, so one at 22:00:00 UTC, the
    # start of 2026-06-03 in Berlin. Windows starting one second apart differ by exactly that
    # order, and adjacent windows add up (nothing counted twice at their shared bound).
    provider = WooCommerceProvider(base_url=simulator.url)
    store = "e2e-midnight.example.com"
    start = E2E_NOW.astimezone(TENANT_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    end = E2E_NOW.astimezone(TENANT_ZONE)
    whole = provider.fetch_revenue(sim_context(store, start, end))
    late = provider.fetch_revenue(sim_context(store, start + timedelta(seconds=1), end))
    assert whole.count == late.count + 1
    (currency,) = whole.amounts
    assert whole.amounts[currency] > late.amounts[currency]

    before = provider.fetch_revenue(sim_context(store, start - timedelta(minutes=15), start))
    both = provider.fetch_revenue(sim_context(store, start - timedelta(minutes=15), end))
    assert before.count >= 1  # the 21:45:00 order, and any other of that quarter hour
    assert both.count == before.count + whole.count
    assert both.amounts[currency] == before.amounts[currency] + whole.amounts[currency]


def test_simulator_store_with_four_decimals_is_read_to_the_cent(simulator: Any) -> None:
    # `-dp4`: the store's prices have 4 decimals ("12.3456" without dp). The adapter's figure
    # is each paid order's total less its refunds, each rounded half up to the cent.
    store = "e2e-dp4.example.com"
    start = E2E_NOW.astimezone(TENANT_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    raw = requests.get(
        f"{simulator.url}/wp-json/wc/v3/orders",
        params={
            "after": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "per_page": 100,
            "status": "processing,completed,ready-for-pickup",
        },
        auth=("ck_e2e", "cs_e2e"),
        headers={"X-Skeldir-Shop": store},
        timeout=10,
    )
    native = raw.json()
    assert int(raw.headers["X-WP-TotalPages"]) == 1
    assert any(len(o["total"].split(".")[1]) == 4 and not o["total"].endswith("00") for o in native)

    def cents(value: str) -> int:
        return int(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)

    nets = [cents(o["total"]) - sum(cents(r["total"][1:]) for r in o["refunds"]) for o in native]
    # The start is midnight Berlin (22:00 UTC the day before), which is inside the window.
    result = WooCommerceProvider(base_url=simulator.url).fetch_revenue(
        sim_context(store, start, E2E_NOW.astimezone(TENANT_ZONE))
    )
    assert result.amounts == {"USD": sum(n for n in nets if n > 0)}
    assert result.count == sum(1 for n in nets if n > 0) > 0
