"""Stripe: money captured on the charges created in the window, net of refunds and lost
disputes.

Spec:     the calls, fields and statuses below are those of Stripe's published OpenAPI
          document (github.com/stripe/openapi, latest/openapi.spec3.json, version
          2026-07-29.dahlia); the subset this adapter relies on is vendored as
          tests/fixtures/specs/stripe.json (see stripe.SOURCE.md) and every request the
          adapter makes and every answer the simulator gives is checked against it
          (tests/conformance/test_stripe_conformance.py).
Charges:  GET {base}/v1/charges?created[gte]=<unix start>&created[lt]=<unix end + 1>&limit=100
          [&starting_after=<id of the last charge on the previous page>]
          (`created` is in UTC unix seconds; `lt` one past the window end's second so the
          current second is in.)
Disputes: GET {base}/v1/disputes?created[gte]=<unix start>&limit=100[&starting_after=<id>]
          (GetDisputes declares `created` like GetCharges, and `charge` for one charge at a
          time; the window's disputes come in one list instead of a call per charge.) A
          dispute is opened after its charge, so every dispute of a charge created in the
          window was created at or after the window start; disputes of older charges are in
          the list too and are ignored. Always read, so a refresh is two lists (the
          disputes' statuses are checked even when no charge is affected).
Version:  `Stripe-Version: 2026-09-30.endive`, the version Stripe's API-versioning page
          named current when this adapter was written. Read the changelog before moving it.
Auth:     `Authorization: Bearer <secret or restricted key>`. When the connection's
          metadata has `"connect": true`, the key is a Connect platform's and
          `Stripe-Account: <platform_account_id>` makes it read that connected account.
Paging:   a list object `{"object": "list", "data": [...], "has_more": bool, "url": ...}`
          (ChargeList / DisputeList), newest first; follow `starting_after` while `has_more`.
Fields:   charge: id, status (enum failed | pending | succeeded), captured, amount_captured
          ("can be less than the amount attribute on the charge if a partial capture was
          made"), amount_refunded ("can be less than the amount attribute on the charge if a
          partial refund was issued"), currency (lower-case ISO code).
          dispute: charge (the disputed charge's id; we never expand it), status (enum lost |
          needs_response | prevented | under_review | warning_closed | warning_needs_response
          | warning_under_review | won), amount ("Disputed amount. Usually the amount of the
          charge, but it can differ ... because only part of the order is disputed"),
          currency.
Counts:   per charge created in the window: amount_captured when status is "succeeded" and
          captured is true (else 0: pending, failed, authorised-but-uncaptured), minus
          amount_refunded (refunds made so far, whenever they were made), minus the amount of
          every LOST dispute on it (a lost chargeback takes the money back like a refund),
          never below 0. `count` is the number of charges left with a positive amount.
          A lost dispute is not inside amount_refunded, so subtracting both is not double:
          amount_refunded sums the charge's Refund objects (the `refunds` list, created by
          POST /v1/refunds), while a dispute moves money through its own balance
          transactions ("funds withdrawn and reinstated to your Stripe account as a result of
          this dispute", dispute.balance_transactions; the charge's balance_transaction is
          "not including refunds or disputes"). Where Stripe withdraws less because the
          charge was refunded first (dispute.is_charge_refundable: "After the payment has
          been fully refunded, no further funds are withdrawn ... as a result of this
          dispute"), the floor at 0 keeps the charge from counting twice against.
          Disputes in any other status (open, won, inquiries, prevented) take nothing off.
Units:    integers in Stripe's smallest unit for the currency. That is the ISO 4217 minor
          unit except where Stripe's currency table says otherwise: its zero-decimal list
          (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF) is in major
          units, its three-decimal list (BHD JOD KWD OMR TND) in thousandths, and every
          other currency has two decimals — ISK among them (100 = 1 króna) although ISO
          gives it none. Amounts are converted exactly to the ISO minor unit.
Basis:    `captured_minus_refunds_and_lost_disputes`, over the tenant's day (charges'
          `created` in the tenant's window). No reporting lag: a charge is listed when made.
Check:    `verify_credentials`: GET {base}/v1/charges?limit=1 and GET {base}/v1/disputes?limit=1,
          the two permissions the revenue fetch needs (a restricted key needs "Charges: read"
          and "Disputes: read").
Errors:   401 (authentication_error) and 403 (permission) → auth; 429 (type
          "rate_limit_error" or code "rate_limit") → rate limited: `Retry-After` when sent,
          else 1 s when `Stripe-Should-Retry: true` (Stripe says a retry may succeed now),
          else 30 s; 5xx (api_error, after the session's retries) → upstream; 400
          invalid_request_error and any other status → upstream; non-JSON, a charge or
          dispute with a missing or non-integer money field, an unknown currency, a status
          outside the spec's enum, or a dispute in another currency than its charge →
          bad response.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from providers._common import MAX_PAGES, error_body, error_for_status, quote, rate_limited
from providers.base import (
    Basis,
    CredentialCheck,
    CredentialCheckContext,
    ProviderContext,
    RevenueProvider,
    RevenueResult,
    SourceKind,
)
from providers.errors import ProviderBadResponse, ProviderError
from providers.http import HttpConfig, HttpResponse, ProviderHttp
from providers.money import add_amount, decimal_to_minor, normalise_currency

API_VERSION = "2026-09-30.endive"
DEFAULT_BASE_URL = "https://api.stripe.com"
PAGE_SIZE = 100
SHOULD_RETRY_WAIT = 1

ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
MEASURE = "captured_minus_refunds_and_lost_disputes"
# The spec's enums (components/schemas/charge.status, dispute.status): anything else is a
# bad response, never silently 0.
CHARGE_STATUSES = frozenset({"failed", "pending", "succeeded"})
DISPUTE_STATUSES = frozenset(
    {
        "lost",
        "needs_response",
        "prevented",
        "under_review",
        "warning_closed",
        "warning_needs_response",
        "warning_under_review",
        "won",
    }
)


def stripe_exponent(currency: str) -> int:
    """Decimal places of Stripe's amount unit for an (upper-case) currency."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


