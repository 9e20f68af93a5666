"""Simulated WooCommerce: GET <store path>/wp-json/wc/v3/orders.

Any path prefix is accepted (a store installed under /shop answers at
/shop/wp-json/wc/v3/orders). `X-Skeldir-Shop: <store host>` names the store (without it,
the Host); the account is that host plus the path prefix, e.g. `shop.example.com/shop`.
Auth: HTTP Basic consumer_key:consumer_secret, or the consumer_key / consumer_secret
query parameters.

Query: after / before (ISO 8601; exclusive, as WordPress's date query), dates_are_gmt
(without it, and without an offset in the value, dates are store time, which is a fixed
UTC-05:00 here, so date_created and date_created_gmt differ), status (comma list;
default any), per_page (1..100, default 10), page, orderby (date|id|modified),
order (asc|desc, default desc). Answers a JSON list with X-WP-Total / X-WP-TotalPages
and a Link header; a page past the end is [] with the same headers.

Orders that must not be counted: cancelled, refunded, failed, pending, on-hold (only
returned when the status filter lets them through).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from providers.sandbox.core import BadRequest, Call, Encoded, Platform, Request, Response, retry_after_header, route
from providers.sandbox.data import Event, Profile, alnum_id, events_between, fixed, parse_instant

PROFILE = Profile(
    counted=(("completed", 10), ("processing", 6)),
    excluded=("cancelled", "refunded", "failed", "pending", "on-hold"),
)
STORE_TZ = timezone(timedelta(hours=-5))
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


class WooCommerce(Platform):
    key = "woocommerce"
    routes = (route("GET", r"(?P<prefix>/.*?)?/wp-json/wc/v3/orders/?", "orders"),)

    def account(self, request: Request, endpoint: str) -> str:
        host = request.header("X-Skeldir-Shop") or (request.header("Host") or "unknown-store").split(":")[0]
        return host + request.params.get("prefix", "").rstrip("/")

    def default_headers(self) -> list[tuple[str, str]]:
        return [("X-Robots-Tag", "noindex")]

    # --- the endpoint ---------------------------------------------------------------------
    def orders(self, request: Request, call: Call) -> Response:
        credentials = request.basic() or (request.arg("consumer_key"), request.arg("consumer_secret"))
        key, secret = credentials
        if not key or not secret:
            return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if call.state.is_revoked(self.key, key, secret, f"{key}:{secret}"):
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")

        gmt = (request.arg("dates_are_gmt") or "").lower() in ("1", "true")
        after, before = _date(request, "after", gmt), _date(request, "before", gmt)
        statuses = _statuses(request.arg("status"))
        per_page = _int(request, "per_page", 10, 1, 100)
        page = _int(request, "page", 1, 1, 10**6)
        orderby = request.arg("orderby") or "date"
        if orderby not in ("date", "id", "modified", "include", "title", "slug"):
            raise BadRequest("orderby is not one of date, id, include, title, slug and modified.", param="orderby")
        order = request.arg("order") or "desc"
        if order not in ("asc", "desc"):
            raise BadRequest("order is not one of asc and desc.", param="order")

        account = self.account(request, "data")
        start = after + timedelta(microseconds=1) if after else None
        events = [e for e in events_between(self.key, account, PROFILE, start, before, call.now) if e.kind in statuses]
        if order == "desc":
            events.reverse()
        size = call.state.page_size(per_page)
        total_pages = -(-len(events) // size)
        fields = _fields(request)
        orders = [_order(e, call.now, fields) for e in events[(page - 1) * size : page * size]]
        headers = [("X-WP-Total", str(len(events))), ("X-WP-TotalPages", str(total_pages))]
        link = _link(request, page, total_pages)
        if link:
            headers.append(("Link", link))
        return Response.json(200, orders, headers, content_type="application/json; charset=UTF-8")

    # --- errors -----------------------------------------------------------------------------
    def bad_request(self, error: BadRequest, request: Request) -> Response:
        param = error.param or "query"
        return Response.json(
            400,
            {
                "code": "rest_invalid_param",
                "message": f"Invalid parameter(s): {param}",
                "data": {
                    "status": 400,
                    "params": {param: error.message},
                    "details": {param: {"code": "rest_invalid_param", "message": error.message, "data": None}},
                },
            },
        )

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        if kind in ("401", "403"):
            return _error(int(kind), "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if kind in ("429", "429_date", "throttled"):
            headers = [] if kind == "throttled" else [("Retry-After", retry_after_header(kind, retry_after, default=2))]
            return _error(429, "rate_limit_exceeded", "Too many requests. Please wait and try again.", headers=headers)
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if kind == "500":
            return _error(
                500, "internal_server_error", "<p>There has been a critical error on this website.</p>", headers=headers
            )
        # WordPress in maintenance mode: an HTML page, whatever the client asked for.
        return Response.text(
            503,
            "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
            "<h1>Briefly unavailable for scheduled maintenance. Check back in a minute.</h1></body></html>",
            "text/html; charset=utf-8",
            headers,
        )


def _order(event: Event, now: datetime, fields: tuple[str, ...] | None) -> Encoded:
    # An order changes when it is placed, when its payment settles five minutes later
    # and, for some, when it is completed two hours after: it renders as of the last of
    # those it has reached, so each of its few renderings is built and encoded once.
    changes = (event.at, event.at + timedelta(minutes=5), _completed_at(event))
    return _order_encoded(event, max(change for change in changes if change is not None and change <= now), fields)


@functools.lru_cache(maxsize=65_536)
def _order_encoded(event: Event, now: datetime, fields: tuple[str, ...] | None) -> Encoded:
    order = _order_seen_at(event, now)
    return Encoded.of(order if fields is None else _only(order, fields))  # the encoded rendering is what is kept


def _fields(request: Request) -> tuple[str, ...] | None:
    """WordPress's `_fields` (a comma-separated list, or `_fields[]` repeated): only these
    top-level keys, or `a.b` for a key of a nested object, are rendered. None: all."""
    values = request.query.get("_fields", []) + request.query.get("_fields[]", [])
    names = tuple(sorted({name.strip() for value in values for name in value.split(",") if name.strip()}))
    return names or None


def _only(value: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """`value` with only the keys `paths` name, in its own key order (as WordPress does)."""
    top: dict[str, list[str]] = {}
    for path in paths:
        key, _, rest = path.partition(".")
        top.setdefault(key, []).append(rest)
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if key not in top:
            continue
        nested = tuple(rest for rest in top[key] if rest)
        whole = any(not rest for rest in top[key])
        kept[key] = _only(item, nested) if nested and not whole and isinstance(item, dict) else item
    return kept


def _completed_at(event: Event) -> datetime | None:
    return event.at + timedelta(hours=2) if event.kind in ("completed", "refunded") else None


def _order_seen_at(event: Event, now: datetime) -> dict[str, Any]:
    currency = event.currency
    created = event.at
    paid = event.kind in ("completed", "processing", "refunded")
    completed = _completed_at(event)
    modified = now  # the order's last change (see _order)
    number = 1000 + event.ordinal
    return {
        "id": number,
        "parent_id": 0,
        "number": str(number),
        "order_key": "wc_order_" + alnum_id("woo", event.account, event.key, length=13),
        "created_via": "checkout",
        "version": "9.4.2",
        "status": event.kind,
        "currency": currency,
        "date_created": _local(created),
        "date_created_gmt": _gmt(created),
        "date_modified": _local(modified),
        "date_modified_gmt": _gmt(modified),
        "discount_total": fixed(0, currency),
        "discount_tax": fixed(0, currency),
        "shipping_total": fixed(0, currency),
        "shipping_tax": fixed(0, currency),
        "cart_tax": fixed(0, currency),
        "total": fixed(event.minor, currency),
        "total_tax": fixed(0, currency),
        "prices_include_tax": False,
        "customer_id": event.random("customer").randint(0, 500),
        "payment_method": "stripe" if event.kind != "on-hold" else "bacs",
        "payment_method_title": "Credit Card (Stripe)" if event.kind != "on-hold" else "Direct bank transfer",
        "transaction_id": "ch_" + alnum_id("woo-txn", event.account, event.key) if paid else "",
        "date_paid": _local(created) if paid else None,
        "date_paid_gmt": _gmt(created) if paid else None,
        "date_completed": _local(completed) if completed and completed <= now else None,
        "date_completed_gmt": _gmt(completed) if completed and completed <= now else None,
        "line_items": [
            {
                "id": number * 10 + 1,
                "name": "Simulated product",
                "product_id": 42,
                "quantity": 1,
                "subtotal": fixed(event.minor, currency),
                "total": fixed(event.minor, currency),
            }
        ],
        "refunds": (
            [{"id": number * 10 + 9, "reason": "", "total": fixed(-event.minor, currency)}]
            if event.kind == "refunded"
            else []
        ),
    }


def _local(moment: datetime) -> str:
    return moment.astimezone(STORE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _date(request: Request, name: str, gmt: bool) -> datetime | None:
    value = request.arg(name)
    if not value:
        return None
    try:
        moment = parse_instant(value)
    except ValueError:
        raise BadRequest("Invalid date.", param=name) from None
    if _NAIVE.match(value.strip()) and not gmt:
        moment = moment.replace(tzinfo=STORE_TZ)
    return moment


def _statuses(value: str | None) -> set[str]:
    wanted = [v.strip() for v in (value or "any").split(",") if v.strip()]
    if "any" in wanted:
        return set(STATUSES) - {"trash", "checkout-draft"}
    unknown = [w for w in wanted if w not in STATUSES]
    if unknown:
        raise BadRequest(f"status[0] is not one of any, {', '.join(STATUSES)}.", param="status")
    return set(wanted)


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    value = request.arg(name)
    if value is None:
        return default
    if not value.isdigit() or not lo <= int(value) <= hi:
        raise BadRequest(f"{name} must be between {lo} (inclusive) and {hi} (inclusive)", param=name)
    return int(value)


def _link(request: Request, page: int, total_pages: int) -> str:
    params = dict(parse_qsl(request.query_string, keep_blank_values=True))
    base = request.base_url + request.path
    links = []
    if page > 1:
        links.append(f'<{base}?{urlencode({**params, "page": str(page - 1)})}>; rel="prev"')
    if page < total_pages:
        links.append(f'<{base}?{urlencode({**params, "page": str(page + 1)})}>; rel="next"')
    return ", ".join(links)


def _error(status: int, code: str, message: str, *, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response.json(status, {"code": code, "message": message, "data": {"status": status}}, headers or [])
