"""The local platform simulator: each platform's endpoint shapes and paging, determinism,
window filtering, every fault switch, call counting and the control API. Plain
`requests` against a real socket; no database."""

from __future__ import annotations

import base64
import json
import math
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from providers.errors import ProviderBadResponse, ProviderNetworkError
from providers.http import HttpConfig, ProviderHttp
from providers.sandbox import Sandbox
from providers.sandbox.woocommerce import _only as woocommerce_only

NOW = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
DAY_START = NOW.replace(hour=0)
STRIPE_HEADERS = {"Authorization": "Bearer sk_test_sandbox", "Stripe-Version": "2025-01-27.acacia"}
ORDERS_QUERY = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    edges { node { id name createdAt test cancelledAt displayFinancialStatus
                   currentTotalPriceSet { shopMoney { amount currencyCode } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
SHOPIFY_TOKEN, PAYPAL_SECRET, GOOGLE_TOKEN, DEVELOPER_TOKEN, META_TOKEN = (
    "shpat_sandbox",
    "secret-1",
    "ya29.any",
    "dev-token",
    "EAAB-sandbox",
)
GAQL = (
    "SELECT customer.currency_code, campaign.id, metrics.conversions_value, metrics.conversions "
    "FROM campaign WHERE segments.date DURING TODAY"
)


def _http(method: str):
    def send(url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.request(method, url, **kwargs)  # noqa: S113 (the default is set just above)

    return send


get, post, delete = _http("GET"), _http("POST"), _http("DELETE")


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    sandbox.set_now(NOW)
    return sandbox


# --- request helpers, one per platform ----------------------------------------------------------------


def stripe_get(sb: Sandbox, account: str = "acct_shop", headers: dict[str, str] | None = None, **params: Any):
    params.setdefault("created[gte]", int(DAY_START.timestamp()))
    params.setdefault("created[lt]", int(NOW.timestamp()) + 1)
    params.setdefault("limit", 100)
    sent = {**STRIPE_HEADERS, "Stripe-Account": account, **(headers or {})}
    return get(f"{sb.url}/v1/charges", params=params, headers={k: v for k, v in sent.items() if v})


def stripe_all(sb: Sandbox, account: str = "acct_shop", limit: int = 100, **params: Any) -> list[dict[str, Any]]:
    charges: list[dict[str, Any]] = []
    while True:
        page = stripe_get(sb, account, limit=limit, **params).json()
        charges += page["data"]
        if not page["has_more"]:
            return charges
        params["starting_after"] = page["data"][-1]["id"]


def shopify_post(
    sb: Sandbox,
    shop: str = "demo.myshopify.com",
    *,
    first: int = 250,
    after: str | None = None,
    search: str | None = None,
    query: str = ORDERS_QUERY,
    token: str | None = SHOPIFY_TOKEN,
):
    search = search or f"created_at:>='{DAY_START.isoformat()}' AND created_at:<'{NOW.isoformat()}'"
    headers = {"X-Skeldir-Shop": shop, **({"X-Shopify-Access-Token": token} if token else {})}
    body = {"query": query, "variables": {"first": first, "after": after, "query": search}}
    return post(f"{sb.url}/admin/api/2025-07/graphql.json", json=body, headers=headers)


def paypal_token(sb: Sandbox, client: str = "client-1", secret: str = PAYPAL_SECRET) -> str:
    response = post(f"{sb.url}/v1/oauth2/token", auth=(client, secret), data={"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def paypal_get(sb: Sandbox, token: str, **params: Any):
    params.setdefault("start_date", DAY_START.isoformat())
    params.setdefault("end_date", NOW.isoformat())
    params.setdefault("fields", "transaction_info")
    params.setdefault("page_size", 500)
    return get(f"{sb.url}/v1/reporting/transactions", params=params, headers={"Authorization": f"Bearer {token}"})


def woo_get(
    sb: Sandbox, store: str = "store.example.com", prefix: str = "/shop", auth=("ck_sandbox", "cs_sandbox"), **params
):
    # With dates_are_gmt, WordPress compares the value's wall clock with the GMT column:
    # UTC without an offset (an offset would be converted to store time first).
    params.setdefault("after", DAY_START.strftime("%Y-%m-%dT%H:%M:%S"))
    params.setdefault("before", NOW.strftime("%Y-%m-%dT%H:%M:%S"))
    params.setdefault("dates_are_gmt", "true")
    params.setdefault("per_page", 100)
    params.setdefault("orderby", "date")
    params.setdefault("order", "asc")
    return get(f"{sb.url}{prefix}/wp-json/wc/v3/orders", params=params, auth=auth, headers={"X-Skeldir-Shop": store})


def google_token(sb: Sandbox, refresh: str = "1//refresh-sandbox", client: str = "client.apps.example"):
    form = {"grant_type": "refresh_token", "client_id": client, "client_secret": "cs", "refresh_token": refresh}
    return post(f"{sb.url}/token", data=form)


def google_search(
    sb: Sandbox,
    customer: str = "1234567890",
    *,
    token: str = GOOGLE_TOKEN,
    query: str = GAQL,
    page_token: str | None = None,
    method: str = "search",
    developer_token: str | None = DEVELOPER_TOKEN,
    extra: dict[str, Any] | None = None,
):
    headers = {"Authorization": f"Bearer {token}", **({"developer-token": developer_token} if developer_token else {})}
    body = {"query": query, **({"pageToken": page_token} if page_token else {}), **(extra or {})}
    return post(f"{sb.url}/v21/customers/{customer}/googleAds:{method}", json=body, headers=headers)


def meta_get(sb: Sandbox, account: str = "act_123456", token: str | None = META_TOKEN, **params: Any):
    params.setdefault("level", "campaign")
    params.setdefault("date_preset", "today")
    params.setdefault("fields", "account_currency,action_values,actions")
    params.setdefault("limit", 100)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return get(f"{sb.url}/v23.0/{account}/insights", params=params, headers=headers)


def meta_all(sb: Sandbox, **params: Any) -> list[dict[str, Any]]:
    page = meta_get(sb, **params).json()
    rows = list(page["data"])
    while "next" in page.get("paging", {}):
        page = get(page["paging"]["next"], headers={"Authorization": "Bearer EAAB-sandbox"}).json()
        rows += page["data"]
    return rows


# --- Stripe -------------------------------------------------------------------------------------------


def test_stripe_lists_charges_newest_first_in_stripes_list_shape(sb):
    response = stripe_get(sb)
    body = response.json()
    assert response.status_code == 200
    assert response.headers["Request-Id"].startswith("req_")
    assert set(body) == {"object", "data", "has_more", "url"}
    assert body["object"] == "list" and body["url"] == "/v1/charges" and body["has_more"] is False
    charge = body["data"][0]
    assert charge["object"] == "charge" and charge["id"].startswith("ch_")
    for field in (
        "amount",
        "amount_captured",
        "amount_refunded",
        "currency",
        "status",
        "paid",
        "captured",
        "created",
        "livemode",
    ):
        assert field in charge
    assert charge["currency"] == "usd" and isinstance(charge["amount"], int)
    created = [c["created"] for c in body["data"]]
    assert created == sorted(created, reverse=True)


def test_stripe_paginates_with_starting_after_and_has_more(sb):
    everything = stripe_get(sb).json()["data"]
    first = stripe_get(sb, limit=5).json()
    assert len(first["data"]) == 5 and first["has_more"] is True
    assert [c["id"] for c in stripe_all(sb, limit=5)] == [c["id"] for c in everything]
    unknown = stripe_get(sb, starting_after="ch_nope")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "resource_missing"


def test_stripe_window_and_clock_filter_charges(sb):
    gte, lt = int(DAY_START.timestamp()) + 2 * 3600, int(DAY_START.timestamp()) + 8 * 3600
    charges = stripe_get(sb, **{"created[gte]": gte, "created[lt]": lt}).json()["data"]
    assert charges and all(gte <= c["created"] < lt for c in charges)
    # Nothing from the future: the day fills up as the clock moves.
    assert all(c["created"] <= NOW.timestamp() for c in stripe_get(sb, **{"created[lt]": 2**31}).json()["data"])
    so_far = stripe_get(sb, **{"created[lt]": 2**31}).json()["data"]
    sb.set_now(NOW + timedelta(hours=3))
    later = stripe_get(sb, **{"created[lt]": 2**31}).json()["data"]
    assert len(later) > len(so_far) and {c["id"] for c in so_far} < {c["id"] for c in later}


def test_stripe_has_charges_that_must_not_be_counted(sb):
    charges = stripe_get(sb).json()["data"]
    assert any(c["status"] == "failed" and not c["paid"] and c["amount_captured"] == 0 for c in charges)
    assert any(c["refunded"] and c["amount_refunded"] == c["amount"] for c in charges)
    assert any(c["status"] == "succeeded" and not c["captured"] for c in charges)
    assert any(c["status"] == "pending" for c in charges)
    assert any(c["status"] == "succeeded" and c["captured"] and not c["refunded"] for c in charges)


def test_stripe_is_deterministic_per_account_and_currency_follows_the_account_name(sb):
    assert stripe_get(sb).json() == stripe_get(sb).json()
    with Sandbox() as other:
        other.set_now(NOW)
        assert stripe_get(other).json() == stripe_get(sb).json()
    assert stripe_get(sb, "acct_other").json() != stripe_get(sb).json()
    assert {c["currency"] for c in stripe_get(sb, "acct_demo-jpy").json()["data"]} == {"jpy"}
    assert {c["currency"] for c in stripe_get(sb, "acct_demo-multi").json()["data"]} == {"usd", "eur", "jpy"}
    assert stripe_get(sb, "acct_demo-empty").json()["data"] == []


def test_stripe_checks_key_version_and_parameters(sb):
    missing_key = stripe_get(sb, headers={"Authorization": ""})
    assert missing_key.status_code == 401
    assert missing_key.json()["error"]["type"] == "invalid_request_error"
    missing_version = stripe_get(sb, headers={"Stripe-Version": ""})
    assert missing_version.status_code == 400 and "Stripe-Version" in missing_version.json()["error"]["message"]
    assert stripe_get(sb, unknown_param="1").json()["error"]["code"] == "parameter_unknown"
    assert stripe_get(sb, limit=101).status_code == 400
    sb.revoke("stripe", "sk_test_sandbox")
    revoked = stripe_get(sb)
    assert revoked.status_code == 401 and "sk_test_sandbox" not in revoked.text


def test_stripe_without_connect_header_uses_the_keys_own_account(sb):
    response = get(f"{sb.url}/v1/charges", headers=STRIPE_HEADERS)
    assert response.status_code == 200
    (account,) = sb.calls("stripe")
    assert account.startswith("acct_self_") and "sandbox" not in account


def stripe_disputes(sb: Sandbox, account: str = "acct_rules-busy", **params: Any):
    params.setdefault("created[gte]", int((DAY_START - timedelta(days=3)).timestamp()))
    sent = {**STRIPE_HEADERS, "Stripe-Account": account}
    return get(f"{sb.url}/v1/disputes", params=params, headers=sent)


def test_stripe_disputes_list_is_newest_first_filtered_by_created_and_charge_and_paged(sb):
    body = stripe_disputes(sb, limit=100).json()
    assert body["object"] == "list" and body["url"] == "/v1/disputes" and body["has_more"] is False
    disputes = body["data"]
    assert disputes and all(d["object"] == "dispute" and d["id"].startswith("dp_") for d in disputes)
    assert [d["created"] for d in disputes] == sorted((d["created"] for d in disputes), reverse=True)
    assert all(d["created"] <= NOW.timestamp() for d in disputes)
    since = int(DAY_START.timestamp())
    assert {d["id"] for d in stripe_disputes(sb, limit=100, **{"created[gte]": since}).json()["data"]} == {
        d["id"] for d in disputes if d["created"] >= since
    }
    one = stripe_disputes(sb, charge=disputes[-1]["charge"]).json()["data"]
    assert [d["id"] for d in one] == [disputes[-1]["id"]]
    first = stripe_disputes(sb, limit=2).json()
    second = stripe_disputes(sb, limit=2, starting_after=first["data"][-1]["id"]).json()
    assert first["has_more"] and [d["id"] for d in first["data"] + second["data"]] == [d["id"] for d in disputes[:4]]
    assert stripe_disputes(sb, starting_after="dp_nope").json()["error"]["code"] == "resource_missing"
    assert stripe_disputes(sb, status="lost").json()["error"]["code"] == "parameter_unknown"


def test_stripe_dispute_is_opened_after_its_charge_and_its_status_moves_with_the_clock(sb):
    since = int((DAY_START - timedelta(days=7)).timestamp())
    charges = {c["id"]: c for c in stripe_all(sb, "acct_rules-busy", **{"created[gte]": since, "created[lt]": 2**31})}
    disputes = stripe_disputes(sb, limit=100).json()["data"]
    for d in disputes:
        charge = charges[d["charge"]]
        assert charge["disputed"] and d["created"] > charge["created"] and d["currency"] == charge["currency"]
        assert 0 < d["amount"] <= charge["amount"]
    assert {"lost", "won", "under_review", "warning_under_review"} <= {d["status"] for d in disputes}
    lost = next(d for d in disputes if d["status"] == "lost")
    sb.set_now(datetime.fromtimestamp(lost["created"] + 1, UTC))
    (opened,) = stripe_disputes(sb, charge=lost["charge"]).json()["data"]
    assert opened["status"] == "needs_response"
    # A lost dispute is not a refund: the charge's amount_refunded does not move.
    sb.set_now(NOW)
    assert charges[lost["charge"]]["amount_refunded"] == 0


def test_stripe_refunds_land_after_the_charge_and_partial_captures_happen(sb):
    window = {"created[gte]": int(DAY_START.timestamp()), "created[lt]": int(NOW.timestamp()) + 1}
    charges = stripe_all(sb, "acct_rules-busy", **window)
    sb.set_now(NOW + timedelta(days=3))
    later = {c["id"]: c for c in stripe_all(sb, "acct_rules-busy", **window)}
    grown = [c for c in charges if later[c["id"]]["amount_refunded"] > c["amount_refunded"]]
    assert grown  # refunded after the first look, of charges made that day
    assert all(later[c["id"]]["created"] == c["created"] for c in grown)
    assert any(c["captured"] and 0 < c["amount_captured"] < c["amount"] for c in charges)


# --- Shopify ------------------------------------------------------------------------------------------


def test_shopify_answers_the_selected_fields_with_cost_and_version(sb):
    response = shopify_post(sb)
    body = response.json()
    assert response.status_code == 200 and response.headers["X-Shopify-API-Version"] == "2025-07"
    connection = body["data"]["orders"]
    assert set(connection) == {"edges", "pageInfo"}
    node = connection["edges"][0]["node"]
    assert set(node) == {
        "id",
        "name",
        "createdAt",
        "test",
        "cancelledAt",
        "displayFinancialStatus",
        "currentTotalPriceSet",
    }
    assert node["id"].startswith("gid://shopify/Order/")
    money = node["currentTotalPriceSet"]["shopMoney"]
    assert money["currencyCode"] == "USD" and Decimal(money["amount"]) > 0
    assert connection["pageInfo"]["hasNextPage"] is False and connection["pageInfo"]["endCursor"]
    cost = body["extensions"]["cost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["requestedQueryCost"] >= 250


def test_shopify_answers_each_query_with_its_own_selection_and_remembered_orders_match_fresh_ones(sb):
    from providers.sandbox import shopify as simulated_shopify

    aliased = """query Orders($first: Int!, $after: String, $query: String) {
      orders(first: $first, after: $after, query: $query) {
        nodes { id amount: currentTotalPriceSet { shopMoney { amount } } } } }"""
    search = f"created_at:>='{DAY_START.isoformat()}'"
    full = shopify_post(sb, search=search).json()["data"]["orders"]["edges"]
    short = shopify_post(sb, search=search, query=aliased).json()["data"]["orders"]["nodes"]
    assert {tuple(node) for node in short} == {("id", "amount")}
    amounts = {e["node"]["id"]: e["node"]["currentTotalPriceSet"]["shopMoney"]["amount"] for e in full}
    assert {node["id"]: node["amount"]["shopMoney"]["amount"] for node in short} == amounts

    # Orders still settling render as the clock moves on: what the simulator projected
    # and kept for earlier requests must equal what it projects afresh.
    sb.set_now(NOW + timedelta(minutes=20))
    remembered = shopify_post(sb, search=search).json()
    simulated_shopify._parsed_once.cache_clear()
    assert shopify_post(sb, search=search).json()["data"] == remembered["data"]


def test_shopify_paginates_with_cursors(sb):
    everything = [e["node"]["id"] for e in shopify_post(sb).json()["data"]["orders"]["edges"]]
    seen, after = [], None
    while True:
        orders = shopify_post(sb, first=4, after=after).json()["data"]["orders"]
        seen += [e["node"]["id"] for e in orders["edges"]]
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    assert seen == everything and len(everything) > 4


def test_shopify_filters_by_created_at_and_keeps_orders_that_must_not_be_counted(sb):
    start, end = DAY_START + timedelta(hours=2), DAY_START + timedelta(hours=6)
    search = f"created_at:>='{start.isoformat()}' AND created_at:<'{end.isoformat()}'"
    nodes = [e["node"] for e in shopify_post(sb, search=search).json()["data"]["orders"]["edges"]]
    assert nodes and all(start <= datetime.fromisoformat(n["createdAt"]) < end for n in nodes)
    day = [e["node"] for e in shopify_post(sb).json()["data"]["orders"]["edges"]]
    assert any(n["test"] for n in day)
    assert any(n["cancelledAt"] and n["displayFinancialStatus"] == "VOIDED" for n in day)
    assert any(n["displayFinancialStatus"] == "REFUNDED" for n in day)
    assert all(datetime.fromisoformat(n["createdAt"]) <= NOW for n in day)


def test_shopify_reports_graphql_errors_like_shopify(sb):
    unknown = shopify_post(sb, query="{ orders(first: 5) { edges { node { id bogus } } } }").json()
    assert unknown["errors"][0]["extensions"] == {"code": "undefinedField", "typeName": "Order", "fieldName": "bogus"}
    assert "data" not in unknown
    too_many = shopify_post(sb, first=251).json()
    assert "too large" in too_many["errors"][0]["message"]
    missing = shopify_post(sb, token=None)
    assert missing.status_code == 401 and missing.json()["errors"].startswith("[API] Invalid API key")
    assert (
        shopify_post(sb, shop="tokyo-jpy.myshopify.com").json()["data"]["orders"]["edges"][0]["node"][
            "currentTotalPriceSet"
        ]["shopMoney"]["currencyCode"]
        == "JPY"
    )
    assert sb.calls("shopify") == {"demo.myshopify.com": 3, "tokyo-jpy.myshopify.com": 1}


# --- PayPal -------------------------------------------------------------------------------------------


def test_paypal_issues_client_credentials_tokens(sb):
    response = post(f"{sb.url}/v1/oauth2/token", auth=("client-1", "s3"), data={"grant_type": "client_credentials"})
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 32400 and body["access_token"]
    refused = post(f"{sb.url}/v1/oauth2/token", data={"grant_type": "client_credentials"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    wrong_grant = post(f"{sb.url}/v1/oauth2/token", auth=("client-1", "s3"), data={"grant_type": "password"})
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"
    sb.revoke("paypal", "client-1")
    assert (
        post(f"{sb.url}/v1/oauth2/token", auth=("client-1", "s3"), data={"grant_type": "client_credentials"}).json()[
            "error"
        ]
        == "invalid_client"
    )


def test_paypal_transaction_search_shape_paging_and_status_filter(sb):
    token = paypal_token(sb)
    body = paypal_get(sb, token).json()
    assert {
        "transaction_details",
        "account_number",
        "start_date",
        "end_date",
        "last_refreshed_datetime",
        "page",
        "total_items",
        "total_pages",
    } <= set(body)
    info = body["transaction_details"][0]["transaction_info"]
    assert info["transaction_amount"]["currency_code"] == "USD" and Decimal(info["transaction_amount"]["value"])
    assert body["total_pages"] == 1 and body["total_items"] == len(body["transaction_details"])
    statuses = {d["transaction_info"]["transaction_status"] for d in body["transaction_details"]}
    assert {"S", "P", "D"} <= statuses  # V, refunds and the lag: tests/providers/test_paypal_sandbox.py
    codes = {d["transaction_info"]["transaction_event_code"] for d in body["transaction_details"]}
    assert {"T1107", "T0400"} <= codes  # refunds and withdrawals: status S, negative

    only_s = paypal_get(sb, token, transaction_status="S", page_size=4).json()
    assert only_s["total_pages"] == math.ceil(only_s["total_items"] / 4)
    pages = [
        paypal_get(sb, token, transaction_status="S", page_size=4, page=n).json()
        for n in range(1, only_s["total_pages"] + 1)
    ]
    details = [d for p in pages for d in p["transaction_details"]]
    assert len(details) == only_s["total_items"]
    assert all(d["transaction_info"]["transaction_status"] == "S" for d in details)
    assert sb.calls("paypal") == {"client-1": 3 + len(pages)}


def test_paypal_refuses_long_windows_expired_tokens_and_reports_empty_accounts(sb):
    token = paypal_token(sb)
    too_long = paypal_get(sb, token, start_date=(NOW - timedelta(days=32)).isoformat())
    assert too_long.status_code == 400 and too_long.json()["name"] == "INVALID_REQUEST"
    empty = paypal_get(sb, paypal_token(sb, client="quiet-empty")).json()
    assert "transaction_details" not in empty and empty["total_pages"] == 0  # the spec's minItems: 1
    sb.set_now(NOW + timedelta(seconds=32_401))
    expired = paypal_get(sb, token)
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"


# --- WooCommerce --------------------------------------------------------------------------------------


def test_woocommerce_lists_orders_with_wp_paging_headers(sb):
    response = woo_get(sb, status="processing,completed")
    orders = response.json()
    assert response.status_code == 200 and isinstance(orders, list) and orders
    assert response.headers["X-WP-Total"] == str(len(orders)) and response.headers["X-WP-TotalPages"] == "1"
    order = orders[0]
    assert {"id", "status", "currency", "total", "date_created_gmt", "date_created"} <= set(order)
    assert order["date_created"] != order["date_created_gmt"]  # store time is UTC-05:00
    assert {o["status"] for o in orders} <= {"processing", "completed"}
    gmt = [datetime.fromisoformat(o["date_created_gmt"]).replace(tzinfo=UTC) for o in orders]
    assert gmt == sorted(gmt) and all(DAY_START < t < NOW for t in gmt)
    assert sb.calls("woocommerce") == {"store.example.com/shop": 1}


def test_woocommerce_paginates_and_keeps_unpaid_orders_for_other_statuses(sb):
    everything = woo_get(sb).json()
    assert {"cancelled", "refunded", "failed", "pending", "on-hold"} <= {o["status"] for o in everything}
    first = woo_get(sb, per_page=7)
    total_pages = int(first.headers["X-WP-TotalPages"])
    assert total_pages == math.ceil(len(everything) / 7) and 'rel="next"' in first.headers["Link"]
    paged = [o for page in range(1, total_pages + 1) for o in woo_get(sb, per_page=7, page=page).json()]
    assert [o["id"] for o in paged] == [o["id"] for o in everything]
    past_end = woo_get(sb, per_page=7, page=total_pages + 1)
    assert past_end.json() == [] and past_end.headers["X-WP-TotalPages"] == str(total_pages)


def test_woocommerce_renders_only_the_fields_asked_for(sb):
    everything = woo_get(sb).json()
    slim = woo_get(sb, _fields="id,status,currency,total,refunds").json()
    assert [set(o) for o in slim] == [{"id", "status", "currency", "total", "refunds"}] * len(everything)
    assert slim == [{k: o[k] for k in ("id", "status", "currency", "total", "refunds")} for o in everything]
    # WordPress's other spelling, and a key of nested objects.
    nested = get(
        f"{sb.url}/shop/wp-json/wc/v3/orders",
        params=[("_fields[]", "id"), ("_fields[]", "line_items"), ("after", DAY_START.isoformat())],
        auth=("ck_sandbox", "cs_sandbox"),
        headers={"X-Skeldir-Shop": "store.example.com"},
    ).json()
    assert nested and all(set(o) == {"id", "line_items"} for o in nested)
    assert woocommerce_only({"a": {"b": 1, "c": 2}, "d": 3}, ("a.b", "d")) == {"a": {"b": 1}, "d": 3}


def test_woocommerce_dates_are_store_time_unless_gmt_and_auth_is_required(sb):
    naive_start = DAY_START.replace(tzinfo=None).isoformat()
    as_gmt = woo_get(sb, after=naive_start, before=None, dates_are_gmt="true").json()
    as_local = woo_get(sb, after=naive_start, before=None, dates_are_gmt="false").json()
    assert len(as_local) < len(as_gmt)  # local midnight is 05:00 UTC
    refused = woo_get(sb, auth=None)
    assert refused.status_code == 401 and refused.json()["code"] == "woocommerce_rest_cannot_view"
    assert woo_get(sb, per_page=500).json()["code"] == "rest_invalid_param"


# --- Google Ads ---------------------------------------------------------------------------------------


def test_google_ads_search_shape_and_page_tokens(sb):
    first = google_search(sb).json()
    assert first["fieldMask"] == "customer.currencyCode,campaign.id,metrics.conversionsValue,metrics.conversions"
    row = first["results"][0]
    assert row["customer"]["currencyCode"] == "USD"
    assert row["campaign"]["resourceName"].startswith("customers/1234567890/campaigns/")
    assert isinstance(row["campaign"]["id"], str)
    rows, page = list(first["results"]), first
    while "nextPageToken" in page:
        page = google_search(sb, page_token=page["nextPageToken"]).json()
        rows += page["results"]
    assert len(rows) > len(first["results"])
    assert any(r["metrics"] == {} for r in rows)  # a campaign without conversions: zero metrics left out
    stream = google_search(sb, method="searchStream").json()
    assert stream[0]["results"] == rows
    value = sum(Decimal(str(r["metrics"].get("conversionsValue", 0))) for r in rows)
    assert value > 0


def test_google_ads_refuses_what_google_refuses(sb):
    missing = google_search(sb, developer_token=None).json()["error"]
    assert missing["status"] == "INVALID_ARGUMENT"
    assert missing["details"][0]["errors"][0]["errorCode"] == {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"}
    dashed = google_search(sb, customer="123-456-7890")
    assert dashed.status_code == 400
    page_size = google_search(sb, extra={"pageSize": 100}).json()["error"]["details"][0]["errors"][0]
    assert page_size["errorCode"] == {"requestError": "PAGE_SIZE_NOT_SUPPORTED"}
    unknown = google_search(sb, query="SELECT metrics.bogus FROM campaign").json()["error"]["details"][0]
    assert unknown["errors"][0]["errorCode"] == {"queryError": "UNRECOGNIZED_FIELD"}
    jpy = google_search(sb, customer="5550001392").json()["results"][0]["customer"]["currencyCode"]
    assert jpy == "JPY"


BOTH_VALUES = (
    "SELECT customer.time_zone, segments.date, metrics.conversions_value, "
    "metrics.conversions_value_by_conversion_date FROM customer WHERE segments.date DURING {}"
)


def test_google_ads_today_is_the_customers_day_in_its_own_zone(sb):
    # 15:00 UTC: 08:00 on the 3rd in Los Angeles (customer 1...), 00:00 on the 4th in Tokyo (5...).
    query = "SELECT customer.time_zone, segments.date, metrics.conversions_value_by_conversion_date "
    la = google_search(sb, query=query + "FROM customer WHERE segments.date DURING TODAY").json()["results"]
    assert [(r["customer"]["timeZone"], r["segments"]["date"]) for r in la] == [("America/Los_Angeles", "2025-06-03")]
    zone = google_search(sb, customer="5550001392", query="SELECT customer.time_zone FROM customer").json()
    assert zone["results"][0]["customer"]["timeZone"] == "Asia/Tokyo"
    sb.set_now(NOW + timedelta(hours=1))
    tokyo = google_search(sb, customer="5550001392", query=query + "FROM customer WHERE segments.date DURING TODAY")
    assert {r["segments"]["date"] for r in tokyo.json()["results"]} == {"2025-06-04"}


def test_google_ads_credits_conversion_value_to_the_click_date_and_by_conversion_date_to_the_day(sb):
    def values(during: str) -> tuple[Decimal, Decimal]:
        row = google_search(sb, query=BOTH_VALUES.format(during)).json()["results"][0]
        metrics = row["metrics"]
        return (
            Decimal(str(metrics.get("conversionsValue", 0))),
            Decimal(str(metrics["conversionsValueByConversionDate"])),
        )

    by_click, by_conversion = values("TODAY")
    assert 0 <= by_click < by_conversion  # today's clicks that converted so far, vs today's conversions
    yesterday_click, yesterday_conversion = values("YESTERDAY")
    sb.set_now(NOW + timedelta(hours=8))  # later on the same day: more of yesterday's clicks convert
    later_click, later_conversion = values("YESTERDAY")
    assert later_conversion == yesterday_conversion  # a finished day by conversion date is settled
    assert later_click > yesterday_click  # by click date it keeps growing


def test_google_ads_leaves_out_segmented_rows_whose_metrics_are_zero(sb):
    query = "SELECT campaign.id, segments.date, metrics.conversions_value_by_conversion_date FROM campaign "
    rows = google_search(sb, query=query + "WHERE segments.date DURING TODAY").json().get("results", [])
    assert rows and all(r["metrics"] for r in rows)
    sb.set_now(datetime(2025, 6, 3, 7, 0, 5, tzinfo=UTC))  # five seconds after midnight in Los Angeles
    empty = google_search(sb, query=query + "WHERE segments.date DURING TODAY").json()
    assert "results" not in empty or empty["results"] == []


def test_google_oauth_refresh_and_revocation(sb):
    issued = google_token(sb)
    body = issued.json()
    assert issued.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and "adwords" in body["scope"]
    assert google_search(sb, token=body["access_token"]).status_code == 200
    sb.revoke("google_ads", "1//refresh-sandbox")
    refused = google_token(sb)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    dead = google_search(sb, token=body["access_token"])
    assert dead.status_code == 401 and dead.json()["error"]["status"] == "UNAUTHENTICATED"
    assert google_token(sb, refresh="1//another").status_code == 200
    no_client = post(f"{sb.url}/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert no_client.status_code == 401 and no_client.json()["error"] == "invalid_client"
    assert sb.calls("google_ads") == {"client.apps.example": 3, "1234567890": 2, "unknown-client": 1}


# --- Meta ---------------------------------------------------------------------------------------------


def test_meta_insights_shape_and_paging_back_to_the_simulator(sb):
    response = meta_get(sb)
    page = response.json()
    assert response.status_code == 200 and "X-Business-Use-Case-Usage" in response.headers
    row = page["data"][0]
    assert set(row) <= {"account_currency", "action_values", "actions", "date_start", "date_stop"}
    assert row["date_start"] == row["date_stop"] == NOW.date().isoformat()
    types = {a["action_type"] for a in row["action_values"]}
    assert {"omni_purchase", "offsite_conversion.fb_pixel_purchase", "add_to_cart"} <= types
    next_url = page["paging"]["next"]
    assert next_url.startswith(sb.url + "/v23.0/act_123456/insights?")
    assert "access_token" not in next_url and parse_qs(urlsplit(next_url).query)["after"]
    rows = meta_all(sb)
    assert len(rows) > len(page["data"])
    assert any("actions" not in r and "action_values" not in r for r in rows)  # no purchases: no keys at all
    purchase_values = [a for r in rows for a in r.get("action_values", []) if a["action_type"] == "omni_purchase"]
    assert purchase_values and all(Decimal(a["value"]) > 0 for a in purchase_values)


def test_meta_refuses_like_the_graph_api(sb):
    missing = meta_get(sb, token=None)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 104
    no_prefix = meta_get(sb, account="123456").json()["error"]
    assert no_prefix["code"] == 100 and no_prefix["error_subcode"] == 33
    bogus = meta_get(sb, fields="bogus").json()["error"]
    assert bogus["code"] == 100 and "bogus" in bogus["message"]
    sb.revoke("meta_ads", "EAAB-sandbox")
    assert meta_get(sb).json()["error"]["code"] == 190
    account_level = meta_get(sb, token="EAAB-other", level="account").json()["data"]
    assert len(account_level) == 1


def _omni(rows: list[dict[str, Any]], key: str = "value") -> Decimal:
    return sum(
        (
            Decimal(a.get(key, "0"))
            for r in rows
            for a in r.get("action_values", [])
            if a["action_type"] == "omni_purchase"
        ),
        Decimal(0),
    )


def test_meta_honours_the_report_time_and_the_attribution_windows(sb):
    windows = '["7d_click","1d_view"]'
    by_conversion = meta_all(sb, action_report_time="conversion", action_attribution_windows=windows)
    by_impression = meta_all(sb, action_report_time="impression", action_attribution_windows=windows)
    pinned = _omni(by_conversion, "7d_click") + _omni(by_conversion, "1d_view")
    assert pinned == _omni(by_conversion) > 0  # the default windows are these two
    assert _omni(by_impression) < _omni(by_conversion)  # today's purchases vs purchases after today's ads
    longer = meta_all(sb, action_report_time="conversion", action_attribution_windows="28d_click,7d_view")
    assert _omni(longer, "28d_click") > _omni(by_conversion, "7d_click")
    assert {r["date_start"] for r in by_conversion} == {"2025-06-03"}  # Los Angeles' day (account 1...)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("action_report_time", "click"),
        ("action_attribution_windows", '["2d_click"]'),
        ("action_attribution_windows", "7d_click,forever"),
    ],
)
def test_meta_refuses_unknown_attribution_parameters_with_code_100(sb, param, value):
    refused = meta_get(sb, **{param: value})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == 100 and param in error["message"]


def test_meta_ad_account_node_names_its_time_zone(sb):
    headers = {"Authorization": f"Bearer {META_TOKEN}"}
    node = get(f"{sb.url}/v27.0/act_2468100840", params={"fields": "timezone_name,currency"}, headers=headers)
    assert node.json() == {"id": "act_2468100840", "timezone_name": "America/New_York", "currency": "USD"}
    bogus = get(f"{sb.url}/v27.0/act_2468100840", params={"fields": "tz"}, headers=headers).json()["error"]
    assert bogus["code"] == 100 and "nonexisting field (tz)" in bogus["message"]
    assert get(f"{sb.url}/v27.0/act_2468100840", params={"fields": "timezone_name"}).json()["error"]["code"] == 104


# --- faults -------------------------------------------------------------------------------------------
# (platform) -> (account the fault targets, a function sending one data request). Built
# before the fault is set, so PayPal's token request does not meet it.


def _data_call(sb: Sandbox, platform: str):
    if platform == "stripe":
        return "acct_shop", lambda **kw: stripe_get(sb, **kw)
    if platform == "shopify":
        return "demo.myshopify.com", lambda **kw: shopify_post(sb)
    if platform == "paypal":
        token = paypal_token(sb, client="client-f")
        return "client-f", lambda **kw: paypal_get(sb, token)
    if platform == "woocommerce":
        return "store.example.com/shop", lambda **kw: woo_get(sb)
    if platform == "google_ads":
        return "1234567890", lambda **kw: google_search(sb)
    return "123456", lambda **kw: meta_get(sb)


PLATFORMS = ("stripe", "shopify", "paypal", "woocommerce", "google_ads", "meta_ads")


SIGNALS = {
    ("stripe", "401"): (401, lambda b: b["error"]["type"] == "invalid_request_error"),
    ("stripe", "403"): (403, lambda b: "permission" in b["error"]["message"]),
    ("stripe", "429"): (429, lambda b: b["error"]["code"] == "rate_limit"),
    ("stripe", "throttled"): (429, lambda b: b["error"]["code"] == "rate_limit"),
    ("stripe", "500"): (500, lambda b: b["error"]["type"] == "api_error"),
    ("stripe", "503"): (503, lambda b: b["error"]["type"] == "api_error"),
    ("shopify", "401"): (401, lambda b: b["errors"].startswith("[API] Invalid API key")),
    ("shopify", "403"): (403, lambda b: "read_orders" in b["errors"]),
    ("shopify", "429"): (429, lambda b: b["errors"][0]["extensions"]["code"] == "THROTTLED"),
    ("shopify", "throttled"): (200, lambda b: b["errors"][0]["extensions"]["code"] == "THROTTLED"),
    ("shopify", "500"): (500, lambda b: b["errors"] == "Internal Server Error"),
    ("shopify", "503"): (503, lambda b: b["errors"] == "Service Unavailable"),
    ("paypal", "401"): (401, lambda b: b["error"] == "invalid_token"),
    ("paypal", "403"): (403, lambda b: b["name"] == "NOT_AUTHORIZED"),
    ("paypal", "429"): (429, lambda b: b["name"] == "RATE_LIMIT_REACHED"),
    ("paypal", "throttled"): (429, lambda b: b["name"] == "RATE_LIMIT_REACHED"),
    ("paypal", "500"): (500, lambda b: b["name"] == "INTERNAL_SERVER_ERROR"),
    ("paypal", "503"): (503, lambda b: b["name"] == "SERVICE_UNAVAILABLE"),
    ("woocommerce", "401"): (401, lambda b: b["code"] == "woocommerce_rest_cannot_view"),
    ("woocommerce", "403"): (403, lambda b: b["data"]["status"] == 403),
    ("woocommerce", "429"): (429, lambda b: b["data"]["status"] == 429),
    ("woocommerce", "throttled"): (429, lambda b: b["data"]["status"] == 429),
    ("woocommerce", "500"): (500, lambda b: b["code"] == "internal_server_error"),
    ("woocommerce", "503"): (503, None),  # WordPress maintenance: an HTML page
    ("google_ads", "401"): (401, lambda b: b["error"]["status"] == "UNAUTHENTICATED"),
    ("google_ads", "403"): (403, lambda b: b["error"]["status"] == "PERMISSION_DENIED"),
    ("google_ads", "429"): (429, lambda b: b["error"]["status"] == "RESOURCE_EXHAUSTED"),
    ("google_ads", "throttled"): (
        429,
        lambda b: b["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]["retryDelay"] == "2s",
    ),
    ("google_ads", "500"): (500, lambda b: b["error"]["status"] == "INTERNAL"),
    ("google_ads", "503"): (503, lambda b: b["error"]["status"] == "UNAVAILABLE"),
    ("meta_ads", "401"): (401, lambda b: b["error"]["code"] == 190 and b["error"]["type"] == "OAuthException"),
    ("meta_ads", "403"): (403, lambda b: b["error"]["code"] == 200),
    ("meta_ads", "429"): (429, lambda b: b["error"]["code"] == 4),
    ("meta_ads", "throttled"): (400, lambda b: b["error"]["code"] == 17 and b["error"]["is_transient"]),
    ("meta_ads", "500"): (500, lambda b: b["error"]["code"] == 1),
    ("meta_ads", "503"): (503, lambda b: b["error"]["code"] == 2),
}


@pytest.mark.parametrize(("platform", "kind"), sorted(SIGNALS))
def test_platform_faults_answer_with_the_platforms_own_signal(sb, platform, kind):
    account, send = _data_call(sb, platform)
    sb.set_fault(platform, account, kind, retry_after=2)
    response = send()
    status, check = SIGNALS[(platform, kind)]
    assert response.status_code == status
    if check is None:
        assert response.headers["Content-Type"].startswith("text/html")
    else:
        assert check(response.json()), response.text
    if kind == "429":
        assert response.headers["Retry-After"] == "2"
    if kind == "throttled":
        assert "Retry-After" not in response.headers
    if (platform, kind) == ("shopify", "throttled"):
        cost = response.json()["extensions"]["cost"]
        status_ = cost["throttleStatus"]
        wait = math.ceil((cost["requestedQueryCost"] - status_["currentlyAvailable"]) / status_["restoreRate"])
        assert wait == 2
    if (platform, kind) == ("meta_ads", "throttled"):
        usage = json.loads(response.headers["X-Business-Use-Case-Usage"])
        assert usage[account][0]["estimated_time_to_regain_access"] == 1
    if (platform, kind) == ("stripe", "throttled"):
        assert response.headers["Stripe-Should-Retry"] == "true"
    if kind in ("500", "503"):
        assert "Retry-After" in response.headers


@pytest.mark.parametrize("platform", PLATFORMS)
def test_429_date_fault_sends_retry_after_as_an_http_date(sb, platform):
    account, send = _data_call(sb, platform)
    sb.set_fault(platform, account, "429_date", retry_after=30)
    response = send()
    assert response.status_code == 429
    when = parsedate_to_datetime(response.headers["Retry-After"])
    assert 20 <= (when - datetime.now(UTC)).total_seconds() <= 31


@pytest.mark.parametrize("platform", PLATFORMS)
def test_transport_faults(sb, platform):
    account, send = _data_call(sb, platform)

    sb.set_fault(platform, account, "malformed", times=1)
    malformed = send()
    assert malformed.status_code == 200 and "json" in malformed.headers["Content-Type"]
    with pytest.raises(ValueError):
        malformed.json()

    sb.set_fault(platform, account, "html", times=1)
    html = send()
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")

    sb.set_fault(platform, account, "reset", times=1)
    with pytest.raises(requests.ConnectionError):
        send()

    sb.set_fault(platform, account, "truncated", times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        send()

    sb.set_fault(platform, account, "oversized", size_bytes=300_000, times=1)
    big = send()
    assert big.status_code == 200 and int(big.headers["Content-Length"]) == len(big.content) == 300_000

    sb.set_fault(platform, account, "latency", latency_ms=120, times=1)
    started = time.monotonic()
    slow = send()
    assert slow.status_code == 200 and time.monotonic() - started >= 0.12

    assert send().status_code == 200  # every fault above was for one request only


def test_timeout_fault_stalls_past_the_clients_timeout_then_answers(sb):
    sb.set_fault("stripe", "acct_shop", "timeout", latency_ms=400, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(f"{sb.url}/v1/charges", headers={**STRIPE_HEADERS, "Stripe-Account": "acct_shop"}, timeout=0.05)
    sb.set_fault("stripe", "acct_shop", "timeout", latency_ms=50, times=1)
    assert stripe_get(sb).status_code == 200  # it answers once the stall is over
    assert sb.state.settings.timeout_ms == 30_000  # the default stall, when latency_ms is not given


def test_oversized_without_content_length_is_read_until_close(sb):
    sb.set_fault("meta_ads", "123456", "oversized", size_bytes=200_000, declare_length=False)
    response = meta_get(sb)
    assert "Content-Length" not in response.headers and len(response.content) == 200_000


def test_faults_clear_after_times_and_specific_accounts_win_over_wildcards(sb):
    sb.set_fault("stripe", "*", "503", times=2)
    sb.set_fault("stripe", "acct_special", "403")
    assert stripe_get(sb, "acct_special").status_code == 403
    assert [stripe_get(sb).status_code for _ in range(3)] == [503, 503, 200]
    assert stripe_get(sb, "acct_special").status_code == 403  # no `times`: stays until cleared
    sb.clear_faults()
    assert stripe_get(sb, "acct_special").status_code == 200


def test_a_fault_may_target_only_the_token_endpoint(sb):
    sb.set_fault("google_ads", "*", "500", endpoint="token")
    refresh = google_token(sb)
    assert refresh.status_code == 500 and refresh.json()["error"] == "internal_failure"
    assert google_search(sb).status_code == 200
    sb.set_fault("paypal", "client-1", "401", endpoint="token", times=1)
    refused = post(f"{sb.url}/v1/oauth2/token", auth=("client-1", "x"), data={"grant_type": "client_credentials"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_set_fault_validates_its_arguments(sb):
    with pytest.raises(ValueError, match="unknown fault"):
        sb.set_fault("stripe", "*", "explode")
    with pytest.raises(ValueError, match="unknown platform"):
        sb.set_fault("square", "*", "500")
    with pytest.raises(ValueError, match="unknown fault parameter"):
        sb.set_fault("stripe", "*", "500", colour="red")
    with pytest.raises(ValueError, match="times"):
        sb.set_fault("stripe", "*", "500", times=0)


def test_the_adapters_transport_classifies_the_simulators_transport_faults(sb):
    http = ProviderHttp(platform="stripe", config=HttpConfig(retries=0, read_timeout=0.5, max_response_bytes=100_000))
    url = f"{sb.url}/v1/charges"
    headers = {**STRIPE_HEADERS, "Stripe-Account": "acct_shop"}

    def fetch():
        return http.request("GET", url, correlation_id="c-1", headers=headers, params={"created[gte]": 1748908800})

    cases = [
        ("truncated", {}, ProviderBadResponse),
        ("oversized", {"size_bytes": 200_000}, ProviderBadResponse),
        ("oversized", {"size_bytes": 200_000, "declare_length": False}, ProviderBadResponse),
        ("reset", {}, ProviderNetworkError),
        ("timeout", {"latency_ms": 1500}, ProviderNetworkError),
    ]
    for fault, params, error in cases:
        sb.set_fault("stripe", "acct_shop", fault, times=1, **params)
        with pytest.raises(error):
            fetch()
    for fault in ("html", "malformed"):
        sb.set_fault("stripe", "acct_shop", fault, times=1)
        with pytest.raises(ProviderBadResponse):
            fetch().json()
    assert fetch().json()["object"] == "list"


def test_the_adapters_transport_reads_bodies_larger_than_its_buffer_whole(sb):
    http = ProviderHttp(platform="stripe", config=HttpConfig(retries=0, max_response_bytes=1_000_000))
    url = f"{sb.url}/v1/charges"
    headers = {**STRIPE_HEADERS, "Stripe-Account": "acct_shop"}
    for declare_length in (True, False):  # framed by Content-Length, or read until close
        sb.set_fault("stripe", "acct_shop", "oversized", times=1, size_bytes=300_000, declare_length=declare_length)
        body = http.request("GET", url, correlation_id="c-1", headers=headers).body
        assert len(body) == 300_000 and body.startswith(b'{"data":[]') and body.endswith(b'"}')
    first = http.request("GET", url, correlation_id="c-2", headers=headers).json()
    assert http.request("GET", url, correlation_id="c-3", headers=headers).json() == first


# --- calls and the control API ------------------------------------------------------------------------


def test_calls_count_every_data_and_token_request_but_not_control_requests(sb):
    stripe_get(sb)
    sb.set_fault("stripe", "acct_shop", "500", times=1)
    stripe_get(sb)
    paypal_get(sb, paypal_token(sb))
    get(f"{sb.url}/_sandbox/calls")
    assert sb.calls() == {"stripe": {"acct_shop": 2}, "paypal": {"client-1": 2}}
    assert sb.calls("stripe") == {"acct_shop": 2}
    assert sb.calls("stripe", "acct_shop") == 2 and sb.calls("stripe", "nobody") == 0
    assert get(f"{sb.url}/_sandbox/calls").json() == sb.calls()
    narrowed = get(f"{sb.url}/_sandbox/calls", params={"platform": "stripe", "account": "acct_shop"})
    assert narrowed.json() == {"stripe": {"acct_shop": 2}}


def test_calls_are_counted_safely_from_many_threads(sb):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: stripe_get(sb).status_code, range(40)))
    assert statuses == [200] * 40 and sb.calls("stripe", "acct_shop") == 40


def test_control_api_sets_lists_and_clears_faults(sb):
    url = f"{sb.url}/_sandbox/faults"
    created = post(
        url, json={"platform": "meta_ads", "account": "123456", "fault": "throttled", "retry_after": 120, "times": 1}
    )
    assert created.status_code == 201 and created.json()["fault"]["fault"] == "throttled"
    assert [f["platform"] for f in get(url).json()["faults"]] == ["meta_ads"]
    response = meta_get(sb)
    assert response.json()["error"]["code"] == 17
    assert (
        json.loads(response.headers["X-Business-Use-Case-Usage"])["123456"][0]["estimated_time_to_regain_access"] == 2
    )
    assert get(url).json()["faults"] == []  # times=1 spent

    post(url, json={"platform": "stripe", "fault": "500"})  # account defaults to every account
    assert stripe_get(sb, "acct_any").status_code == 500
    assert delete(url).json() == {"cleared": 1}
    assert stripe_get(sb, "acct_any").status_code == 200

    bad = post(url, json={"platform": "stripe", "account": "a", "fault": "nope"})
    assert bad.status_code == 400 and "unknown fault" in bad.json()["error"]
    assert post(url, data="not json").status_code == 400


def test_control_api_reset_revoke_clock_and_config(sb):
    base = f"{sb.url}/_sandbox"
    stripe_get(sb)
    sb.set_fault("stripe", "*", "500")
    assert post(f"{base}/revoke", json={"platform": "meta_ads", "credential": "EAAB-sandbox"}).ok
    assert meta_get(sb).json()["error"]["code"] == 190

    clock = post(f"{base}/clock", json={"now": "2025-06-03T10:00:00Z"}).json()
    assert clock["pinned"] is True
    config = post(f"{base}/config", json={"page_cap": 2}).json()
    assert config["settings"]["page_cap"] == 2
    delete(f"{base}/faults")
    page = stripe_get(sb).json()
    assert len(page["data"]) == 2 and page["has_more"] is True
    assert post(f"{base}/config", json={"page_cap": "x"}).status_code == 400

    index = get(base).json()
    assert "not a platform" in index["simulator"] and index["now"].startswith("2025-06-03T10:00")

    assert post(f"{base}/reset").json() == {"reset": True}
    assert sb.calls() == {} and sb.state.faults() == [] and sb.state.settings.page_cap is None
    assert meta_get(sb).status_code == 200  # revocations are gone too
    assert not get(base).json()["now"].startswith("2025-06-03T10:00")  # real clock again


def test_unknown_paths_are_plain_404s_and_not_counted(sb):
    response = get(f"{sb.url}/v1/customers")
    assert response.status_code == 404 and sb.calls() == {}
    assert response.headers["Server"].startswith("skeldir-provider-sandbox")


def test_sandbox_lifecycle():
    sandbox = Sandbox(port=0)
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    sandbox.start()
    try:
        url = sandbox.url
        assert url.startswith("http://127.0.0.1:")
        assert get(f"{url}/_sandbox").ok
    finally:
        sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        get(f"{url}/_sandbox", timeout=0.5)


def test_minted_tokens_do_not_carry_the_client_secret(sb):
    token = paypal_token(sb, client="client-9", secret="very-secret-value")
    assert "very-secret-value" not in token
    assert "very-secret-value" not in base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()


def test_encoded_records_go_into_a_json_answer_as_they_are():
    from providers.sandbox.core import Encoded, Response

    record = {"id": 1, "amount": Decimal("12.50"), "name": "café"}
    payload = {"data": [Encoded.of(record), {"plain": "\x00"}, Encoded.of([1, 2])], "last": Encoded.of(None)}
    assert json.loads(Response.json(200, payload).body) == {
        "data": [{"id": 1, "amount": 12.5, "name": "café"}, {"plain": "\x00"}, [1, 2]],
        "last": None,
    }
