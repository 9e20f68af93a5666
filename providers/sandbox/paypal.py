"""Simulated PayPal: client-credentials tokens and the Transaction Search reporting API.

POST /v1/oauth2/token, HTTP Basic client_id:client_secret, form
grant_type=client_credentials -> {scope, access_token, token_type, app_id, expires_in,
nonce}. The access token names its client and expiry, so the data endpoint knows the
account (the client id) and refuses the token once expired (401 invalid_token). Tokens
not minted here are accepted too; their account is `merchant_<hash of the token>`.

GET /v1/reporting/transactions?start_date&end_date (RFC 3339, at most 31 days apart)
&transaction_status=D|P|S|V&transaction_type=<event code>&fields=transaction_info|all|...
&page_size (1..500, default 100)&page (from 1). Filters are applied as PayPal applies
them; answers follow the published OpenAPI document (tests/fixtures/specs/
paypal_reporting_transactions_v1.json): date-times as `+00:00` (the schema's pattern; the
reference's samples show `+0000`), and an empty search leaves `transaction_details` out
(`minItems: 1`) with total_pages 0.

What a merchant's history holds (seeded per account and day, see `data.py`):
- sales T0006 / T0007 / T0005, status S; some in JPY/EUR on `-multi` accounts;
- refunds: about one sale in six is refunded by the merchant (T1107, status S, negative,
  `paypal_reference_id` = the sale, type TXN), partly or fully, half of them later the same
  day and the rest one to three days later (so a day's list holds refunds of earlier days'
  sales). A refunded sale keeps status S (a refund is its own transaction);
- reversals: a `reversed` sale is listed S until PayPal reverses it (T1106, negative, naming
  the sale), half an hour to two days later, and V from then on;
- pending (P) and denied (D) payments, and withdrawals (T0400, S, negative).
The reporting lag ("It takes a maximum of three hours for executed transactions to appear"):
the reporting store is refreshed every 30 minutes, each refresh holding the transactions up to
5 minutes to 2.5 hours before it (drawn per refresh, mostly short); a transaction is listed, and
a status change shows, only once a refresh holds it, and `last_refreshed_datetime` is the
latest refresh's cut-off. Deterministic: the same moment gives the same answer.

401s: a request without a bearer token gets the spec's `error_401` (AUTHENTICATION_FAILURE);
an expired, revoked or faulted token gets the OAuth form {"error": "invalid_token", ...} that
PayPal's REST APIs answer in practice (not declared in the reporting spec).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import uuid
from datetime import UTC, date, datetime, timedelta
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
from providers.sandbox.data import (
    HISTORY_DAYS,
    Event,
    Profile,
    alnum_id,
    day_events,
    derived_account,
    fixed,
    parse_instant,
    rng,
)

PROFILE = Profile(
    counted=(("express_checkout", 12), ("website_payment", 4), ("direct_card", 2)),
    excluded=("pending", "withdrawal", "reversed", "denied"),
    multi_currency=True,
)
# kind -> (event code, status, sign); a "reversed" sale is S until its reversal shows.
_KINDS = {
    "express_checkout": ("T0006", "S", 1),
    "website_payment": ("T0007", "S", 1),
    "direct_card": ("T0005", "S", 1),
    "pending": ("T0006", "P", 1),
    "withdrawal": ("T0400", "S", -1),
    "denied": ("T0006", "D", 1),
    "reversed": ("T0006", "S", 1),
}
_SALES = frozenset({"express_checkout", "website_payment", "direct_card"})
REFUND_SHARE = 6  # about one sale in REFUND_SHARE is refunded
# Refunds and reversals come at most this long after their sale, so a search looks this far
# back for the sales whose refunds fall in its range.
LATEST_REFUND = timedelta(days=3)
REFRESH_EVERY = 1800  # seconds between refreshes of the reporting store
REFRESHES_KEPT = 6  # a refresh's cut-off is at most REFRESHES_KEPT * REFRESH_EVERY behind it
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
                "Authentication failed due to missing authorization header, or invalid authentication credentials.",
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
        refreshed = last_refreshed(call.now)
        matching = [
            (t, t.status_at(refreshed))
            for t in transactions(account, start, end, refreshed)
            if (not status or t.status_at(refreshed) == status) and (not event_code or t.code == event_code)
        ]
        size = call.state.page_size(page_size)
        total_pages = -(-len(matching) // size)
        items = [_detail(t, shown, refreshed, groups) for t, shown in matching[(page - 1) * size : page * size]]
        body: dict[str, Any] = {"transaction_details": items} if items else {}
        body.update(
            {
                "account_number": alnum_id("merchant", account, length=13, upper=True),
                "start_date": _paypal_time(start),
                "end_date": _paypal_time(end),
                "last_refreshed_datetime": _paypal_time(refreshed),
                "page": page,
                "total_items": len(matching),
                "total_pages": total_pages,
                "links": _links(request, page, total_pages),
            }
        )
        return Response.json(200, body)

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


# --- the merchant's transactions ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Transaction:
    """One listed record: a sale (or another payment) or a refund/reversal naming its sale."""

    event: Event  # the day's event it comes from (a refund's is its sale's)
    at: datetime  # when it happened: transaction_initiation_date
    code: str
    status: str
    minor: int  # signed, in the event's currency
    transaction_id: str
    reference: str | None = None  # a refund's or reversal's sale
    reversed_at: datetime | None = None  # a sale PayPal reverses: S until then, V after

    def status_at(self, refreshed: datetime) -> str:
        """The status as of the reporting store's cut-off."""
        return "V" if self.reversed_at is not None and self.reversed_at <= refreshed else self.status