class StripeProvider(RevenueProvider):
    key = "stripe"
    name = "Stripe"
    kind = SourceKind.SALES

    def __init__(self, *, base_url: str = DEFAULT_BASE_URL, **http_options: Any) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        config = HttpConfig.from_options(getattr(settings, "PROVIDER_HTTP", None), **http_options)
        self.http = ProviderHttp(platform=self.key, config=config)

    def _headers(self, token: str, account_id: str, metadata: Any) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Stripe-Version": API_VERSION}
        if metadata.get("connect") is True:
            headers["Stripe-Account"] = account_id
        return headers

    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        token = ctx.access_token or ""
        # Both lists the revenue fetch reads: a restricted key without "Disputes: read" would
        # connect and then fail every refresh.
        for path in ("/v1/charges", "/v1/disputes"):
            response = self.http.request(
                "GET",
                f"{self.base_url}{path}",
                correlation_id=ctx.correlation_id,
                headers=self._headers(token, ctx.platform_account_id, ctx.connection_metadata),
                params={"limit": 1},
                secrets=[token],
            )
            if not response.ok:
                raise self._error(response, token)
            self._page(response)
        return CredentialCheck()

    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        headers = self._headers(ctx.access_token, ctx.platform_account_id, ctx.connection_metadata)
        start = int(ctx.window_start.timestamp())
        charges = self._list(
            ctx,
            "/v1/charges",
            headers,
            {"created[gte]": start, "created[lt]": int(ctx.window_end.timestamp()) + 1, "limit": PAGE_SIZE},
        )
        # charge id → [ISO currency, Stripe-unit amount still counted]
        nets: dict[str, list[Any]] = {}
        for charge in charges:
            currency, net = self._net(charge)
            nets[charge["id"]] = [currency, net]
        for dispute in self._list(ctx, "/v1/disputes", headers, {"created[gte]": start, "limit": PAGE_SIZE}):
            lost = self._lost(dispute)
            entry = nets.get(lost[0]) if lost else None
            if lost and entry:
                if lost[1] != entry[0]:
                    raise ProviderBadResponse(
                        f"dispute {dispute['id'][:40]} is in {lost[1]}, its charge in {entry[0]}", platform=self.key
                    )
                entry[1] -= lost[2]
        amounts: dict[str, int] = {}
        count = 0
        for charge_id, (currency, net) in nets.items():
            if net <= 0:
                continue
            try:
                minor = decimal_to_minor(Decimal(net).scaleb(-stripe_exponent(currency)), currency)
            except ProviderBadResponse as exc:
                raise ProviderBadResponse(f"charge {charge_id[:40]}: {exc.message}", platform=self.key) from None
            add_amount(amounts, currency, minor)
            count += 1
        return self.result(
            amounts=amounts,
            count=count,
            basis=Basis.of_window(ctx, MEASURE),
        )

    def _list(
        self, ctx: ProviderContext, path: str, headers: dict[str, str], params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Every object of a Stripe list, following `starting_after` while `has_more`."""
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = self.http.request(
                "GET",
                f"{self.base_url}{path}",
                correlation_id=ctx.correlation_id,
                headers=headers,
                params=params,
                secrets=[ctx.access_token],
            )
            if not response.ok:
                raise self._error(response, ctx.access_token)
            page, has_more = self._page(response)
            found += page
            if not has_more:
                return found
            if not page:
                raise ProviderBadResponse(f"{path}: has_more is true on an empty page", platform=self.key)
            params = {**params, "starting_after": page[-1]["id"]}
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of {path}", platform=self.key)

    def _page(self, response: HttpResponse) -> tuple[list[dict[str, Any]], bool]:
        body = response.json()
        if not isinstance(body, dict) or body.get("object") != "list":
            raise ProviderBadResponse("response is not a Stripe list object", platform=self.key)
        data, has_more = body.get("data"), body.get("has_more")
        if not isinstance(data, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in data):
            raise ProviderBadResponse("list.data is not a list of objects with a string id", platform=self.key)
        if not isinstance(has_more, bool):
            raise ProviderBadResponse("list.has_more is missing", platform=self.key)
        return data, has_more

    def _net(self, charge: dict[str, Any]) -> tuple[str, int]:
        """(ISO currency, captured minus refunded in Stripe's unit) of a charge; 0 when nothing
        was captured for good (pending, failed, uncaptured)."""
        where = f"charge {charge['id'][:40]}"
        try:
            status = charge["status"]
            if status not in CHARGE_STATUSES:
                raise ProviderBadResponse(f"unknown status {quote(status)!r}")
            captured_flag = charge["captured"]
            if not isinstance(captured_flag, bool):
                raise ProviderBadResponse(f"captured {captured_flag!r} is not a boolean")
            currency = normalise_currency(charge["currency"])
            captured, refunded = _integer(charge, "amount_captured"), _integer(charge, "amount_refunded")
        except KeyError as exc:
            raise ProviderBadResponse(f"{where}: field {exc.args[0]!r} is missing", platform=self.key) from None
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(f"{where}: {exc.message}", platform=self.key) from None
        if status != "succeeded" or not captured_flag:
            return currency, 0
        return currency, captured - refunded

    def _lost(self, dispute: dict[str, Any]) -> tuple[str, str, int] | None:
        """(charge id, ISO currency, amount in Stripe's unit) of a lost dispute, else None."""
        where = f"dispute {dispute['id'][:40]}"
        try:
            status = dispute["status"]
            if status not in DISPUTE_STATUSES:
                raise ProviderBadResponse(f"unknown status {quote(status)!r}")
            charge = dispute["charge"]
            if not isinstance(charge, str):
                raise ProviderBadResponse("charge is not a charge id")
            if status != "lost":
                return None
            return charge, normalise_currency(dispute["currency"]), _integer(dispute, "amount")
        except KeyError as exc:
            raise ProviderBadResponse(f"{where}: field {exc.args[0]!r} is missing", platform=self.key) from None
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(f"{where}: {exc.message}", platform=self.key) from None

    def _error(self, response: HttpResponse, token: str) -> ProviderError:
        error = error_body(response).get("error")
        error = error if isinstance(error, dict) else {}
        kind = "/".join(str(error[k])[:60] for k in ("type", "code") if isinstance(error.get(k), str))
        if response.status in (401, 403):
            # Stripe's text echoes the (masked) key: name the error type only.
            return error_for_status(response, detail=kind)
        detail = " ".join(filter(None, (kind, quote(error.get("message"), [token]))))
        if response.status == 429 or error.get("type") == "rate_limit_error" or error.get("code") == "rate_limit":
            should_retry = response.headers.get("Stripe-Should-Retry", "").lower() == "true"
            return rate_limited(response, detail=detail, retry_after=SHOULD_RETRY_WAIT if should_retry else None)
        return error_for_status(response, detail=detail)


def _integer(record: dict[str, Any], field: str) -> int:
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProviderBadResponse(f"{field} {value!r} is not a non-negative integer")
    return value
