"""PayPal: completed incoming payments from the Transaction Search (reporting) API.

Endpoint: GET {base}/v1/reporting/transactions?start_date=<RFC 3339 UTC>&end_date=<RFC 3339 UTC>
          &transaction_status=S&fields=transaction_info&page_size=500&page=<n>
          Dates are sent as `YYYY-MM-DDTHH:MM:SSZ` (the API requires seconds). The API
          accepts at most 31 days per query: a longer window is split into consecutive
          ranges of at most 31 days that share their boundary second. The API lags real
          time (PayPal: up to three hours before a transaction is listed), so "today" is
          always somewhat behind; nothing here can shorten that.
Version:  v1 is in the path; the API has no version header.
Auth:     `Authorization: Bearer <access token>`. Tokens expire (about nine hours), so
          `supports_token_refresh` is set and `refresh_token` runs the client-credentials
          grant: POST {base}/v1/oauth2/token, HTTP Basic client_id:client_secret (stored as
          the connection's "refresh token" in the form `client_id:client_secret`), form
          `grant_type=client_credentials` → {access_token, token_type, expires_in, scope}.
          PayPal does not rotate the credentials, so no new refresh token is returned.
Paging:   {"transaction_details": [...], "page": n, "total_items": N, "total_pages": M};
          follow `page` to `total_pages` (which may be 0 with an empty list).
Fields:   transaction_details[].transaction_info: transaction_id, transaction_event_code,
          transaction_status, transaction_amount {currency_code, value}. `value` is a
          decimal string in major units ("12.50", "-3.00"), converted exactly.
Counts:   status "S" (completed; "V" means reversed/refunded, "P" pending, "D" denied),
          a positive amount (money received, not sent), and an event code from the T00nn
          "PayPal account-to-PayPal account payment" group that is a sale: T0000 general
          payment, T0002 subscription, T0003 pre-approved (BillUser), T0004 eBay auction,
          T0005 direct payment API, T0006 PayPal Checkout, T0007 Website Payments Standard,
          T0009 gift certificate purchase, T0010 third-party auction, T0011 mobile,
          T0012 virtual terminal, T0013 donation, T0018 PayPal Here, T0019 generic
          instrument-funded. Excluded: T0001 MassPay, T0008 postage, T0014 rebate, T0015
          third-party payout, T0016 recoupment, T0017 store-to-store transfer, T0021
          cryptocurrency, and every other group (fees T01, currency conversion T02,
          withdrawals T04, refunds T11, ...). A transaction id listed twice with the same
          event code (PayPal notes an id may appear as a balance-affecting and a
          non-balance-affecting record; split ranges share a boundary) is counted once.
          Refunds are not subtracted: a fully refunded payment leaves status S for V.
Check:    `verify_credentials` runs the client-credentials grant once: the token it gets is
          returned so it can be stored (no refresh needed right after connecting).
Errors:   401 (invalid_token) and 403 (NOT_AUTHORIZED) → auth; 429 or a body named
          RATE_LIMIT_REACHED → rate limited (`Retry-After` when sent, else 30 s);
          5xx → upstream; 400 INVALID_REQUEST and other statuses → upstream; non-JSON or
          schema violations → bad response. Refresh: {"error": "invalid_client"} (401) →
          token revoked (only new credentials can fix it); other failures as above.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from providers._common import MAX_PAGES, error_body, error_for_status, iso_utc, quote, rate_limited
from providers.base import (
    CredentialCheck,
    CredentialCheckContext,
    ProviderContext,
    RefreshedToken,
    RevenueProvider,
    RevenueResult,
    SourceKind,
    TokenRefreshContext,
)
from providers.errors import ProviderBadResponse, ProviderError, ProviderTokenRevoked
from providers.http import HttpConfig, HttpResponse, ProviderHttp
from providers.money import add_amount, decimal_to_minor, normalise_currency

DEFAULT_BASE_URL = "https://api-m.paypal.com"
PAGE_SIZE = 500
MAX_RANGE = timedelta(days=31)
SALE_EVENT_CODES = frozenset(
    "T0000 T0002 T0003 T0004 T0005 T0006 T0007 T0009 T0010 T0011 T0012 T0013 T0018 T0019".split()
)


class PayPalProvider(RevenueProvider):
    key = "paypal"
    name = "PayPal"
    kind = SourceKind.SALES
    supports_token_refresh = True

    def __init__(self, *, base_url: str = DEFAULT_BASE_URL, **http_options: Any) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        config = HttpConfig.from_options(getattr(settings, "PROVIDER_HTTP", None), **http_options)
        # The client-credentials grant may be repeated safely, so POST is retried too.
        self.http = ProviderHttp(platform=self.key, config=config, retry_methods=("GET", "POST"))

    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        amounts: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        pages = 0
        for start, end in _ranges(ctx.window_start, ctx.window_end):
            page = 1
            while True:
                pages += 1
                if pages > MAX_PAGES:
                    raise ProviderBadResponse(f"more than {MAX_PAGES} pages of transactions", platform=self.key)
                details, total_pages = self._page(ctx, start, end, page)
                for detail in details:
                    sale = self._sale(detail)
                    if sale and sale[0] not in seen:
                        seen.add(sale[0])
                        add_amount(amounts, sale[1], sale[2])
                if page >= total_pages:
                    break
                page += 1
        return RevenueResult(
            source_key=self.key, kind=self.kind, amounts=amounts, count=len(seen), as_of=datetime.now(UTC)
        )

    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        return CredentialCheck(token=self._grant(ctx.refresh_token or "", ctx.correlation_id))

    def refresh_token(self, ctx: TokenRefreshContext) -> RefreshedToken:
        return self._grant(ctx.refresh_token, ctx.correlation_id)

    def _grant(self, credentials: str, correlation_id: str) -> RefreshedToken:
        """The client-credentials grant with `client_id:client_secret`."""
        client_id, _, client_secret = credentials.partition(":")
        if not client_id or not client_secret:
            raise ProviderTokenRevoked("stored credentials are not in client_id:client_secret form", platform=self.key)
        secrets = [credentials, client_secret]
        response = self.http.request(
            "POST",
            f"{self.base_url}/v1/oauth2/token",
            correlation_id=correlation_id,
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
            secrets=secrets,
        )
        if not response.ok:
            body = error_body(response)
            detail = quote(body.get("error_description") or body.get("message"), secrets)
            if body.get("error") == "invalid_client" or response.status == 401:
                raise ProviderTokenRevoked(
                    f"client credentials refused (HTTP {response.status}){': ' + detail if detail else ''}",
                    platform=self.key,
                    status=response.status,
                )
            raise self._error(response, secrets)
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderBadResponse("token response has no access_token", platform=self.key)
        expires_in = body.get("expires_in")
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
            raise ProviderBadResponse("token response expires_in is not an integer", platform=self.key)
        return RefreshedToken(
            access_token=token,
            expires_at=None if expires_in is None else datetime.now(UTC) + timedelta(seconds=expires_in),
            scope=body.get("scope") if isinstance(body.get("scope"), str) else None,
            token_type=body.get("token_type") if isinstance(body.get("token_type"), str) else None,
        )

    def _page(self, ctx: ProviderContext, start: datetime, end: datetime, page: int) -> tuple[list[Any], int]:
        response = self.http.request(
            "GET",
            f"{self.base_url}/v1/reporting/transactions",
            correlation_id=ctx.correlation_id,
            headers={"Authorization": f"Bearer {ctx.access_token}"},
            params={
                "start_date": iso_utc(start),
                "end_date": iso_utc(end),
                "transaction_status": "S",
                "fields": "transaction_info",
                "page_size": PAGE_SIZE,
                "page": page,
            },
            secrets=[ctx.access_token],
        )
        if not response.ok:
            raise self._error(response, [ctx.access_token])
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderBadResponse("response is not a JSON object", platform=self.key)
        details, total_pages = body.get("transaction_details", []), body.get("total_pages")
        if not isinstance(details, list):
            raise ProviderBadResponse("transaction_details is not a list", platform=self.key)
        if isinstance(total_pages, bool) or not isinstance(total_pages, int):
            raise ProviderBadResponse("total_pages is missing or not an integer", platform=self.key)
        return details, total_pages

    def _sale(self, detail: Any) -> tuple[tuple[str, str], str, int] | None:
        """((transaction id, event code), currency, minor units) of a counted payment, else None."""
        try:
            info = detail["transaction_info"]
            code, status = info["transaction_event_code"], info.get("transaction_status")
            if status != "S" or code not in SALE_EVENT_CODES:
                return None
            transaction_id = info["transaction_id"]
            currency = normalise_currency(info["transaction_amount"]["currency_code"])
            minor = decimal_to_minor(info["transaction_amount"]["value"], currency)
        except KeyError as exc:
            raise ProviderBadResponse(f"transaction_details[]: {exc.args[0]!r} is missing", platform=self.key) from None
        except (TypeError, AttributeError):
            raise ProviderBadResponse("transaction_details[] is not shaped as documented", platform=self.key) from None
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(
                f"transaction {str(transaction_id)[:40]}: {exc.message}", platform=self.key
            ) from None
        if not isinstance(transaction_id, str) or minor <= 0:
            return None
        return (transaction_id, code), currency, minor

    def _error(self, response: HttpResponse, secrets: list[str]) -> ProviderError:
        body = error_body(response)
        name = body.get("name") or body.get("error")
        detail = " ".join(
            filter(None, (quote(name, secrets), quote(body.get("message") or body.get("error_description"), secrets)))
        )
        if name == "RATE_LIMIT_REACHED":
            return rate_limited(response, detail=detail)
        return error_for_status(response, detail=detail)


def _ranges(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The window in consecutive ranges of at most 31 days."""
    while True:
        stop = min(start + MAX_RANGE, end)
        yield start, stop
        if stop >= end:
            return
        start = stop
