"""Simulated Stripe: GET /v1/charges.

Auth: `Authorization: Bearer <secret key>` (or Basic with the key as user name). The
simulator also insists on a `Stripe-Version` header (real Stripe falls back to the
account's default version; an adapter must pin one). `Stripe-Account: acct_...` names a
Connect account; without it the account is the key's own, named `acct_self_<hash>`.

Query: created[gte|gt|lte|lt] (unix seconds), created=<unix>, limit (1..100, default 10),
starting_after / ending_before (a charge id). The list is newest first, like Stripe's:
{"object":"list","data":[charge...],"has_more":bool,"url":"/v1/charges"}.

Charges that must not be counted: failed, fully refunded, authorized-but-uncaptured,
pending (and partially refunded ones count net of the refund).

Stripe Connect OAuth (connect.stripe.com on the real platform; see `oauth` for what the
authorization servers share):
GET  /oauth/authorize?response_type=code&client_id=ca_…&scope=read_only|read_write
     &redirect_uri&state → 302 redirect_uri?scope&code=ac_…&state (or error=access_denied).
     No PKCE (Stripe Connect has none).
POST /oauth/token, the platform's secret key (Basic user, Bearer, or `client_secret`),
     form grant_type=authorization_code&code → {access_token, refresh_token, token_type,
     stripe_publishable_key, stripe_user_id, scope, livemode}. The access token is the
     connected account's own key: /v1/charges reads that account with it.
POST /oauth/deauthorize, the secret key, form client_id&stripe_user_id →
     {"stripe_user_id"}; every token of that connection is refused from then on.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from providers.sandbox import oauth
from providers.sandbox.core import (
    BadRequest,
    Call,
    Encoded,
    Platform,
    Request,
    Response,
    mint_token,
    read_token,
    request_id,
    retry_after_header,
    route,
)
from providers.sandbox.data import Event, Profile, alnum_id, derived_account, events_between

PROFILE = Profile(
    counted=(("paid", 17), ("partially_refunded", 3)),
    excluded=("failed", "refunded", "uncaptured", "pending"),
    multi_currency=True,
)
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z_]+)?$")
_KNOWN_PARAMS = re.compile(
    r"^(created(\[(gte|gt|lte|lt)\])?|limit|starting_after|ending_before|customer|payment_intent|"
    r"transfer_group|expand\[\d*\])$"
)


OAUTH_TOKEN_PREFIX = "sk_test_oauth_"
NEVER = datetime(2100, 1, 1, tzinfo=UTC)  # Connect access tokens do not expire


class Stripe(Platform):
    key = "stripe"
    routes = (
        route("GET", r"/v1/charges", "list_charges"),
        route("GET", r"/oauth/authorize", "authorize", endpoint="authorize"),
        route("POST", r"/oauth/token", "oauth_token", endpoint="token"),
        route("POST", r"/oauth/deauthorize", "deauthorize", endpoint="revoke"),
    )

    def account(self, request: Request, endpoint: str) -> str:
        if endpoint == "authorize":
            return request.arg("client_id") or "unknown-client"
        if endpoint == "token":
            return "platform"
        if endpoint == "revoke":
            return request.form().get("stripe_user_id") or "unknown-account"
        connected = request.header("Stripe-Account")
        if connected:
            return connected
        key = _key(request)
        minted = read_token(key, OAUTH_TOKEN_PREFIX) if key else None
        if minted:
            return minted[0].partition("|")[2]
        return derived_account("acct_self_", key) if key else "acct_anonymous"

    def default_headers(self) -> list[tuple[str, str]]:
        return [("Request-Id", request_id("req_"))]

    # --- the endpoint ---------------------------------------------------------------------
    def list_charges(self, request: Request, call: Call) -> Response:
        key = _key(request)
        if not key:
            return _error(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if call.state.is_revoked(self.key, key):
            return _error(401, f"Invalid API Key provided: {_mask(key)}")
        version = request.header("Stripe-Version")
        if not version:
            return _error(400, "Stripe-Version header is required by the simulator: pin an API version.")
        if not _VERSION.match(version):
            return _error(400, f"Invalid Stripe API version: {version}")
        for name in request.query:
            if not _KNOWN_PARAMS.match(name):
                raise BadRequest(f"Received unknown parameter: {name}", param=name)

        bounds = {op: _int_param(request, f"created[{op}]") for op in ("gte", "gt", "lte", "lt")}
        exact = _int_param(request, "created")
        limit = _int_param(request, "limit")
        limit = 10 if limit is None else limit
        if not 1 <= limit <= 100:
            raise BadRequest("This value must be between 1 and 100.", param="limit")

        account = self.account(request, "data")
        # Only the days the bounds can reach are generated (a new account has 90 days).
        low = next((bounds[op] for op in ("gte", "gt") if bounds[op] is not None), exact)
        high = next((bounds[op] + 1 for op in ("lt", "lte") if bounds[op] is not None), None)
        if exact is not None:
            high = exact + 1
        events = [
            e
            for e in events_between(self.key, account, PROFILE, _instant(low), _instant(high), call.now)
            if _created_matches(int(e.at.timestamp()), bounds, exact)
        ]
        events.reverse()  # newest first, as Stripe lists
        lo, hi, has_more = _page([_charge_id(e) for e in events], request, call.state.page_size(limit))
        live = key.startswith(("sk_live_", "rk_live_"))
        page = [_charge_encoded(e, live=live) for e in events[lo:hi]]
        return Response.json(200, {"object": "list", "data": page, "has_more": has_more, "url": "/v1/charges"})

    # --- Connect OAuth ------------------------------------------------------------------------
    def authorize(self, request: Request, call: Call) -> Response:
        try:
            client_id, redirect_uri, state = oauth.authorize_request(request, call, self.key, pkce=False)
        except oauth.AuthorizeRefused as refused:
            return oauth.error_page(400, refused.args[0])
        if request.arg("response_type") != "code":
            return oauth.redirect(
                redirect_uri,
                {"error": "invalid_request", "state": state, "error_description": "response_type must be code"},
            )
        scope = request.arg("scope") or "read_only"
        if scope not in ("read_only", "read_write"):
            return oauth.redirect(
                redirect_uri, {"error": "invalid_scope", "state": state, "error_description": f"Invalid scope: {scope}"}
            )
        consent = call.state.consent(self.key)
        if consent.deny:
            return oauth.redirect(
                redirect_uri,
                {"error": "access_denied", "state": state, "error_description": "The user denied your request"},
            )
        accounts = consent.accounts or (f"acct_1Sbx{alnum_id('stripe-consent', client_id, length=12)}",)
        code = oauth.issue_code(
            call,
            prefix="ac_",
            platform=self.key,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            accounts=accounts[:1],
        )
        return oauth.redirect(redirect_uri, {"scope": scope, "code": code, "state": state})

    def oauth_token(self, request: Request, call: Call) -> Response:
        form = request.form()
        secret = _key(request) or form.get("client_secret")
        client_id = call.state.app_by_secret(self.key, secret)
        if client_id is None:
            return _oauth_error(401, "invalid_client", "No such API key: the platform's secret key was not recognised.")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {form.get('grant_type')}")
        record, why = oauth.redeem(call, self.key, form.get("code"), client_id)
        if record is None:
            return _oauth_error(400, "invalid_grant", why)
        account = record.accounts[0]
        parent = f"{client_id}|{account}"
        access_token = mint_token(OAUTH_TOKEN_PREFIX, parent, NEVER)
        refresh_token = "rt_" + alnum_id("stripe-rt", access_token, length=40)
        for token in (access_token, refresh_token):
            call.state.remember_issued(self.key, parent, token)
        oauth.new_grant(call, record, refresh_token=refresh_token)
        return Response.json(
            200,
            {
                "access_token": access_token,
                "livemode": False,
                "refresh_token": refresh_token,
                "token_type": "bearer",
                "stripe_publishable_key": "pk_test_" + alnum_id("stripe-pk", account, length=24),
                "stripe_user_id": account,
                "scope": record.scope,
            },
        )

    def deauthorize(self, request: Request, call: Call) -> Response:
        form = request.form()
        secret = _key(request) or form.get("client_secret")
        client_id = call.state.app_by_secret(self.key, secret)
        account = form.get("stripe_user_id") or ""
        if client_id is None or form.get("client_id") != client_id:
            return _oauth_error(401, "invalid_client", "No such application: the client_id does not match the key.")
        parent = f"{client_id}|{account}"
        if not call.state.issued_from(self.key, parent):
            return _oauth_error(
                401,
                "invalid_client",
                f"This application is not connected to stripe account {account}, or that account does not exist.",
            )
        call.state.revoke(self.key, parent)
        return Response.json(200, {"stripe_user_id": account})

    # --- errors -----------------------------------------------------------------------------
    def bad_request(self, error: BadRequest, request: Request) -> Response:
        code = "resource_missing" if error.message.startswith("No such") else "parameter_invalid_integer"
        if error.message.startswith("Received unknown"):
            code = "parameter_unknown"
        return _error(400, error.message, code=code, param=error.param)

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        if kind == "401":
            return _error(401, f"Invalid API Key provided: {_mask(_key(request) or '')}")
        if kind == "403":
            return _error(
                403,
                "The provided key does not have the required permissions for this endpoint. "
                "Having the 'rak_charge_read' permission would allow this request to continue.",
            )
        if kind in ("429", "429_date", "throttled"):
            headers = [("Stripe-Should-Retry", "true")]
            if kind != "throttled":  # Stripe's own 429s usually carry no Retry-After
                headers.append(("Retry-After", retry_after_header(kind, retry_after, default=2)))
            return _error(
                429,
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
                headers=headers,
            )
        status = int(kind)
        headers = [("Stripe-Should-Retry", "true")]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return _error(status, "An unknown error occurred", error_type="api_error", headers=headers)


def _instant(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _key(request: Request) -> str | None:
    bearer = request.bearer()
    if bearer:
        return bearer
    basic = request.basic()
    return basic[0] or None if basic else None


def _mask(key: str) -> str:
    prefix = key[:8] if key.startswith(("sk_", "rk_")) else ""
    return prefix + "*" * 12


def _int_param(request: Request, name: str) -> int | None:
    value = request.arg(name)
    if value is None:
        return None
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise BadRequest(f"Invalid integer: {value}", param=name)
    return int(value)


def _created_matches(created: int, bounds: dict[str, int | None], exact: int | None) -> bool:
    checks = (
        (bounds["gte"], lambda b: created >= b),
        (bounds["gt"], lambda b: created > b),
        (bounds["lte"], lambda b: created <= b),
        (bounds["lt"], lambda b: created < b),
        (exact, lambda b: created == b),
    )
    return all(bound is None or test(bound) for bound, test in checks)


def _page(ids: list[str], request: Request, limit: int) -> tuple[int, int, bool]:
    """The slice of `ids` a page covers, and has_more."""
    after, before = request.arg("starting_after"), request.arg("ending_before")
    if after:
        if after not in ids:
            raise BadRequest(f"No such charge: '{after}'", param="starting_after")
        lo = ids.index(after) + 1
        return lo, min(len(ids), lo + limit), len(ids) - lo > limit
    if before:
        if before not in ids:
            raise BadRequest(f"No such charge: '{before}'", param="ending_before")
        hi = ids.index(before)
        return max(0, hi - limit), hi, hi > limit
    return 0, min(len(ids), limit), len(ids) > limit


@functools.lru_cache(maxsize=65_536)
def _charge_id(event: Event) -> str:
    return "ch_3" + alnum_id(event.platform, event.account, event.key, length=23)


@functools.lru_cache(maxsize=65_536)  # a charge never changes once made: encoded once
def _charge_encoded(event: Event, *, live: bool) -> Encoded:
    return Encoded.of(_charge(event, live=live))


def _charge(event: Event, *, live: bool) -> dict[str, Any]:
    r = event.random("stripe")
    amount = event.minor
    captured = event.kind not in ("failed", "uncaptured")
    refunded = {
        "refunded": amount,
        "partially_refunded": max(1, amount * r.randint(10, 60) // 100),
    }.get(event.kind, 0)
    status = {"failed": "failed", "pending": "pending"}.get(event.kind, "succeeded")
    failed = event.kind == "failed"
    return {
        "id": _charge_id(event),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "amount_refunded": refunded,
        "balance_transaction": None if failed else "txn_3" + alnum_id("txn", event.account, event.key, length=23),
        "captured": captured,
        "created": int(event.at.timestamp()),
        "currency": event.currency.lower(),
        "description": None,
        "failure_code": "card_declined" if failed else None,
        "failure_message": "Your card was declined." if failed else None,
        "livemode": live,
        "metadata": {},
        "outcome": {
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "type": "issuer_declined" if failed else "authorized",
        },
        "paid": status == "succeeded",
        "payment_intent": "pi_3" + alnum_id("pi", event.account, event.key, length=23),
        "refunded": event.kind == "refunded",
        "status": status,
    }


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


def _error(
    status: int,
    message: str,
    *,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": error_type}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return Response.json(status, {"error": error}, headers or [])
