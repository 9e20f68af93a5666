"""Simulated PayPal: client-credentials tokens and the Transaction Search reporting API.

POST /v1/oauth2/token, HTTP Basic client_id:client_secret, form
grant_type=client_credentials -> {scope, access_token, token_type, app_id, expires_in,
nonce}. The access token names its client and expiry, so the data endpoint knows the
account (the client id) and refuses the token once expired (401 invalid_token). Tokens
not minted here are accepted too; their account is `merchant_<hash of the token>`.

GET /v1/reporting/transactions?start_date&end_date (RFC 3339, at most 31 days apart)
&transaction_status=D|P|S|V&transaction_type=<event code>&fields=transaction_info|all|...
&page_size (1..500, default 100)&page (from 1). Filters are applied as PayPal applies
them. Empty results have total_pages 0. Data is reported without PayPal's usual lag
(`last_refreshed_datetime` is now) so a demo sees it move.

Transactions that must not be counted: pending (P), denied (D) and reversed (V)
payments (only returned when not filtering on S), refunds (T1107, negative) and
withdrawals (T0400, negative), which have status S.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from providers.sandbox.core import (
    BadRequest,
    Call,
    Platform,
    Request,
    Response,
    mint_token,
    read_token,
    retry_after_header,
    route,
)
from providers.sandbox.data import Event, Profile, alnum_id, derived_account, events_between, fixed, parse_instant

PROFILE = Profile(
    counted=(("express_checkout", 12), ("website_payment", 4), ("direct_card", 2)),
    excluded=("refund", "pending", "withdrawal", "denied", "reversed"),
    multi_currency=True,
)
# kind -> (event code, status, sign)
_KINDS = {
    "express_checkout": ("T0006", "S", 1),
    "website_payment": ("T0007", "S", 1),
    "direct_card": ("T0005", "S", 1),
    "refund": ("T1107", "S", -1),
    "pending": ("T0006", "P", 1),
    "withdrawal": ("T0400", "S", -1),
    "denied": ("T0006", "D", 1),
    "reversed": ("T0006", "V", 1),
}
TOKEN_PREFIX = "A21AAsbx."
TOKEN_TTL = 32_400
MAX_DAYS = 31
_FIELD_GROUPS = (
    "transaction_info",
    "payer_info",
    "shipping_info",
    "auction_info",
    "cart_info",
    "incentive_info",
    "store_info",
)
_SCOPE = (
    "https://uri.paypal.com/services/reporting/search/read https://uri.paypal.com/services/payments/payment "
    "https://api.paypal.com/v1/payments/.*"
)


class PayPal(Platform):
    key = "paypal"
    routes = (
        route("POST", r"/v1/oauth2/token", "token", endpoint="token"),
        route("GET", r"/v1/reporting/transactions", "transactions"),
    )

    def account(self, request: Request, endpoint: str) -> str:
        if endpoint == "token":
            basic = request.basic()
            return basic[0] if basic and basic[0] else "unknown-client"
        token = request.bearer()
        if not token:
            return "anonymous"
        minted = read_token(token, TOKEN_PREFIX)
        return minted[0] if minted else derived_account("merchant_", token)

    def default_headers(self) -> list[tuple[str, str]]:
        return [("Paypal-Debug-Id", uuid.uuid4().hex[:13])]

    # --- endpoints ------------------------------------------------------------------------
    def token(self, request: Request, call: Call) -> Response:
        basic = request.basic()
        if not basic or not basic[0] or not basic[1] or call.state.is_revoked(self.key, *basic):
            return _oauth_error(401, "invalid_client", "Client Authentication failed")
        grant = request.form().get("grant_type")
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"unsupported grant_type: {grant or 'none'}")
        ttl = call.state.settings.token_ttl or TOKEN_TTL
        return Response.json(
            200,
            {
                "scope": _SCOPE,
                "access_token": mint_token(TOKEN_PREFIX, basic[0], call.now + timedelta(seconds=ttl)),
                "token_type": "Bearer",
                "app_id": "APP-" + alnum_id("app", basic[0], length=17, upper=True),
                "expires_in": ttl,
                "nonce": call.now.strftime("%Y-%m-%dT%H:%M:%SZ") + alnum_id("nonce", uuid.uuid4(), length=32),
            },
        )

    def transactions(self, request: Request, call: Call) -> Response:
        token = request.bearer()
        if not token:
            return _rest_error(
                401,
                "AUTHENTICATION_FAILURE",
                "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
            )
        minted = read_token(token, TOKEN_PREFIX)
        if call.state.is_revoked(self.key, token) or (minted and minted[1] <= call.now):
            return _oauth_error(401, "invalid_token", "Access Token not found in cache")

        start, end = _date_param(request, "start_date"), _date_param(request, "end_date")
        if end < start:
            raise BadRequest("end_date must be after start_date", param="end_date")
        if end - start > timedelta(days=MAX_DAYS):
            raise BadRequest("Date range is greater than 31 days", param="end_date")
        page_size = _int_param(request, "page_size", 100, 1, 500)
        page = _int_param(request, "page", 1, 1, 10**6)
        status = request.arg("transaction_status")
        if status is not None and status not in ("D", "P", "S", "V"):
            raise BadRequest("Invalid transaction status", param="transaction_status")
        event_code = request.arg("transaction_type")
        groups = _fields(request.arg("fields"))

        account = self.account(request, "data")
        events = events_between(self.key, account, PROFILE, start, end + timedelta(seconds=1), call.now)
        matching = [
            e
            for e in events
            if (not status or _KINDS[e.kind][1] == status) and (not event_code or _KINDS[e.kind][0] == event_code)
        ]
        size = call.state.page_size(page_size)
        total_pages = -(-len(matching) // size)
        items = [_detail(e, groups) for e in matching[(page - 1) * size : page * size]]
        return Response.json(
            200,
            {
                "transaction_details": items,
                "account_number": alnum_id("merchant", account, length=13, upper=True),
                "start_date": _paypal_time(start),
                "end_date": _paypal_time(end),
                "last_refreshed_datetime": _paypal_time(call.now),
                "page": page,
                "total_items": len(matching),
                "total_pages": total_pages,
                "links": _links(request, page, total_pages),
            },
        )

    # --- errors -----------------------------------------------------------------------------
    def bad_request(self, error: BadRequest, request: Request) -> Response:
        details = [
            {
                "field": error.param,
                "value": request.arg(error.param or "") or "",
                "location": "query",
                "issue": error.message,
            }
        ]
        return _rest_error(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            details=details,
        )

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        if kind in ("401", "403") and endpoint == "token":
            return _oauth_error(int(kind), "invalid_client", "Client Authentication failed")
        if kind == "401":
            return _oauth_error(401, "invalid_token", "Token signature verification failed")
        if kind == "403":
            return _rest_error(
                403,
                "NOT_AUTHORIZED",
                "Authorization failed due to insufficient permissions.",
                details=[
                    {
                        "issue": "PERMISSION_DENIED",
                        "description": "You do not have permission to access or perform operations on this resource.",
                    }
                ],
            )
        if kind in ("429", "429_date", "throttled"):
            headers = [] if kind == "throttled" else [("Retry-After", retry_after_header(kind, retry_after, default=2))]
            return _rest_error(
                429, "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting.", headers=headers
            )
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if kind == "500":
            return _rest_error(500, "INTERNAL_SERVER_ERROR", "An internal server error occurred.", headers=headers)
        return _rest_error(503, "SERVICE_UNAVAILABLE", "Service Unavailable.", headers=headers)


def _detail(event: Event, groups: tuple[str, ...]) -> dict[str, Any]:
    code, status, sign = _KINDS[event.kind]
    r = event.random("paypal")
    when = _paypal_time(event.at)
    info: dict[str, Any] = {
        "paypal_account_id": alnum_id("payer", event.account, event.key, length=13, upper=True),
        "transaction_id": alnum_id("txn", event.account, event.key, length=17, upper=True),
        "transaction_event_code": code,
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": {"currency_code": event.currency, "value": fixed(sign * event.minor, event.currency)},
        "transaction_status": status,
        "protection_eligibility": "01",
    }
    if sign > 0:
        fee = -(event.minor * 349 // 10_000 + r.randint(0, 49))
        info["fee_amount"] = {"currency_code": event.currency, "value": fixed(fee, event.currency)}
        info["invoice_id"] = f"INV-{event.ordinal}"
    if event.kind == "refund":
        info["paypal_reference_id"] = alnum_id("refunded", event.account, event.key, length=17, upper=True)
        info["paypal_reference_id_type"] = "TXN"
    detail: dict[str, Any] = {}
    for group in groups:
        if group == "transaction_info":
            detail[group] = info
        elif group == "payer_info":
            detail[group] = {
                "account_id": info["paypal_account_id"],
                "email_address": f"buyer-{event.ordinal}@example.com",
                "address_status": "Y",
                "payer_status": "Y",
                "country_code": "US",
            }
        else:
            detail[group] = {}
    return detail


def _fields(value: str | None) -> tuple[str, ...]:
    if not value:
        return ("transaction_info",)
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    if "all" in wanted:
        return _FIELD_GROUPS
    unknown = [w for w in wanted if w not in _FIELD_GROUPS]
    if unknown:
        raise BadRequest(f"Invalid fields value: {unknown[0]}", param="fields")
    return tuple(wanted)


def _date_param(request: Request, name: str) -> datetime:
    value = request.arg(name)
    if not value:
        raise BadRequest(f"{name} is required", param=name)
    try:
        return parse_instant(value)
    except ValueError:
        raise BadRequest(f"Invalid {name} format", param=name) from None


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    value = request.arg(name)
    if value is None:
        return default
    if not value.isdigit() or not lo <= int(value) <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}", param=name)
    return int(value)


def _paypal_time(moment: datetime) -> str:
    """PayPal's own format: `2024-05-01T10:00:00+0000`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _links(request: Request, page: int, total_pages: int) -> list[dict[str, str]]:
    params = dict(parse_qsl(request.query_string, keep_blank_values=True))

    def href(n: int) -> str:
        return f"{request.base_url}/v1/reporting/transactions?{urlencode({**params, 'page': str(n)})}"

    links = [{"href": href(page), "rel": "self", "method": "GET"}]
    if page < total_pages:
        links.append({"href": href(page + 1), "rel": "next", "method": "GET"})
    if total_pages:
        links.append({"href": href(total_pages), "rel": "last", "method": "GET"})
    return links


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


def _rest_error(
    status: int,
    name: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": uuid.uuid4().hex[:13]}
    if details:
        body["details"] = details
    body["links"] = [
        {
            "href": f"https://developer.paypal.com/docs/api/transaction-search/v1/#error-{name}",
            "rel": "information_link",
            "method": "GET",
        }
    ]
    return Response.json(status, body, headers or [])
