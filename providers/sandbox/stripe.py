"""Simulated Stripe: GET /v1/charges and GET /v1/disputes.

Auth: `Authorization: Bearer <secret key>` (or Basic with the key as user name). The
simulator also insists on a `Stripe-Version` header (real Stripe falls back to the
account's default version; an adapter must pin one). `Stripe-Account: acct_...` names a
Connect account; without it the account is the key's own, named `acct_self_<hash>`.

Query (both lists): created[gte|gt|lte|lt] (unix seconds), created=<unix>, limit (1..100,
default 10), starting_after / ending_before (an id of the list); /v1/disputes also takes
`charge`. Lists are newest first, like Stripe's:
{"object":"list","data":[...],"has_more":bool,"url":"/v1/charges"}. Objects carry every
field Stripe's published spec requires (tests/fixtures/specs/stripe.json, checked by
tests/conformance/test_stripe_conformance.py).

What happens to a charge, deterministically per (account, day, charge):
- failed; pending (captured, not succeeded); authorised but uncaptured (captured=false);
  partially captured (amount_captured < amount);
- refunded in full or in part minutes or days AFTER the charge: `amount_refunded` grows
  only once the refund's moment has passed on the simulated clock;
- disputed: a dispute opened minutes to days after the charge (`disputed` turns true then),
  whose status moves with the clock along one of DISPUTE_PATHS — lost (the merchant
  accepts it), won, still open, or an inquiry (warning_*) that closes without a chargeback.
  A lost dispute does not change the charge's `amount_refunded` (a dispute is not a refund).

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
from datetime import UTC, datetime, timedelta
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
    counted=(("paid", 14), ("partially_refunded", 3), ("partially_captured", 1), ("disputed", 2)),
    excluded=("failed", "refunded", "uncaptured", "pending"),
    multi_currency=True,
)
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z_]+)?$")
_CREATED = r"created(\[(gte|gt|lte|lt)\])?"
# The query parameters each list operation declares (stripe/openapi, GET /v1/charges and /v1/disputes).
_KNOWN_PARAMS = re.compile(
    rf"^({_CREATED}|limit|starting_after|ending_before|customer|payment_intent|transfer_group|expand\[\d*\])$"
)
_KNOWN_DISPUTE_PARAMS = re.compile(
    rf"^({_CREATED}|limit|starting_after|ending_before|charge|payment_intent|expand\[\d*\])$"
)
# A dispute is opened after its charge: within hours (a fraud alert, an impatient customer) or
# days later (seconds after the charge, ranges to draw from).
DISPUTE_DELAYS = ((20 * 60, 3 * 3600), (86_400, 3 * 86_400))
LONGEST_DISPUTE_DELAY = timedelta(seconds=3 * 86_400)
# How each simulated dispute ends, and when (seconds after it was opened) its status moves.
# `lost`: the merchant accepts the chargeback; `won`: evidence wins after review; `open`:
# still being reviewed; `inquiry`: a pre-dispute inquiry that closes without a chargeback.
DISPUTE_PATHS = {
    "lost": (("needs_response", 0), ("lost", 30 * 60)),
    "won": (("needs_response", 0), ("under_review", 30 * 60), ("won", 86_400)),
    "open": (("needs_response", 0), ("under_review", 2 * 3600)),
    "inquiry": (("warning_needs_response", 0), ("warning_under_review", 3600), ("warning_closed", 86_400)),
}
DISPUTE_OUTCOMES = (("lost", 4), ("won", 2), ("open", 2), ("inquiry", 2))


OAUTH_TOKEN_PREFIX = "sk_test_oauth_"
NEVER = datetime(2100, 1, 1, tzinfo=UTC)  # Connect access tokens do not expire


class Stripe(Platform):
    key = "stripe"
    routes = (
        route("GET", r"/v1/charges", "list_charges"),
        route("GET", r"/v1/disputes", "list_disputes"),
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

    # --- the list endpoints ---------------------------------------------------------------
    def list_charges(self, request: Request, call: Call) -> Response:
        refused = self._refused(request, call, _KNOWN_PARAMS)
        if refused is not None:
            return refused
        bounds, exact, limit = _list_params(request)
        account = self.account(request, "data")
        live = _live(request)
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
        lo, hi, has_more = _page([_charge_id(e) for e in events], request, call.state.page_size(limit), "charge")
        page = [_charge_encoded(e, live=live, **_charge_state(e, call.now)) for e in events[lo:hi]]
        return Response.json(200, {"object": "list", "data": page, "has_more": has_more, "url": "/v1/charges"})

    def list_disputes(self, request: Request, call: Call) -> Response:
        refused = self._refused(request, call, _KNOWN_DISPUTE_PARAMS)
        if refused is not None:
            return refused
        bounds, exact, limit = _list_params(request)
        account = self.account(request, "data")
        live = _live(request)
        # A dispute is opened after its charge: charges from LONGEST_DISPUTE_DELAY before the
        # lower bound on can have a dispute inside the bounds.
        low = next((bounds[op] for op in ("gte", "gt") if bounds[op] is not None), exact)
        start = _instant(low) - LONGEST_DISPUTE_DELAY if low is not None else None
        disputes = []
        for event in events_between(self.key, account, PROFILE, start, None, call.now):
            opened = _dispute_opened(event)
            if opened is None or opened > call.now:
                continue
            if _created_matches(int(opened.timestamp()), bounds, exact) and request.arg("charge") in (
                None,
                _charge_id(event),
            ):
                disputes.append((opened, event))
        disputes.sort(key=lambda d: (d[0], d[1].ordinal), reverse=True)  # newest first
        lo, hi, has_more = _page([_dispute_id(e) for _, e in disputes], request, call.state.page_size(limit), "dispute")
        page = [_dispute(e, opened, call.now, live=live) for opened, e in disputes[lo:hi]]
        return Response.json(200, {"object": "list", "data": page, "has_more": has_more, "url": "/v1/disputes"})

    def _refused(self, request: Request, call: Call, known: re.Pattern[str]) -> Response | None:
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
            if not known.match(name):
                raise BadRequest(f"Received unknown parameter: {name}", param=name)
        return None

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


def _list_params(request: Request) -> tuple[dict[str, int | None], int | None, int]:
    bounds = {op: _int_param(request, f"created[{op}]") for op in ("gte", "gt", "lte", "lt")}
    exact = _int_param(request, "created")
    limit = _int_param(request, "limit")
    limit = 10 if limit is None else limit
    if not 1 <= limit <= 100:
        raise BadRequest("This value must be between 1 and 100.", param="limit")
    return bounds, exact, limit


def _live(request: Request) -> bool:
    return (_key(request) or "").startswith(("sk_live_", "rk_live_"))


def _page(ids: list[str], request: Request, limit: int, noun: str) -> tuple[int, int, bool]:
    """The slice of `ids` a page covers, and has_more."""
    after, before = request.arg("starting_after"), request.arg("ending_before")
    if after:
        if after not in ids:
            raise BadRequest(f"No such {noun}: '{after}'", param="starting_after")
        lo = ids.index(after) + 1
        return lo, min(len(ids), lo + limit), len(ids) - lo > limit
    if before:
        if before not in ids:
            raise BadRequest(f"No such {noun}: '{before}'", param="ending_before")
        hi = ids.index(before)
        return max(0, hi - limit), hi, hi > limit
    return 0, min(len(ids), limit), len(ids) > limit


# --- charges, their refunds and disputes --------------------------------------------------------
#
# A charge's amount and capture are fixed when it is made; what changes later is refunded
# money (`amount_refunded` grows when a refund is made, minutes or days after the charge)
# and the dispute flag (`disputed` once a dispute is opened). So a charge is encoded per
# (event, refunded so far, disputed yet).


@functools.lru_cache(maxsize=65_536)
def _charge_id(event: Event) -> str:
    return "ch_3" + alnum_id(event.platform, event.account, event.key, length=23)


@functools.lru_cache(maxsize=65_536)
def _refund_plan(event: Event) -> tuple[datetime, int] | None:
    """(when, how much) a refunded charge is refunded; None for the others."""
    if event.kind not in ("refunded", "partially_refunded"):
        return None
    r = event.random("stripe-refund")
    if event.kind == "refunded":
        return event.at + timedelta(minutes=r.randint(5, 90)), event.minor
    # Partial refunds: most the same day, some a day or two later (a return after delivery).
    later = r.random() < 0.3
    delay = timedelta(seconds=r.randint(86_400, 2 * 86_400)) if later else timedelta(minutes=r.randint(10, 240))
    return event.at + delay, max(1, event.minor * r.randint(10, 60) // 100)


def _captured(event: Event) -> int:
    if event.kind in ("failed", "uncaptured"):
        return 0
    if event.kind == "partially_captured":
        # An authorisation captured for less (an item out of stock); Stripe releases the rest.
        return max(1, event.minor * event.random("stripe-capture").randint(40, 90) // 100)
    return event.minor


def _charge_state(event: Event, now: datetime) -> dict[str, Any]:
    plan = _refund_plan(event)
    opened = _dispute_opened(event)
    return {
        "refunded": plan[1] if plan and plan[0] <= now else 0,
        "disputed": opened is not None and opened <= now,
    }


@functools.lru_cache(maxsize=65_536)
def _charge_encoded(event: Event, *, live: bool, refunded: int, disputed: bool) -> Encoded:
    return Encoded.of(_charge(event, live=live, refunded=refunded, disputed=disputed))


def _charge(event: Event, *, live: bool, refunded: int = 0, disputed: bool = False) -> dict[str, Any]:
    amount = event.minor
    captured = _captured(event)
    status = {"failed": "failed", "pending": "pending"}.get(event.kind, "succeeded")
    failed = event.kind == "failed"
    card = {"brand": "visa", "country": "US", "exp_month": 3, "exp_year": 2031, "funding": "credit"}
    return {
        "id": _charge_id(event),
        "object": "charge",
        "amount": amount,
        "amount_captured": captured,
        "amount_refunded": refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None if failed else "txn_3" + alnum_id("txn", event.account, event.key, length=23),
        "billing_details": {
            "address": {k: None for k in ("city", "country", "line1", "line2", "postal_code", "state")},
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "SKELDIR SANDBOX",
        # Uncaptured (authorised only) and failed charges have captured=false; a pending
        # (asynchronous, e.g. a bank debit) charge is captured but has not succeeded yet.
        "captured": captured > 0,
        "created": int(event.at.timestamp()),
        "currency": event.currency.lower(),
        "customer": None,
        "description": None,
        "disputed": disputed,
        "failure_balance_transaction": None,
        "failure_code": "card_declined" if failed else None,
        "failure_message": "Your card was declined." if failed else None,
        "fraud_details": {},
        "livemode": live,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": {
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details." if failed else "Payment complete.",
            "type": "issuer_declined" if failed else "authorized",
        },
        # `paid`: succeeded, or authorised for a later capture.
        "paid": status == "succeeded",
        "payment_intent": "pi_3" + alnum_id("pi", event.account, event.key, length=23),
        "payment_method": "pm_1" + alnum_id("pm", event.account, event.key, length=23),
        "payment_method_details": {"card": {**card, "last4": "4242", "network": "visa"}, "type": "card"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": captured > 0 and refunded >= captured,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


@functools.lru_cache(maxsize=65_536)
def _dispute_plan(event: Event) -> tuple[datetime, str, int, str] | None:
    """(opened at, outcome, disputed amount, reason) of a disputed charge; None for the others."""
    if event.kind != "disputed":
        return None
    r = event.random("stripe-dispute")
    lo, hi = DISPUTE_DELAYS[0] if r.random() < 0.6 else DISPUTE_DELAYS[1]
    outcome = r.choices([o for o, _ in DISPUTE_OUTCOMES], [w for _, w in DISPUTE_OUTCOMES])[0]
    # Usually the whole charge; sometimes only part of the order is disputed.
    amount = event.minor if r.random() < 0.75 else max(1, event.minor * r.randint(30, 90) // 100)
    reason = "fraudulent" if outcome != "inquiry" else "general"
    return event.at + timedelta(seconds=r.randint(lo, hi)), outcome, amount, reason


def _dispute_opened(event: Event) -> datetime | None:
    plan = _dispute_plan(event)
    return plan[0] if plan else None


def _dispute_id(event: Event) -> str:
    return "dp_1" + alnum_id("dispute", event.account, event.key, length=23)


def _dispute_status(outcome: str, since: float) -> str:
    status = DISPUTE_PATHS[outcome][0][0]
    for name, after in DISPUTE_PATHS[outcome]:
        if since >= after:
            status = name
    return status


def _dispute(event: Event, opened: datetime, now: datetime, *, live: bool) -> dict[str, Any]:
    _, outcome, amount, reason = _dispute_plan(event)  # type: ignore[misc]
    status = _dispute_status(outcome, (now - opened).total_seconds())
    inquiry = outcome == "inquiry"
    currency = event.currency.lower()
    created = int(opened.timestamp())
    # A chargeback withdraws the disputed amount when it is opened and reinstates it when
    # won; an inquiry moves no money.
    moves = [] if inquiry else [("withdrawn", -amount, created)]
    if status == "won":
        moves.append(("reinstated", amount, created + 86_400))
    transactions = [
        {
            "id": "txn_1" + alnum_id("dispute-txn", event.account, event.key, what, length=23),
            "object": "balance_transaction",
            "amount": value,
            "created": at,
            "currency": currency,
            "reporting_category": "dispute" if value < 0 else "dispute_reversal",
            "type": "adjustment",
        }
        for what, value, at in moves
    ]
    evidence_fields = (
        "access_activity_log billing_address cancellation_policy cancellation_policy_disclosure "
        "cancellation_rebuttal customer_communication customer_email_address customer_name customer_purchase_ip "
        "customer_signature duplicate_charge_documentation duplicate_charge_explanation duplicate_charge_id "
        "product_description receipt refund_policy refund_policy_disclosure refund_refusal_explanation service_date "
        "service_documentation shipping_address shipping_carrier shipping_date shipping_documentation "
        "shipping_tracking_number uncategorized_file uncategorized_text"
    ).split()
    return {
        "id": _dispute_id(event),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": transactions,
        "charge": _charge_id(event),
        "created": created,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": {**dict.fromkeys(evidence_fields), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": created + 7 * 86_400,
            "enhanced_eligibility": {},
            "has_evidence": outcome == "won",
            "past_due": False,
            "submission_count": 1 if outcome == "won" and status != "needs_response" else 0,
        },
        "is_charge_refundable": inquiry,
        "livemode": live,
        "metadata": {},
        "payment_intent": "pi_3" + alnum_id("pi", event.account, event.key, length=23),
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "case_type": "inquiry" if inquiry else "chargeback",
                "network": "visa",
                "network_reason_code": "10.4" if reason == "fraudulent" else "13.1",
            },
            "type": "card",
        },
        "reason": reason,
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
