"""Simulated WooCommerce: GET <store path>/wp-json/wc/v3/orders.

Any path prefix is accepted (a store installed under /shop answers at
/shop/wp-json/wc/v3/orders). `X-Skeldir-Shop: <store host>` names the store (without it,
the Host); the account is that host plus the path prefix, e.g. `shop.example.com/shop`.
Auth: HTTP Basic consumer_key:consumer_secret, or the consumer_key / consumer_secret
query parameters.

Query, as WooCommerce and WordPress answer it (see providers/woocommerce.py for the
sources):
- after / before: validated as WordPress REST date-times (`rest_parse_date`: date, time to
  the second, optional fraction and offset; anything else is 400 rest_invalid_param). A
  value with an offset is converted to the STORE's time zone and its wall clock kept (a
  value without one is a wall clock already), the fraction dropped; that wall clock is
  compared, STRICTLY (WP_Date_Query's `inclusive` is false), with the GMT creation date
  under dates_are_gmt=true, else with the store-time one. So an order at exactly `after`
  is not listed, and an offset sent with dates_are_gmt=true shifts the window by the
  store's offset, as on a real store. Store time is a fixed UTC-05:00 here, so
  date_created and date_created_gmt differ.
- status: a comma list of known statuses, default `any` = every status but trash (which
  WordPress excludes from search; checkout-draft is listed).
- dp: an integer (its absolute value is used); amounts are rendered with that many
  decimals, rounded half away from zero as PHP's number_format does in
  `wc_format_decimal`. Without it, the store's own number of decimals.
- per_page (1..100, default 10), page, orderby (date|id|modified, ties by id), order
  (asc|desc, default desc), _fields. Answers a JSON list with X-WP-Total /
  X-WP-TotalPages and a Link header; a page past the end is [] with the same headers.

Orders: every WooCommerce status occurs: completed, processing and ready-for-pickup
(paid); cancelled, refunded (refunded in full), failed, pending, on-hold, checkout-draft and
trash (not counted). About one paid order in four gets a partial refund some hours after
it was placed (later the same day for most), listed once that moment has passed.

Store conventions (in the store host or path, besides data.py's currency ones):
- `-dp<N>` (e.g. `-dp4`): the store shows N decimals, and its prices have them
  (`12.3456`); without it, the currency's own number of decimals.
- `-midnight`: besides the day's usual orders, a completed order on every quarter hour on
  the dot (00:00:00, 00:15:00 ... UTC), so every time zone's midnight has an order placed
  exactly then.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from providers.sandbox.core import BadRequest, Call, Encoded, Platform, Request, Response, retry_after_header, route
from providers.sandbox.data import (
    HISTORY_DAYS,
    Event,
    Profile,
    account_currency,
    alnum_id,
    conventions,
    events_between,
    exponent,
    random_minor,
    rng,
)

PROFILE = Profile(
    counted=(("completed", 10), ("processing", 6), ("ready-for-pickup", 1)),
    excluded=("cancelled", "refunded", "failed", "pending", "on-hold", "checkout-draft", "trash"),
)
STORE_TZ = timezone(timedelta(hours=-5))
STATUSES = (
    "pending",
    "processing",
    "ready-for-pickup",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
PAID = frozenset({"completed", "processing", "ready-for-pickup", "refunded"})  # paid at some point
# rest_parse_date's pattern: a date, a time to the second, an optional fraction and offset.
_REST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$")
_STORE_DP = re.compile(r"-dp(\d)(?!\d)")
QUARTER_HOURS = 96


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
        after, before = _bound(request, "after", gmt), _bound(request, "before", gmt)
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
        dp = _dp(request, store_decimals(account))
        start = after + timedelta(microseconds=1) if after else None  # strictly after
        events = [e for e in _events(account, start, before, call.now) if e.kind in statuses]
        if order == "desc":
            events.reverse()
        size = call.state.page_size(per_page)
        total_pages = -(-len(events) // size)
        fields = _fields(request)
        orders = [_order(e, call.now, fields, dp) for e in events[(page - 1) * size : page * size]]
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


def _order(event: Event, now: datetime, fields: tuple[str, ...] | None, dp: int) -> Encoded:
    # An order changes when it is placed, when its payment settles five minutes later,
    # for some when it is completed two hours after and for some when it is partly
    # refunded: it renders as of the last of those it has reached, so each of its few
    # renderings is built and encoded once.
    changes = (event.at, event.at + timedelta(minutes=5), _completed_at(event), _refund(event)[0])
    return _order_encoded(event, max(change for change in changes if change is not None and change <= now), fields, dp)


@functools.lru_cache(maxsize=65_536)
def _order_encoded(event: Event, now: datetime, fields: tuple[str, ...] | None, dp: int) -> Encoded:
    order = _order_seen_at(event, now, dp)
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


@functools.lru_cache(maxsize=65_536)
def _refund(event: Event) -> tuple[datetime | None, int]:
    """(when, amount in store units) of a paid order's partial refund; (None, 0) for most."""
    if event.kind not in ("completed", "processing", "ready-for-pickup"):
        return None, 0
    r = event.random("refund")
    if r.random() >= 0.25:
        return None, 0
    total = _native_total(event)
    return event.at + timedelta(minutes=r.randint(30, 600)), max(1, total * r.randint(10, 60) // 100)


@functools.lru_cache(maxsize=65_536)
def _native_total(event: Event) -> int:
    """The order's total in the store's units (10**-decimals of the currency): the event's
    amount, with extra random digits when the store shows more decimals than the currency
    has, or rounded half up when it shows fewer."""
    places, e = store_decimals(event.account), exponent(event.currency)
    if places >= e:
        return event.minor * 10 ** (places - e) + event.random("decimals").randrange(10 ** (places - e))
    return _rescale(event.minor, e, places)


def store_decimals(account: str) -> int:
    """The store's "Number of decimals" setting: `-dp<N>`, else the currency's own."""
    found = _STORE_DP.search(account.lower())
    return int(found[1]) if found else exponent(account_currency(account))


def _rescale(units: int, places: int, dp: int) -> int:
    """`units` (10**-places) in 10**-dp, rounded half away from zero (PHP number_format)."""
    if dp >= places:
        return units * 10 ** (dp - places)
    step = 10 ** (places - dp)
    magnitude = (abs(units) + step // 2) // step
    return -magnitude if units < 0 else magnitude


def _decimal(units: int, places: int, dp: int) -> str:
    """`wc_format_decimal(value, dp)` of a value held as `units` of 10**-places."""
    scaled = _rescale(units, places, dp)
    if dp == 0:
        return str(scaled)
    whole, fraction = divmod(abs(scaled), 10**dp)
    return f"{'-' if scaled < 0 else ''}{whole}.{fraction:0{dp}d}"


def _order_seen_at(event: Event, now: datetime, dp: int) -> dict[str, Any]:
    currency = event.currency
    created = event.at
    paid = event.kind in PAID
    completed = _completed_at(event)
    modified = now  # the order's last change (see _order)
    number = 1000 + event.ordinal
    places = store_decimals(event.account)
    total = _native_total(event)
    refund_at, refund_amount = _refund(event)
    if event.kind == "refunded":
        refunds = [{"id": number * 10 + 9, "reason": "", "total": "-" + _decimal(total, places, dp)}]
    elif refund_at is not None and refund_at <= now:
        refunds = [
            {"id": number * 10 + 8, "reason": "Partial refund", "total": "-" + _decimal(refund_amount, places, dp)}
        ]
    else:
        refunds = []
    zero = _decimal(0, places, dp)
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
        "discount_total": zero,
        "discount_tax": zero,
        "shipping_total": zero,
        "shipping_tax": zero,
        "cart_tax": zero,
        "total": _decimal(total, places, dp),
        "total_tax": zero,
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
                "subtotal": _decimal(total, places, dp),
                "total": _decimal(total, places, dp),
            }
        ],
        "refunds": refunds,
    }