def last_refreshed(now: datetime) -> datetime:
    """The reporting store's cut-off at `now`: the latest of the recent refreshes' cut-offs
    (refresh k at k * REFRESH_EVERY holds what happened up to a delay drawn for k before it).
    Never goes back: a delay is under REFRESHES_KEPT periods, so a refresh dropping out of
    the window always had an earlier cut-off than the newest one."""
    k = math.floor(now.timestamp() / REFRESH_EVERY)
    cutoff = max(j * REFRESH_EVERY - _refresh_delay(j) for j in range(k - REFRESHES_KEPT, k + 1))
    return datetime.fromtimestamp(cutoff, UTC)


@functools.lru_cache(maxsize=4096)
def _refresh_delay(refresh: int) -> int:
    """Seconds a refresh lags behind: mostly 5-40 minutes, sometimes up to 2.5 hours, so a
    transaction shows at most three hours after it happened."""
    r = rng("paypal-refresh", refresh)
    return r.randint(300, 2400) if r.random() < 0.8 else r.randint(2400, 9000)


def transactions(account: str, start: datetime, end: datetime, refreshed: datetime) -> list[Transaction]:
    """What a search for start..end (both inclusive) lists once the store holds `refreshed`:
    records that happened in the range by the cut-off, oldest first."""
    first = max((start - LATEST_REFUND).astimezone(UTC).date(), (refreshed - timedelta(days=HISTORY_DAYS)).date())
    last = min(end.astimezone(UTC).date(), refreshed.date())
    found: list[Transaction] = []
    day = first
    while day <= last:
        found.extend(t for t in _day_transactions(account, day) if start <= t.at <= end and t.at <= refreshed)
        day += timedelta(days=1)
    found.sort(key=lambda t: (t.at, t.transaction_id))
    return found


@functools.lru_cache(maxsize=16_384)
def _day_transactions(account: str, day: date) -> tuple[Transaction, ...]:
    """The day's events as PayPal lists them, with the refunds and reversals of its sales
    (which may fall on later days)."""
    records: list[Transaction] = []
    for event in day_events(PayPal.key, account, day, PROFILE):
        code, status, sign = _KINDS[event.kind]
        sale_id = alnum_id("txn", event.account, event.key, length=17, upper=True)
        r = event.random("paypal-refund")
        reversed_at = None
        if event.kind == "reversed":
            reversed_at = event.at + timedelta(seconds=r.randint(1800, 2 * 86_400))
            records.append(
                Transaction(event, reversed_at, "T1106", "S", -event.minor, _refund_id(event, 0), reference=sale_id)
            )
        elif event.kind in _SALES and r.randrange(REFUND_SHARE) == 0:
            later = r.randint(600, 6 * 3600) if r.random() < 0.5 else r.randint(86_400, 3 * 86_400)
            part = event.minor if r.random() < 0.4 else max(1, event.minor * r.randint(10, 60) // 100)
            records.append(
                Transaction(
                    event, event.at + timedelta(seconds=later), "T1107", "S", -part, _refund_id(event, 1), sale_id
                )
            )
        records.append(Transaction(event, event.at, code, status, sign * event.minor, sale_id, reversed_at=reversed_at))
    return tuple(records)


def _refund_id(event: Event, n: int) -> str:
    return alnum_id("refund", event.account, event.key, n, length=17, upper=True)


def _detail(t: Transaction, status: str, refreshed: datetime, groups: tuple[str, ...]) -> dict[str, Any]:
    event = t.event
    updated = t.reversed_at if t.reversed_at is not None and t.reversed_at <= refreshed else t.at
    info: dict[str, Any] = {
        "paypal_account_id": alnum_id("payer", event.account, event.key, length=13, upper=True),
        "transaction_id": t.transaction_id,
    }
    if t.reference:
        info["paypal_reference_id"] = t.reference
        info["paypal_reference_id_type"] = "TXN"
    info.update(
        {
            "transaction_event_code": t.code,
            "transaction_initiation_date": _paypal_time(t.at),
            "transaction_updated_date": _paypal_time(updated),
            "transaction_amount": {"currency_code": event.currency, "value": fixed(t.minor, event.currency)},
            "transaction_status": status,
            "protection_eligibility": "01",
        }
    )
    if t.minor > 0:
        fee = -(event.minor * 349 // 10_000 + event.random("paypal").randint(0, 49))
        info["fee_amount"] = {"currency_code": event.currency, "value": fixed(fee, event.currency)}
        info["invoice_id"] = f"INV-{event.ordinal}"
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
    """`2024-05-01T10:00:00+00:00`: the spec's `date_time` pattern (`Z` or `+hh:mm`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


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
