"""Simulated Shopify: the GraphQL Admin API's `orders` connection.

POST /admin/api/<version>/graphql.json with {"query", "variables", "operationName"?};
`X-Shopify-Access-Token` authenticates; `X-Skeldir-Shop: <shop domain>` names the shop
(the simulator cannot route by host name; without the header the Host is used). Any
`YYYY-MM` or `unstable` version is accepted and echoed in `X-Shopify-API-Version`.

The query is parsed and checked against a small schema (QueryRoot.orders / shop), and
the answer holds only the selected fields. `orders(first|last, after|before, query,
sortKey, reverse)` understands the search terms `created_at:<op>'<ISO>'` (op one of
> >= < <=), `test:true|false`, `status:open|closed|cancelled|any` and
`financial_status:<status>`; other terms are ignored with a search warning, as Shopify
does. Pages hold at most 250 orders. Amounts are Decimal strings as Shopify sends them
("12.5", "1250.0").

What an order carries follows the Admin API reference (object `Order`, enum
`OrderDisplayFinancialStatus`; the vendored subset is
tests/fixtures/specs/shopify_admin_2026-10.graphql): `totalReceivedSet` is the money
received (captured, or marked as paid), `totalRefundedSet` the money refunded so far,
`netPaymentSet` their difference, `totalPriceSet` the order's price and
`currentTotalPriceSet` that price after returns. The kinds of order, one per event
(see `data`), and what each shows:

    paid                PAID; received = price.
    pending             PENDING (payment provider still working, or a manual method); received 0.
    authorized          AUTHORIZED (manual capture, not captured yet); received 0.
    partially_paid      PARTIALLY_PAID; 30–70 % of the price captured.
    partially_refunded  PAID, then 15 min–3 h later PARTIALLY_REFUNDED: 10–60 % refunded
                        (with a return, so `currentTotalPriceSet` drops by as much).
    refunded            PAID, then 15 min–3 h later REFUNDED: everything refunded.
    expired             EXPIRED from the start (the payment failed); received 0.
    cancelled           AUTHORIZED, then 20 min later cancelled: VOIDED, `cancelledAt` set.
    cancelled_paid      PAID, then 20 min later cancelled with the refund left for later:
                        still PAID and received, `cancelledAt` set.
    test                PAID with `test: true`.

Refunds and cancellations happen later than the order, often later the same day: what an
order shows depends on the simulated clock. Every shop's orders are in its currency
(`shopMoney`; `-jpy`, `-eur`, … as in `data`). A `-multi` shop sells in several
currencies, as a shop with Shopify Markets does: each order is presented to its customer in
USD, EUR, GBP or JPY (`presentmentMoney`, converted at the fixed `PRESENTMENT_RATES`), and
settled in the shop's own currency (`shopMoney`).

OAuth (on the shop's own domain on the real platform; here the shop is named by the
`shop` query parameter, or `X-Skeldir-Shop`; see `oauth` for what is shared):
GET    /admin/oauth/authorize?client_id&scope&redirect_uri&state → 302 redirect_uri?code&hmac
       &host&shop&state&timestamp, `hmac` being the HMAC-SHA256 of the other parameters with
       the app's secret. Without `grant_options[]=per-user` the install is offline (a token
       that does not expire). No PKCE.
POST   /admin/oauth/access_token {client_id, client_secret, code} (JSON or form) →
       {"access_token": "shpat_…", "scope"}; the token works for that shop only.
DELETE /admin/api_permissions/current.json with the token: uninstalls (revokes) it.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from providers.sandbox import graphql, oauth
from providers.sandbox.core import (
    BadRequest,
    Call,
    Encoded,
    Platform,
    Request,
    Response,
    mint_token,
    read_token,
    retry_after_header,
    route,
)
from providers.sandbox.data import (
    Event,
    Profile,
    account_currency,
    b64,
    conventions,
    events_between,
    exponent,
    major,
    parse_instant,
    rfc3339,
    short_decimal,
    unb64,
)

PROFILE = Profile(
    counted=(("paid", 14), ("partially_refunded", 2), ("pending", 1), ("authorized", 1), ("partially_paid", 1)),
    # One of each per EXCLUDED_EVERY-th event, in turn: every kind appears every day.
    excluded=("test", "cancelled", "refunded", "expired", "cancelled_paid"),
)
# Units of each currency per US dollar, for the presentment money of `-multi` shops.
PRESENTMENT_RATES = {"USD": Decimal(1), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "JPY": Decimal("151.37")}
PRESENTMENT_CURRENCIES = tuple(PRESENTMENT_RATES)
MAX_PAGE = 250
BUCKET = 2000.0
RESTORE_RATE = 100.0
_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_TERM = re.compile(r"""(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?(?P<value>'[^']*'|"[^"]*"|[^\s()]+)""")
# displayFinancialStatus of each kind: (before its change, after it)
_FINANCIAL = {
    "paid": ("PAID", "PAID"),
    "pending": ("PENDING", "PENDING"),
    "authorized": ("AUTHORIZED", "AUTHORIZED"),
    "partially_paid": ("PARTIALLY_PAID", "PARTIALLY_PAID"),
    "partially_refunded": ("PAID", "PARTIALLY_REFUNDED"),
    "refunded": ("PAID", "REFUNDED"),
    "expired": ("EXPIRED", "EXPIRED"),
    "cancelled": ("AUTHORIZED", "VOIDED"),
    "cancelled_paid": ("PAID", "PAID"),
    "test": ("PAID", "PAID"),
}
_UNPAID = frozenset({"pending", "authorized", "expired", "cancelled"})
_REFUNDS = frozenset({"partially_refunded", "refunded"})
_CANCELS = frozenset({"cancelled", "cancelled_paid"})
FINANCIAL_STATUSES = frozenset(
    {"PENDING", "AUTHORIZED", "PARTIALLY_PAID", "PAID", "PARTIALLY_REFUNDED", "REFUNDED", "VOIDED", "EXPIRED"}
)
ORDER_SORT_KEYS = frozenset(
    {
        "CREATED_AT",
        "CURRENT_TOTAL_PRICE",
        "CUSTOMER_NAME",
        "DESTINATION",
        "FINANCIAL_STATUS",
        "FULFILLMENT_STATUS",
        "ID",
        "ORDER_NUMBER",
        "PO_NUMBER",
        "PROCESSED_AT",
        "RELEVANCE",
        "TOTAL_ITEMS_QUANTITY",
        "TOTAL_PRICE",
        "UPDATED_AT",
    }
)
ORDERS_ARGUMENTS = frozenset({"first", "after", "last", "before", "reverse", "sortKey", "query", "savedSearchId"})
_MONEY_BAG = {"shopMoney": "MoneyV2", "presentmentMoney": "MoneyV2"}
SCHEMA: dict[str, dict[str, str]] = {
    "QueryRoot": {"orders": "OrderConnection", "shop": "Shop"},
    "OrderConnection": {"edges": "[OrderEdge]", "nodes": "[Order]", "pageInfo": "PageInfo"},
    "OrderEdge": {"cursor": "String", "node": "Order"},
    "PageInfo": {
        "hasNextPage": "Boolean",
        "hasPreviousPage": "Boolean",
        "startCursor": "String",
        "endCursor": "String",
    },
    "Order": {
        "id": "ID",
        "legacyResourceId": "UnsignedInt64",
        "name": "String",
        "createdAt": "DateTime",
        "processedAt": "DateTime",
        "updatedAt": "DateTime",
        "test": "Boolean",
        "cancelledAt": "DateTime",
        "cancelReason": "OrderCancelReason",
        "closed": "Boolean",
        "confirmed": "Boolean",
        "currencyCode": "CurrencyCode",
        "presentmentCurrencyCode": "CurrencyCode",
        "displayFinancialStatus": "OrderDisplayFinancialStatus",
        "displayFulfillmentStatus": "OrderDisplayFulfillmentStatus",
        "totalPriceSet": "MoneyBag",
        "currentTotalPriceSet": "MoneyBag",
        "subtotalPriceSet": "MoneyBag",
        "currentSubtotalPriceSet": "MoneyBag",
        "totalReceivedSet": "MoneyBag",
        "totalRefundedSet": "MoneyBag",
        "netPaymentSet": "MoneyBag",
    },
    "MoneyBag": _MONEY_BAG,
    "MoneyV2": {"amount": "Decimal", "currencyCode": "CurrencyCode"},
    "Shop": {
        "id": "ID",
        "name": "String",
        "myshopifyDomain": "String",
        "currencyCode": "CurrencyCode",
        "ianaTimezone": "String",
    },
}
_INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
OAUTH_TOKEN_PREFIX = "shpat_sbx_"
NEVER = datetime(2100, 1, 1, tzinfo=UTC)  # offline tokens do not expire
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class Shopify(Platform):
    key = "shopify"
    routes = (
        route("POST", r"/admin/api/(?P<version>[^/]+)/graphql\.json", "graphql"),
        route("GET", r"/admin/oauth/authorize", "authorize", endpoint="authorize"),
        route("POST", r"/admin/oauth/access_token", "access_token", endpoint="token"),
        route("DELETE", r"/admin/api_permissions/current\.json", "uninstall", endpoint="revoke"),
    )

    def account(self, request: Request, endpoint: str) -> str:
        if endpoint == "authorize" and request.arg("shop"):
            return request.arg("shop") or ""
        return request.header("X-Skeldir-Shop") or (request.header("Host") or "unknown-shop").split(":")[0]

    # --- OAuth --------------------------------------------------------------------------------
    def authorize(self, request: Request, call: Call) -> Response:
        shop = self.account(request, "authorize").lower()
        if not _SHOP.match(shop):
            return oauth.error_page(400, "The shop is not a myshopify.com domain.")
        try:
            client_id, redirect_uri, state = oauth.authorize_request(request, call, self.key, pkce=False)
        except oauth.AuthorizeRefused as refused:
            return oauth.error_page(400, f"Oauth error invalid_request: {refused.args[0]}")
        if call.state.consent(self.key).deny:
            # The merchant cancelled the installation: Shopify takes them back to their admin.
            return oauth.error_page(200, "The installation was cancelled.")
        scope = request.arg("scope") or ""
        code = oauth.issue_code(
            call,
            platform=self.key,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            accounts=(shop,),
            offline="per-user" not in request.query_string,
        )
        params = {
            "code": code,
            "host": base64.urlsafe_b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode(),
            "shop": shop,
            "state": state or "",
            "timestamp": str(int(call.now.timestamp())),
        }
        params["hmac"] = oauth.shopify_hmac(params, call.state.app_secret(self.key, client_id) or "")
        return oauth.redirect(redirect_uri, params)

    def access_token(self, request: Request, call: Call) -> Response:
        content_type = (request.header("Content-Type") or "").lower()
        body = request.json() if "json" in content_type else request.form()
        if not isinstance(body, dict):
            raise BadRequest("expected client_id, client_secret and code")
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if not oauth.secret_matches(call, self.key, client_id, secret):
            refused = {"error": "invalid_client", "error_description": "Client credentials are invalid"}
            return Response.json(400, refused)
        record, why = oauth.redeem(call, self.key, body.get("code"), client_id)
        shop = self.account(request, "token").lower()
        if record is None or record.accounts != (shop,):
            return Response.json(
                400,
                {
                    "error": "invalid_request",
                    "error_description": why or "The authorization code was issued for another shop",
                },
            )
        parent = f"{client_id}|{shop}"
        token = mint_token(OAUTH_TOKEN_PREFIX, parent, NEVER)
        call.state.remember_issued(self.key, parent, token)
        oauth.new_grant(call, record)
        return Response.json(200, {"access_token": token, "scope": record.scope})

    def uninstall(self, request: Request, call: Call) -> Response:
        token = request.header("X-Shopify-Access-Token") or ""
        minted = read_token(token, OAUTH_TOKEN_PREFIX)
        if minted is None or call.state.is_revoked(self.key, token):
            return Response.json(401, {"errors": _INVALID_TOKEN})
        call.state.revoke(self.key, minted[0])
        return Response.json(200, {})

    def default_headers(self) -> list[tuple[str, str]]:
        return [("X-Request-Id", str(uuid.uuid4()))]

    # --- the endpoint ---------------------------------------------------------------------
    def graphql(self, request: Request, call: Call) -> Response:
        version = request.params["version"]
        if not _VERSION.match(version):
            return Response.json(404, {"errors": "Not Found"})
        headers = [("X-Shopify-API-Version", version)]
        token = request.header("X-Shopify-Access-Token")
        if not token or call.state.is_revoked(self.key, token):
            return Response.json(401, {"errors": _INVALID_TOKEN}, headers)
        minted = read_token(token, OAUTH_TOKEN_PREFIX)
        if minted and minted[0].partition("|")[2] != self.account(request, "data").lower():
            return Response.json(401, {"errors": _INVALID_TOKEN}, headers)  # installed on another shop
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
            return Response.json(400, {"errors": {"query": "Required parameter missing or invalid"}}, headers)
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return Response.json(400, {"errors": {"variables": "must be an object"}}, headers)
        try:
            parsed = _parsed(body["query"], body.get("operationName"))
        except graphql.GraphQLError as error:
            return Response.json(200, {"errors": [error.as_dict()]}, headers)
        fields = parsed.fields
        if parsed.errors:
            return Response.json(200, {"errors": [e.as_dict() for e in parsed.errors]}, headers)

        shop = self.account(request, "data")
        data: dict[str, Any] = {}
        extensions: dict[str, Any] = {}
        requested = returned = 1
        for field in fields:
            if field.name == "shop":
                data[field.key] = graphql.project(_shop(shop), field.selections or [], "Shop", SCHEMA)
                continue
            args = graphql.resolve(field.args, variables)
            try:
                connection, warnings, size, renderings = _orders(shop, args, call)
            except graphql.GraphQLError as error:
                error.path, error.line, error.column = [field.key], field.line, field.column
                return Response.json(200, {"errors": [error.as_dict()], "data": None}, headers)
            data[field.key] = graphql.project(
                connection,
                field.selections or [],
                "OrderConnection",
                SCHEMA,
                {"Order": lambda order, selections, seen=renderings: parsed.order(seen[id(order)], order, selections)},
            )
            requested += 2 + size
            returned += 2 + len(connection["nodes"])
            if warnings:
                extensions.setdefault("search", []).append(
                    {"path": [field.key], "query": args.get("query"), "warnings": warnings}
                )
        extensions["cost"] = _cost(requested, returned)
        return Response.json(200, {"data": data, "extensions": extensions}, headers)

    # --- errors -----------------------------------------------------------------------------
    def bad_request(self, error: BadRequest, request: Request) -> Response:
        return Response.json(400, {"errors": error.message})

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        if kind == "401":
            return Response.json(401, {"errors": _INVALID_TOKEN})
        if kind == "403":
            return Response.json(403, {"errors": "[API] This action requires merchant approval for read_orders scope."})
        if kind in ("429", "429_date", "throttled"):
            wait = retry_after if retry_after is not None else (1 if kind == "throttled" else 2)
            body = _throttled(_requested_cost(request), wait)
            if kind == "throttled":  # GraphQL throttling arrives as HTTP 200
                return Response.json(200, body)
            return Response.json(429, body, [("Retry-After", retry_after_header(kind, wait, default=2))])
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        message = "Internal Server Error" if kind == "500" else "Service Unavailable"
        return Response.json(int(kind), {"errors": message}, headers)


# --- orders ---------------------------------------------------------------------------------------


class _Parsed:
    """A query's root selections, its validation errors, and the orders it has already
    projected and encoded: a client sends the same few queries again and again, and a
    settled order never changes, so each is parsed, and each order projected, once."""

    MEMO_LIMIT = 65_536

    def __init__(self, query: str, operation_name: Any) -> None:
        self.fields = graphql.parse(query, operation_name)  # raises GraphQLError
        self.errors = graphql.validate(self.fields, "QueryRoot", SCHEMA, [])
        # (selections, order rendering) -> encoded projection; the selections belong to
        # this query, so their identity is stable for as long as the memo is.
        self._orders: dict[tuple[int, Event, datetime], Encoded] = {}

    def order(
        self, rendering: tuple[Event, datetime], order: dict[str, Any], selections: list[graphql.Field]
    ) -> Encoded:
        key = (id(selections), *rendering)
        encoded = self._orders.get(key)
        if encoded is None:
            if len(self._orders) >= self.MEMO_LIMIT:
                self._orders.clear()
            encoded = self._orders[key] = Encoded.of(graphql.project(order, selections, "Order", SCHEMA))
        return encoded


def _parsed(query: str, operation_name: Any) -> _Parsed:
    if operation_name is None or isinstance(operation_name, str):
        return _parsed_once(query, operation_name)
    return _Parsed(query, operation_name)


@functools.lru_cache(maxsize=64)
def _parsed_once(query: str, operation_name: str | None) -> _Parsed:
    return _Parsed(query, operation_name)


def _orders(
    shop: str, args: dict[str, Any], call: Call
) -> tuple[dict[str, Any], list[dict[str, str]], int, dict[int, tuple[Event, datetime]]]:
    """The orders connection, search warnings, the page size asked for, and which
    rendering (event, as seen at) each order object is."""
    for name in args:
        if name not in ORDERS_ARGUMENTS:
            raise graphql.GraphQLError(
                f"Field 'orders' doesn't accept argument '{name}'",
                extensions={"code": "argumentNotAccepted", "name": "orders", "typeName": "Field", "argumentName": name},
            )
    if args.get("sortKey") is not None and args["sortKey"] not in ORDER_SORT_KEYS:
        raise graphql.GraphQLError(
            f"Argument 'sortKey' on Field 'orders' has an invalid value ({args['sortKey']}). "
            "Expected type 'OrderSortKeys'.",
            extensions={"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": "sortKey"},
        )
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise graphql.GraphQLError("you must provide one of first or last")
    size = first if first is not None else last
    if not isinstance(size, int) or size < 0:
        raise graphql.GraphQLError("first/last must be a non-negative integer")
    if size > MAX_PAGE:
        raise graphql.GraphQLError(f"The page size is too large: at most {MAX_PAGE} ({size} requested)")
    size = call.state.page_size(size) if size else size
    start, end, predicates, warnings = _search(args.get("query"))

    events = events_between("shopify", shop, PROFILE, start, end, call.now)
    renderings = {}
    orders = []
    for event in events:
        seen_at = _seen_at(event, call.now)
        order = _order_seen_at(event, seen_at)
        if all(p(order) for p in predicates):
            renderings[id(order)] = (event, seen_at)
            orders.append(order)
    sort_key = {"CREATED_AT": "createdAt", "PROCESSED_AT": "processedAt", "UPDATED_AT": "updatedAt"}.get(
        str(args.get("sortKey") or "ID"), "legacyResourceId"
    )
    orders.sort(
        key=lambda o: (o[sort_key] if sort_key != "legacyResourceId" else int(o[sort_key]), int(o["legacyResourceId"]))
    )
    if args.get("reverse"):
        orders.reverse()

    ids = [o["id"] for o in orders]
    lo, hi = 0, len(orders)
    if args.get("after"):
        lo = _cursor_index(args["after"], ids) + 1
    if args.get("before"):
        hi = _cursor_index(args["before"], ids)
    window = orders[lo:hi]
    page = window[:size] if first is not None else window[max(0, len(window) - size) :]
    pos = lo + (0 if first is not None else max(0, len(window) - size))
    edges = [{"cursor": _cursor(o), "node": o} for o in page]
    connection = {
        "edges": edges,
        "nodes": page,
        "pageInfo": {
            "hasNextPage": pos + len(page) < len(orders) if first is not None else hi < len(orders),
            "hasPreviousPage": pos > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
    return connection, warnings, size, renderings


def _search(query: Any) -> tuple[datetime | None, datetime | None, list[Any], list[dict[str, str]]]:
    """Window bounds (start inclusive, end exclusive, widened by a second so strict and
    inclusive bounds both hold) plus predicates for the other terms."""
    start = end = None
    predicates: list[Any] = []
    warnings: list[dict[str, str]] = []
    if not isinstance(query, str):
        return start, end, predicates, warnings
    for match in _TERM.finditer(query):
        field, op, value = match["field"], match["op"] or "", match["value"].strip("'\"")
        if field in ("created_at", "processed_at"):
            try:
                moment = parse_instant(value)
            except ValueError:
                warnings.append({"field": field, "message": f"Invalid date value '{value}'."})
                continue
            key = "createdAt"
            predicates.append(_compare(key, op or ">=", moment))
            if op in (">", ">="):
                start = moment if start is None else max(start, moment)
            elif op in ("<", "<="):
                bound = moment + timedelta(seconds=1)
                end = bound if end is None else min(end, bound)
        elif field == "test":
            wanted = value.lower() == "true"
            predicates.append(lambda o, wanted=wanted: o["test"] is wanted)
        elif field == "status":
            predicates.append(_status_predicate(value.lower()))
        elif field == "financial_status":
            wanted_status = value.upper()
            predicates.append(lambda o, wanted_status=wanted_status: o["displayFinancialStatus"] == wanted_status)
        else:
            warnings.append({"field": field, "message": "Invalid search field for this query."})
    return start, end, predicates, warnings


def _compare(key: str, op: str, moment: datetime) -> Any:
    def check(order: dict[str, Any]) -> bool:
        value = parse_instant(order[key])
        return {">": value > moment, ">=": value >= moment, "<": value < moment, "<=": value <= moment}[op]

    return check


def _status_predicate(status: str) -> Any:
    if status == "cancelled":
        return lambda o: o["cancelledAt"] is not None
    if status == "closed":
        return lambda o: o["closed"]
    if status == "open":
        return lambda o: not o["closed"] and o["cancelledAt"] is None
    return lambda o: True


_CANCEL_AFTER = timedelta(minutes=20)


def _change_at(event: Event) -> datetime | None:
    """When the order is refunded or cancelled (None: it never changes)."""
    if event.kind in _REFUNDS:
        return event.at + timedelta(minutes=event.random("refund at").randint(15, 180))
    if event.kind in _CANCELS:
        return event.at + _CANCEL_AFTER
    return None


def _seen_at(event: Event, now: datetime) -> datetime:
    # An order shows one of at most two states, each from a fixed moment on: its rendering
    # is built once per state (callers never modify it).
    change = _change_at(event)
    return change if change is not None and now >= change else event.at


@functools.lru_cache(maxsize=65_536)
def _order_seen_at(event: Event, seen_at: datetime) -> dict[str, Any]:
    """The order of `event` as it stands from `seen_at` on (its creation, or its change)."""
    currency = event.currency
    total = event.minor
    changed = seen_at > event.at
    if event.kind in _UNPAID:
        received = 0
    elif event.kind == "partially_paid":
        received = total * event.random("captured").randint(30, 70) // 100
    else:
        received = total
    refunded = 0
    if changed and event.kind == "refunded":
        refunded = received
    elif changed and event.kind == "partially_refunded":
        refunded = total * event.random("refund").randint(10, 60) // 100
    returned = refunded  # refunds here come with a return of what they pay back
    cancelled = changed and event.kind in _CANCELS
    legacy = 5_500_000_000_000 + event.ordinal
    created = rfc3339(event.at)
    presented = _presentment_currency(event)

    def money(minor: int) -> dict[str, Any]:
        return {
            "shopMoney": {"amount": short_decimal(minor, currency), "currencyCode": currency},
            "presentmentMoney": {
                "amount": short_decimal(_convert(minor, currency, presented), presented),
                "currencyCode": presented,
            },
        }

    return {
        "id": f"gid://shopify/Order/{legacy}",
        "legacyResourceId": str(legacy),
        "name": f"#{1001 + event.ordinal}",
        "createdAt": created,
        "processedAt": created,
        "updatedAt": rfc3339(seen_at),
        "test": event.kind == "test",
        "cancelledAt": rfc3339(seen_at) if cancelled else None,
        "cancelReason": ("CUSTOMER" if event.kind == "cancelled" else "INVENTORY") if cancelled else None,
        "closed": cancelled or event.kind in ("paid", "refunded"),
        "confirmed": True,
        "currencyCode": currency,
        "presentmentCurrencyCode": presented,
        "displayFinancialStatus": _FINANCIAL[event.kind][changed],
        "displayFulfillmentStatus": "FULFILLED" if event.kind == "paid" else "UNFULFILLED",
        "totalPriceSet": money(total),
        "currentTotalPriceSet": money(total - returned),
        "subtotalPriceSet": money(total),
        "currentSubtotalPriceSet": money(total - returned),
        "totalReceivedSet": money(received),
        "totalRefundedSet": money(refunded),
        "netPaymentSet": money(received - refunded),
    }


def _presentment_currency(event: Event) -> str:
    """The customer's currency: the shop's own, except in `-multi` shops."""
    if "multi" not in conventions(event.account) or event.currency not in PRESENTMENT_RATES:
        return event.currency
    return event.random("presentment").choice(PRESENTMENT_CURRENCIES)


def _convert(minor: int, currency: str, to: str) -> int:
    """Shop money in the presentment currency, at the fixed rates, half-even to its minor unit."""
    if to == currency:
        return minor
    value = major(minor, currency) / PRESENTMENT_RATES[currency] * PRESENTMENT_RATES[to]
    return int(value.scaleb(exponent(to)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _cursor(order: dict[str, Any]) -> str:
    return b64(json.dumps({"last_id": int(order["legacyResourceId"]), "last_value": order["createdAt"]}))


def _cursor_index(cursor: Any, ids: list[str]) -> int:
    try:
        legacy = json.loads(unb64(str(cursor)))["last_id"]
        return ids.index(f"gid://shopify/Order/{legacy}")
    except (ValueError, KeyError, TypeError):
        raise graphql.GraphQLError("Invalid cursor for current pagination.") from None


def _shop(shop: str) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Shop/{int(uuid.uuid5(uuid.NAMESPACE_DNS, shop)) % 10**11}",
        "name": shop.split(".")[0],
        "myshopifyDomain": shop,
        "currencyCode": account_currency(shop),
        "ianaTimezone": "Etc/UTC",
    }


# --- cost and throttling -----------------------------------------------------------------------


def _cost(requested: int, actual: int) -> dict[str, Any]:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": BUCKET,
            "currentlyAvailable": BUCKET - actual,
            "restoreRate": RESTORE_RATE,
        },
    }


def _requested_cost(request: Request) -> int:
    try:
        variables = json.loads(request.body).get("variables") or {}
        first = int(variables.get("first") or 0)
    except (ValueError, TypeError, AttributeError):
        return 252
    return 2 + first if first else 252


def _throttled(requested: int, wait: int) -> dict[str, Any]:
    """THROTTLED with a bucket state implying a wait of `wait` seconds:
    ceil((requested - available) / restoreRate) == wait."""
    available = requested - wait * RESTORE_RATE
    rate = RESTORE_RATE
    if available < 0:  # a long wait for a cheap query: a slower plan's restore rate says it
        available, rate = 0.0, requested / wait * (1 + 1e-9)
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": BUCKET, "currentlyAvailable": available, "restoreRate": rate},
            }
        },
    }
