"""Stripe: captured charges created in the window, net of refunds.

Endpoint: GET {base}/v1/charges?created[gte]=<unix start>&created[lt]=<unix end + 1>&limit=100
          [&starting_after=<id of the last charge on the previous page>]
          (`created` is in UTC unix seconds; `lt` one past the window end's second so the
          current second is in.)
Version:  `Stripe-Version: 2026-09-30.endive`, the version Stripe's API-versioning page
          named current when this adapter was written. Read the changelog before moving it.
Auth:     `Authorization: Bearer <secret or restricted key>`. When the connection's
          metadata has `"connect": true`, the key is a Connect platform's and
          `Stripe-Account: <platform_account_id>` makes it read that connected account.
Paging:   a list object `{"object": "list", "data": [...], "has_more": bool, "url": "/v1/charges"}`,
          newest first; follow `starting_after` while `has_more`.
Fields:   id, amount_captured, amount_refunded, captured, currency (lower-case ISO code),
          status ("succeeded" | "pending" | "failed").
Units:    integers in Stripe's smallest unit for the currency. That is the ISO 4217 minor
          unit except where Stripe's currency table says otherwise: its zero-decimal list
          (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF) is in major
          units, its three-decimal list (BHD JOD KWD OMR TND) in thousandths, and every
          other currency has two decimals — ISK among them (100 = 1 króna) although ISO
          gives it none. Amounts are converted exactly to the ISO minor unit.
Counts:   a charge with status "succeeded" and captured, contributing
          amount_captured - amount_refunded; a fully refunded charge (net 0) is not counted.
          Pending, failed and uncaptured (authorised only) charges are excluded.
Check:    `verify_credentials`: GET {base}/v1/charges?limit=1, the same permission the
          revenue fetch needs (a restricted key needs "Charges: read").
Errors:   401 (authentication_error) and 403 (permission) → auth; 429 (type
          "rate_limit_error" or code "rate_limit") → rate limited: `Retry-After` when sent,
          else 1 s when `Stripe-Should-Retry: true` (Stripe says a retry may succeed now),
          else 30 s; 5xx (api_error, after the session's retries) → upstream; 400
          invalid_request_error and any other status → upstream; non-JSON or schema
          violations → bad response.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from providers._common import MAX_PAGES, error_body, error_for_status, quote, rate_limited
from providers.base import (
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
        response = self.http.request(
            "GET",
            f"{self.base_url}/v1/charges",
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
        params: dict[str, Any] = {
            "created[gte]": int(ctx.window_start.timestamp()),
            "created[lt]": int(ctx.window_end.timestamp()) + 1,
            "limit": PAGE_SIZE,
        }
        amounts: dict[str, int] = {}
        count = 0
        for _ in range(MAX_PAGES):
            response = self.http.request(
                "GET",
                f"{self.base_url}/v1/charges",
                correlation_id=ctx.correlation_id,
                headers=headers,
                params=params,
                secrets=[ctx.access_token],
            )
            if not response.ok:
                raise self._error(response, ctx.access_token)
            charges, has_more = self._page(response)
            for charge in charges:
                counted = self._net(charge)
                if counted:
                    add_amount(amounts, *counted)
                    count += 1
            if not has_more:
                return RevenueResult(
                    source_key=self.key, kind=self.kind, amounts=amounts, count=count, as_of=datetime.now(UTC)
                )
            if not charges:
                raise ProviderBadResponse("has_more is true on an empty page", platform=self.key)
            params["starting_after"] = charges[-1]["id"]
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of charges", platform=self.key)

    def _page(self, response: HttpResponse) -> tuple[list[dict[str, Any]], bool]:
        body = response.json()
        if not isinstance(body, dict) or body.get("object") != "list":
            raise ProviderBadResponse("response is not a Stripe list object", platform=self.key)
        charges, has_more = body.get("data"), body.get("has_more")
        if not isinstance(charges, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) for c in charges
        ):
            raise ProviderBadResponse("list.data is not a list of objects with a string id", platform=self.key)
        if not isinstance(has_more, bool):
            raise ProviderBadResponse("list.has_more is missing", platform=self.key)
        return charges, has_more

    def _net(self, charge: dict[str, Any]) -> tuple[str, int] | None:
        """(ISO currency, net minor units) of a counted charge, else None."""
        where = f"charge {charge['id'][:40]}"
        try:
            if charge["status"] != "succeeded" or charge["captured"] is not True:
                return None
            currency = normalise_currency(charge["currency"])
            captured, refunded = _integer(charge, "amount_captured"), _integer(charge, "amount_refunded")
        except KeyError as exc:
            raise ProviderBadResponse(f"{where}: field {exc.args[0]!r} is missing", platform=self.key) from None
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(f"{where}: {exc.message}", platform=self.key) from None
        net = captured - refunded
        if net <= 0:
            return None
        try:
            minor = decimal_to_minor(Decimal(net).scaleb(-stripe_exponent(currency)), currency)
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(f"{where}: {exc.message}", platform=self.key) from None
        return currency, minor

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


def _integer(charge: dict[str, Any], field: str) -> int:
    value = charge[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProviderBadResponse(f"{field} {value!r} is not a non-negative integer")
    return value