def _events(account: str, start: datetime | None, end: datetime | None, now: datetime) -> list[Event]:
    """The store's orders with start <= placed < end, by date then id (WooCommerce orders
    `date` by "date ID")."""
    events = events_between(WooCommerce.key, account, PROFILE, start, end, now)
    if "-midnight" in account.lower() and "empty" not in conventions(account):
        first = (now - timedelta(days=HISTORY_DAYS)).date()
        lo = max(first, start.astimezone(UTC).date()) if start else first
        hi = min(now.date(), end.astimezone(UTC).date()) if end else now.date()
        day = lo
        while day <= hi:
            events.extend(
                e
                for e in _quarter_hour_orders(account, day)
                if e.at <= now and (start is None or e.at >= start) and (end is None or e.at < end)
            )
            day += timedelta(days=1)
        events.sort(key=lambda e: (e.at, e.ordinal))
    return events


@functools.lru_cache(maxsize=1024)
def _quarter_hour_orders(account: str, day: date) -> tuple[Event, ...]:
    currency = account_currency(account)
    r = rng(WooCommerce.key, account, day.isoformat(), "quarter-hours")
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    return tuple(
        Event(
            platform=WooCommerce.key,
            account=account,
            day=day,
            seq=900 + q,  # after any day's own orders (at most 48 x 8), below the next day's ordinals
            at=midnight + timedelta(minutes=15 * q),
            kind="completed",
            currency=currency,
            minor=random_minor(r, currency),
        )
        for q in range(QUARTER_HOURS)
    )


def _local(moment: datetime) -> str:
    return moment.astimezone(STORE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _bound(request: Request, name: str, gmt: bool) -> datetime | None:
    """`after`/`before` as the instant WordPress compares the creation date with (see the
    module docstring): the value's wall clock, in the column's zone."""
    value = (request.arg(name) or "").strip()
    if not value:
        return None
    if "T" in value.upper():
        value = value.replace(" ", "+")  # an unencoded '+' of an offset arrives as a space
    if not _REST_DATE.match(value):
        raise BadRequest("Invalid date.", param=name)
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise BadRequest("Invalid date.", param=name) from None
    wall = moment.astimezone(STORE_TZ).replace(tzinfo=None) if moment.tzinfo else moment
    return wall.replace(microsecond=0, tzinfo=UTC if gmt else STORE_TZ)


def _dp(request: Request, default: int) -> int:
    value = (request.arg("dp") or "").strip()
    if not value:
        return default
    if not re.fullmatch(r"-?\d{1,3}", value):
        raise BadRequest("dp is not of type integer.", param="dp")
    return abs(int(value))  # the parameter's sanitize_callback is absint


def _statuses(value: str | None) -> set[str]:
    wanted = [v.strip() for v in (value or "any").split(",") if v.strip()]
    if "any" in wanted:
        return set(STATUSES) - {"trash"}
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
