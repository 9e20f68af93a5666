"""PayPal: completed sales created in the window, net of the refunds, reversals and chargebacks
that reference them, from the Transaction Search (reporting) API.

References: the Transaction Search API reference (developer.paypal.com/docs/api/transaction-search/v1/)
and its published OpenAPI document, vendored as `tests/fixtures/specs/paypal_reporting_transactions_v1.json`
(paypal/paypal-rest-api-specifications, operation `search.get`, schemas `search_response`,
`transaction_info`, `money`); the transaction event code tables
(developer.paypal.com/docs/transaction-search/transaction-event-codes/).

Endpoint: GET {base}/v1/reporting/transactions?start_date=<RFC 3339 UTC>&end_date=<RFC 3339 UTC>
          &fields=transaction_info&page_size=500&page=<n>
          Dates are sent as `YYYY-MM-DDTHH:MM:SSZ` (the spec: "Seconds are required"). The API
          accepts at most 31 days per query (`end_date`: "The maximum supported range is 31
          days"): a longer window is split into consecutive ranges of at most 31 days that share
          their boundary second. No `transaction_status` filter is sent: the parameter keeps only
          one status, and the rule below needs every status of the window's sales and every
          refund so far. `balance_affecting_records_only` is left at its default `Y` (only
          balance-affecting records; the spec notes an id may otherwise be listed twice).
Version:  v1 is in the path; the API has no version header.
Auth:     `Authorization: Bearer <access token>` (spec: `securitySchemes.Oauth2`, client
          credentials, scope `https://uri.paypal.com/services/reporting/search/read`). Tokens
          expire (about nine hours), so `supports_token_refresh` is set and `refresh_token` runs
          the client-credentials grant: POST {base}/v1/oauth2/token, HTTP Basic
          client_id:client_secret (stored as the connection's "refresh token" in the form
          `client_id:client_secret`), form `grant_type=client_credentials` → {access_token,
          token_type, expires_in, scope}. PayPal does not rotate the credentials, so no new
          refresh token is returned. (The reporting spec names only the token URL, not the call.)
Paging:   {"transaction_details": [...], "page": n, "total_items": N, "total_pages": M,
          "last_refreshed_datetime": ...}; follow `page` to `total_pages` (which may be 0). The
          spec gives `transaction_details` `minItems: 1`, so an empty search may leave it out:
          a missing list is read as empty.
Fields:   transaction_details[].transaction_info: transaction_id, transaction_event_code,
          transaction_status, transaction_amount {currency_code, value}, paypal_reference_id.
          `value` is a decimal string in major units ("12.50", "-3.00"), converted exactly.
Rule:     Sales created in the window (measure `completed_sales_minus_refunds`), minus what was
          refunded of them so far. The query runs from the window's start to now (the window's
          end), and a refund is always later than its sale, so one query returns both the
          window's sales and all their refunds to date; each refund is netted against the sale
          it references. A sale never counts below 0 nor above its own amount.
          - A sale: an event code from the T00nn "PayPal account-to-PayPal account payment"
            group that is a sale — T0000 general payment, T0002 subscription, T0003 pre-approved
            (BillUser), T0004 eBay auction, T0005 direct payment API, T0006 PayPal Checkout,
            T0007 Website Payments Standard, T0009 gift certificate purchase, T0010 third-party
            auction, T0011 mobile, T0012 virtual terminal, T0013 donation, T0018 PayPal Here,
            T0019 generic instrument-funded — with a positive amount (money received; a negative
            one is a payment the merchant sent). Excluded: T0001 MassPay, T0008 postage, T0014
            rebate, T0015 third-party payout, T0016 recoupment, T0017 store-to-store transfer,
            T0021 cryptocurrency, and every other group (fees T01, currency conversion T02,
            withdrawals T04, ...).
          - Statuses (`transaction_status`, the spec's table): `S` "successfully completed
            without a denial and after any pending statuses" counts; `P` pending ("waits for
            another payment process to complete, such as an ACH transaction, before the status
            changes to S") counts 0; `D` "PayPal or merchant rules denied the transaction" counts
            0; `V` "A successful transaction was reversed and funds were refunded to the original
            sender" counts 0. The set is closed: any other status, or none, is a bad response.
          - What is subtracted: records that name the sale's transaction id in
            `paypal_reference_id` ("a related, pre-existing transaction or event") with status
            S, from the T11nn Reversals and T12nn Adjustments groups where money leaves for good:
            T1107 payment refund initiated by the merchant (partial or full), T1106 payment
            reversal initiated by PayPal, T1201 chargeback (a lost chargeback counts like a
            refund), and T1202 chargeback reversal, a credit that gives the money back. Their
            amounts are signed (a refund is negative), so each is added to its sale. Holds are
            not losses and are not read: T1110 hold for dispute investigation, T1111 its
            cancellation. A refund of a sale outside the window is not in the window's sales and
            is ignored; so is a refund that is pending, denied or itself reversed. A refund in
            another currency than its sale is a bad response.
          - `count` is the number of sales that contribute a positive amount.
          A transaction id listed twice (split ranges share a boundary second) is read once.
          A counted record missing `transaction_amount`, with an unknown currency, an unknown
          status or (a refund) no `paypal_reference_id` is a bad response for the source.
Lag:      "It takes a maximum of three hours for executed transactions to appear in the list
          transactions call" (the spec's `search.get` description). The answer carries
          `last_refreshed_datetime`, "The date and time when the data was last refreshed"; the
          basis states it as `complete_until` (the earliest one of the fetch's answers, never
          later than the fetch itself), or, when PayPal sends none, the fetch's time minus three
          hours. Offsets are read in either form: the spec's pattern asks for `Z` or `+hh:mm`,
          the reference's samples show `+0000`.
Check:    `verify_credentials` runs the client-credentials grant once: the token it gets is
          returned so it can be stored (no refresh needed right after connecting).
Errors:   401 (invalid_token, AUTHENTICATION_FAILURE) and 403 (NOT_AUTHORIZED) → auth; 429 or a
          body named RATE_LIMIT_REACHED → rate limited (`Retry-After` when sent, else 30 s);
          5xx → upstream; 400 INVALID_REQUEST and other statuses → upstream; non-JSON or
          schema violations → bad response. Refresh: {"error": "invalid_client"} (401) →
          token revoked (only new credentials can fix it); other failures as above.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from providers._common import MAX_PAGES, error_body, error_for_status, iso_utc, quote, rate_limited
from providers.base import (
    Basis,
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
MEASURE = "completed_sales_minus_refunds"
PAGE_SIZE = 500
MAX_RANGE = timedelta(days=31)
# "It takes a maximum of three hours for executed transactions to appear" (search.get).
REPORTING_LAG = timedelta(hours=3)
SALE_EVENT_CODES = frozenset(
    "T0000 T0002 T0003 T0004 T0005 T0006 T0007 T0009 T0010 T0011 T0012 T0013 T0018 T0019".split()
)
# Money moved back for good, naming the sale in paypal_reference_id: merchant refund, PayPal
# reversal, chargeback (debits) and chargeback reversal (a credit).
REFUND_EVENT_CODES = frozenset({"T1106", "T1107", "T1201", "T1202"})
STATUSES = frozenset({"S", "P", "D", "V"})  # the spec's transaction_status table, closed
COMPLETED = "S"


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    """A sale or a refund as listed: signed minor units, and the sale a refund names."""

    transaction_id: str
    refund: bool
    status: str
    currency: str
    minor: int
    reference: str | None


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
        sales: dict[str, _Record] = {}
        refunds: dict[str, _Record] = {}
        refreshed: list[datetime] = []
        pages = 0
        for start, end in _ranges(ctx.window_start, ctx.window_end):
            page = 1
            while True:
                pages += 1
                if pages > MAX_PAGES:
                    raise ProviderBadResponse(f"more than {MAX_PAGES} pages of transactions", platform=self.key)
                details, total_pages, last_refreshed = self._page(ctx, start, end, page)
                if last_refreshed is not None:
                    refreshed.append(last_refreshed)
                for detail in details:
                    record = self._record(detail)
                    if record is not None:
                        (refunds if record.refund else sales).setdefault(record.transaction_id, record)
                if page >= total_pages:
                    break
                page += 1
        amounts, count = self._net(sales, refunds)
        as_of = datetime.now(UTC)
        complete_until = min([*refreshed, as_of]) if refreshed else as_of - REPORTING_LAG
        return self.result(
            amounts=amounts,
            count=count,
            as_of=as_of,
            basis=Basis.of_window(ctx, MEASURE, complete_until=complete_until),
        )

    def _net(self, sales: dict[str, _Record], refunds: dict[str, _Record]) -> tuple[dict[str, int], int]:
        """Completed sales net of the completed refunds naming them, each within 0..its amount."""
        net = {tid: sale.minor for tid, sale in sales.items() if sale.status == COMPLETED and sale.minor > 0}
        for refund in refunds.values():
            if refund.status != COMPLETED or refund.reference is None or refund.reference not in net:
                continue  # not (yet) money back, or a sale outside the window
            sale = sales[refund.reference]
            if refund.currency != sale.currency:
                raise ProviderBadResponse(
                    f"transaction {refund.transaction_id[:40]}: refund in {refund.currency} "
                    f"of a sale in {sale.currency}",
                    platform=self.key,
                )
            net[refund.reference] += refund.minor
        amounts: dict[str, int] = {}
        count = 0
        for tid, minor in net.items():
            value = min(max(minor, 0), sales[tid].minor)
            if value > 0:
                add_amount(amounts, sales[tid].currency, value)
                count += 1
        return amounts, count

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

    def _page(
        self, ctx: ProviderContext, start: datetime, end: datetime, page: int
    ) -> tuple[list[Any], int, datetime | None]:
        """One page: its transaction details, `total_pages` and `last_refreshed_datetime`."""
        response = self.http.request(
            "GET",
            f"{self.base_url}/v1/reporting/transactions",
            correlation_id=ctx.correlation_id,
            headers={"Authorization": f"Bearer {ctx.access_token}"},
            params={
                "start_date": iso_utc(start),
                "end_date": iso_utc(end),
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
        refreshed = body.get("last_refreshed_datetime")
        return details, total_pages, None if refreshed is None else self._instant(refreshed, "last_refreshed_datetime")

    def _instant(self, value: Any, field: str) -> datetime:
        """An RFC 3339 date-time with an offset (`Z`, `+00:00` or PayPal's `+0000`)."""
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ProviderBadResponse(f"{field} is not a date-time with an offset", platform=self.key)
        return moment.astimezone(UTC)

    def _record(self, detail: Any) -> _Record | None:
        """A sale or a refund (see the module docstring), else None: other records are not read."""
        transaction_id: Any = None
        try:
            info = detail["transaction_info"]
            code = info["transaction_event_code"]
            refund = code in REFUND_EVENT_CODES
            if not refund and code not in SALE_EVENT_CODES:
                return None
            transaction_id = info["transaction_id"]
            if not isinstance(transaction_id, str) or not transaction_id:
                raise ProviderBadResponse("transaction_id is not a string")
            status = info["transaction_status"]
            if status not in STATUSES:
                raise ProviderBadResponse(f"unknown transaction_status {quote(str(status))[:20]!r}")
            currency = normalise_currency(info["transaction_amount"]["currency_code"])
            minor = decimal_to_minor(info["transaction_amount"]["value"], currency)
            reference = info.get("paypal_reference_id")
            if refund and (not isinstance(reference, str) or not reference):
                raise ProviderBadResponse(f"{code} has no paypal_reference_id")
        except KeyError as exc:
            raise ProviderBadResponse(
                f"{_where(transaction_id)}: {exc.args[0]!r} is missing", platform=self.key
            ) from None
        except (TypeError, AttributeError):
            raise ProviderBadResponse(
                f"{_where(transaction_id)} is not shaped as documented", platform=self.key
            ) from None
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(f"{_where(transaction_id)}: {exc.message}", platform=self.key) from None
        return _Record(
            transaction_id=transaction_id,
            refund=refund,
            status=status,
            currency=currency,
            minor=minor,
            reference=reference if refund else None,
        )

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


def _where(transaction_id: Any) -> str:
    if isinstance(transaction_id, str) and transaction_id:
        return f"transaction {transaction_id[:40]}"
    return "transaction_details[]"
