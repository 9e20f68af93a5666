"""Shopify: orders created in the window, read with the GraphQL Admin API.

Endpoint and version
    POST https://{shop}.myshopify.com/admin/api/2026-10/graphql.json
    API version pinned to 2026-10 (the stable release of 1 October 2026; Shopify releases
    quarterly and supports each stable version for at least 12 months).

Host
    Without an override (`base_url` empty, the production setting) the request goes to
    `https://{shop_domain}` where the shop domain is the connection's
    `platform_account_id` (`acme.myshopify.com`; a bare handle `acme` is completed to
    `acme.myshopify.com`, a scheme or trailing slash is dropped). Only `*.myshopify.com`
    hosts are accepted there, so a stored value can never send the token elsewhere, and
    the connection goes through `providers.outbound` like any tenant-chosen host (https,
    443, a checked public address: a myshopify.com name is Shopify's DNS, but the check
    costs nothing and holds if that ever changes). With an
    override (`SHOPIFY_API_BASE_URL`, e.g. the local simulator) the request goes to
    `{base_url}/admin/api/2026-10/graphql.json` and the header `X-Skeldir-Shop: <shop domain>`
    names the shop (the simulator routes by it).

Auth
    Header `X-Shopify-Access-Token: <token>`; the token never appears in a URL.

Query
    `orders(first: 250, after: $cursor, query: $query, sortKey: CREATED_AT)` selecting
    `id name createdAt test cancelledAt displayFinancialStatus
    totalReceivedSet { shopMoney { amount currencyCode } }
    totalRefundedSet { shopMoney { amount currencyCode } }` and
    `pageInfo { hasNextPage endCursor }`. The search string is
    `created_at:>='<start>' AND created_at:<'<end>'` in UTC (`…Z`), start = window start
    to the second, end = window end to the second plus one (the window end is inclusive).
    Pages are followed with `after: endCursor` while `hasNextPage`; more than 1,000 pages,
    or a cursor that does not advance, is a bad response.

What counts (sales; `Basis.measure` = `received_minus_refunded`)
    Every order created in the tenant's window (whatever happened to it since) counts
    `totalReceivedSet.shopMoney` − `totalRefundedSet.shopMoney`, never below 0:
      - `totalReceivedSet` is "the total amount received from the customer before returns,
        in shop and presentment currencies" and `totalRefundedSet` "the total amount that
        was refunded" (Admin GraphQL reference, object `Order`, 2025-01 … 2026-10). Money
        that was only authorised or is still pending has not been received, so PENDING and
        AUTHORIZED orders count 0, a PARTIALLY_PAID order counts what was captured so far,
        PARTIALLY_REFUNDED and REFUNDED orders are netted by every refund made so far
        (today's refund of an order created today included), and VOIDED or EXPIRED orders
        (authorisation cancelled or lapsed, never captured) give 0 by themselves.
        Their difference is what `Order.netPaymentSet` is documented to be; the two are
        read separately so that each is checked and the result held at 0 or above.
      - `shopMoney`, never `presentmentMoney`: `MoneyBag.shopMoney` is the "amount in shop
        currency", `presentmentMoney` the same amount converted to the customer's currency
        of choice (object `MoneyBag`). A multi-currency shop reports in its own currency.
      - `currentTotalPriceSet` is not used: it is "the total price of the order, after
        returns" (object `Order`; not after refunds), a price, not money received. It is the
        full price of an order nobody has paid yet (PENDING, AUTHORIZED), and being "after
        returns" it need not move with a refund that returns nothing (a goodwill refund).
    Orders that count 0 whatever their money says:
      - test orders (`test: true`: "made using the Shopify Bogus Gateway or a payment
        provider with test mode enabled"): not real money;
      - cancelled orders (`cancelledAt` set), including one cancelled with its refund
        still to be issued.
    Chargebacks are not read: `Order.disputes` (`OrderDisputeSummary`: id, initiatedAs,
    status) carries no amount, and a card dispute is decided weeks after the payment, so an
    order created in today's window cannot have a lost one yet.
    `displayFinancialStatus` (enum `OrderDisplayFinancialStatus`, the same eight values on
    the 2024-04 and 2026-10 reference pages: PENDING, AUTHORIZED, PARTIALLY_PAID, PAID,
    PARTIALLY_REFUNDED, REFUNDED, VOIDED, EXPIRED) is a closed set: any other value is a
    bad response, never a silent 0. The field is nullable in the schema; null is accepted
    (the money fields decide). The money is checked on every order, test and cancelled ones
    too: a missing `totalReceivedSet`/`totalRefundedSet`/`shopMoney`/`amount`/
    `currencyCode`, a currency that is not ISO 4217 with a minor unit (Shopify's
    `CurrencyCode` also has e.g. `XXX` and `USDC`), or received and refunded in two
    different currencies, is a bad response naming the field. `amount` (scalar `Decimal`,
    "serialized as a string") is converted exactly to the currency's minor unit
    (`"12.5"` USD → 1250, `"1200"` JPY → 1200, `"12.345"` KWD → 12345).
    `count` is the number of orders that contribute more than 0.
    Vendored schema: `tests/fixtures/specs/shopify_admin_2026-10.graphql` (see its
    SOURCE file); `tests/conformance/test_shopify_conformance.py` validates both queries
    against it.

Check
    `verify_credentials` asks `{ shop { myshopifyDomain } }` on the same endpoint and returns
    the shop domain Shopify answers with (the identity of an OAuth install, too).

Errors
    - HTTP 401/403 (`{"errors": "[API] Invalid API key or access token …"}`) and the
      GraphQL error code ACCESS_DENIED → auth; SHOP_INACTIVE (frozen or closed shop) → auth.
    - Throttling: `{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
      "extensions": {"cost": {"requestedQueryCost": N, "throttleStatus":
      {"maximumAvailable", "currentlyAvailable": X, "restoreRate": R}}}}`, arriving with HTTP
      200 or 429 → rate limited, retry_after = `Retry-After` when the response carries
      one, else ceil((N − X) / R) seconds (at least 1), else 30 s.
    - Other GraphQL errors (INTERNAL_SERVER_ERROR, MAX_COST_EXCEEDED, …) → upstream, quoting
      the code and message.
    - 5xx after the session's retries (the query is a read, so POST is retried) → upstream;
      other 4xx → upstream naming the status; a body that is not JSON or lacks a field
      named above → bad response.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from providers._common import DEFAULT_RETRY_AFTER, error_for_status, iso_utc, quote
from providers.base import (
    Basis,
    CredentialCheck,
    CredentialCheckContext,
    ProviderContext,
    RevenueProvider,
    RevenueResult,
    SourceKind,
)
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.http import HttpConfig, HttpResponse, ProviderHttp, retry_after_seconds
from providers.money import add_amount, decimal_to_minor, normalise_currency

API_VERSION = "2026-10"
PAGE_SIZE = 250
MAX_PAGES = 1_000
MEASURE = "received_minus_refunded"
# OrderDisplayFinancialStatus, closed: any other value is a bad response.
FINANCIAL_STATUSES = frozenset(
    {"PENDING", "AUTHORIZED", "PARTIALLY_PAID", "PAID", "PARTIALLY_REFUNDED", "REFUNDED", "VOIDED", "EXPIRED"}
)
AUTH_ERROR_CODES = frozenset({"ACCESS_DENIED", "SHOP_INACTIVE"})

ORDERS_QUERY = """
query SkeldirOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    edges {
      node {
        id
        name
        createdAt
        test
        cancelledAt
        displayFinancialStatus
        totalReceivedSet { shopMoney { amount currencyCode } }
        totalRefundedSet { shopMoney { amount currencyCode } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""".strip()

SHOP_QUERY = "query SkeldirShop { shop { myshopifyDomain } }"

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


class ShopifyProvider(RevenueProvider):
    key = "shopify"
    name = "Shopify"
    kind = SourceKind.SALES

    def __init__(self, *, base_url: str = "", **http_options: Any) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self.http = ProviderHttp(
            platform=self.key,
            config=HttpConfig.from_options(settings.PROVIDER_HTTP, **http_options),
            retry_methods=("POST",),  # a GraphQL query is a read: safe to resend
            # The shop is the tenant's choice (within myshopify.com): public hosts only.
            public_only=not self.base_url,
        )

    def _endpoint(self, account_id: str, token: str) -> tuple[str, dict[str, str]]:
        shop = self._shop_domain(account_id)
        url = f"{self.base_url or 'https://' + shop}/admin/api/{API_VERSION}/graphql.json"
        headers = {"X-Shopify-Access-Token": token}
        if self.base_url:
            headers["X-Skeldir-Shop"] = shop
        return url, headers

    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        token = ctx.access_token or ""
        url, headers = self._endpoint(ctx.platform_account_id, token)
        response = self.http.request(
            "POST",
            url,
            correlation_id=ctx.correlation_id,
            headers=headers,
            json_body={"query": SHOP_QUERY},
            secrets=(token,),
        )
        payload = self._payload(response, token)
        try:
            domain = _get(payload, "data.shop.myshopifyDomain", str)
        except ProviderBadResponse as exc:
            exc.platform, exc.status = self.key, response.status
            raise
        return CredentialCheck(account_ids=(domain.lower(),))

    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        url, headers = self._endpoint(ctx.platform_account_id, ctx.access_token)
        start = ctx.window_start.replace(microsecond=0)
        end = ctx.window_end.replace(microsecond=0) + timedelta(seconds=1)
        search = f"created_at:>='{iso_utc(start)}' AND created_at:<'{iso_utc(end)}'"

        amounts: dict[str, int] = {}
        count = 0
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            body = {"query": ORDERS_QUERY, "variables": {"first": PAGE_SIZE, "after": cursor, "query": search}}
            response = self.http.request(
                "POST",
                url,
                correlation_id=ctx.correlation_id,
                headers=headers,
                json_body=body,
                secrets=(ctx.access_token,),
            )
            payload = self._payload(response, ctx.access_token)
            try:
                orders = _get(payload, "data.orders", dict)
                for index, edge in enumerate(_get(orders, "edges", list, where="data.orders")):
                    node = _get(edge, "node", dict, where=f"data.orders.edges[{index}]")
                    count += self._count_order(node, f"data.orders.edges[{index}].node", amounts)
                has_next = _get(orders, "pageInfo.hasNextPage", bool, where="data.orders")
                next_cursor = _get(orders, "pageInfo.endCursor", (str, type(None)), where="data.orders")
            except ProviderBadResponse as exc:
                exc.platform = exc.platform or self.key
                exc.status = exc.status or response.status
                raise
            if has_next is not True:
                return self.result(
                    amounts=amounts,
                    count=count,
                    basis=Basis.of_window(ctx, MEASURE),
                )
            if not isinstance(next_cursor, str) or not next_cursor or next_cursor == cursor:
                raise ProviderBadResponse(
                    "pageInfo.hasNextPage is true but endCursor is missing or did not advance",
                    platform=self.key,
                    status=response.status,
                )
            cursor = next_cursor
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of orders for one window", platform=self.key)

    # --- helpers ----------------------------------------------------------------------
    def _shop_domain(self, account_id: str) -> str:
        shop = (account_id or "").strip().lower()
        shop = re.sub(r"^https?://", "", shop).split("/", 1)[0]
        if shop and "." not in shop:
            shop = f"{shop}.myshopify.com"
        if not _HOSTNAME.match(shop):
            raise ProviderAuthError(
                "the connection's account id is not a Shopify shop domain (expected shop.myshopify.com); "
                "reconnect the shop",
                platform=self.key,
            )
        if not self.base_url and not shop.endswith(".myshopify.com"):
            raise ProviderAuthError(
                "the Admin API is only called on the shop's myshopify.com domain; "
                "reconnect the shop with its myshopify.com address",
                platform=self.key,
            )
        return shop

    def _payload(self, response: HttpResponse, token: str) -> dict[str, Any]:
        """The parsed body of a successful response, or raise the taxonomy error it carries."""
        payload: Any = None
        try:
            payload = response.json()
        except ProviderBadResponse:
            if response.ok:
                raise
            # an HTML error page: the status says enough
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if response.ok and not errors:
            if not isinstance(payload, dict):
                raise ProviderBadResponse(
                    "response body is not a JSON object", platform=self.key, status=response.status
                )
            return payload
        raise self._error(response, payload, errors, token)

    def _error(self, response: HttpResponse, payload: Any, errors: Any, token: str) -> ProviderError:
        entries = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
        codes = {str((e.get("extensions") or {}).get("code") or "") for e in entries}
        throttled = "THROTTLED" in codes or any(e.get("message") == "Throttled" for e in entries)
        if throttled or response.status == 429:
            wait = retry_after_seconds(response.headers) or _throttle_wait(payload) or DEFAULT_RETRY_AFTER
            return ProviderRateLimited(
                f"query throttled (HTTP {response.status})",
                platform=self.key,
                status=response.status,
                retry_after=wait,
            )
        if isinstance(errors, str):  # REST-style `{"errors": "[API] Invalid API key or access token …"}`
            detail = quote(errors, [token])
        else:
            first = entries[0] if entries else {}
            code = (first.get("extensions") or {}).get("code")
            detail = quote(f"{code}: {first.get('message')}" if code else first.get("message"), [token])
        if codes & AUTH_ERROR_CODES:
            return ProviderAuthError(f"access refused: {detail}", platform=self.key, status=response.status)
        if not response.ok:
            return error_for_status(response, detail=detail)
        return ProviderUnavailable(
            f"GraphQL error: {detail or 'no message'}", platform=self.key, status=response.status
        )

    def _count_order(self, node: dict[str, Any], where: str, amounts: dict[str, int]) -> int:
        """Add what one order contributes to `amounts`; 1 if that is more than 0."""
        test = _get(node, "test", bool, where=where)
        cancelled = _get(node, "cancelledAt", (str, type(None)), where=where)
        status = _get(node, "displayFinancialStatus", (str, type(None)), where=where)
        if status is not None and status not in FINANCIAL_STATUSES:
            raise ProviderBadResponse(
                f"response field {where}.displayFinancialStatus has an unknown value {quote(status)!r}"
            )
        currency, received = _shop_money(node, "totalReceivedSet", where)
        refunded_currency, refunded = _shop_money(node, "totalRefundedSet", where)
        if refunded_currency != currency:
            raise ProviderBadResponse(
                f"response fields {where}.totalReceivedSet and totalRefundedSet are in different shop currencies"
            )
        net = received - refunded
        if test or cancelled or net <= 0:
            return 0
        add_amount(amounts, currency, net)
        return 1


def _shop_money(node: dict[str, Any], field: str, where: str) -> tuple[str, int]:
    """(currency, amount in minor units) of `node[field].shopMoney`."""
    money = _get(node, f"{field}.shopMoney", dict, where=where)
    here = f"{where}.{field}.shopMoney"
    code = _get(money, "currencyCode", str, where=here)
    amount = _get(money, "amount", (str, int, Decimal), where=here)
    try:
        currency = normalise_currency(code)
        return currency, decimal_to_minor(amount, currency, exact=True)
    except ProviderBadResponse as exc:
        raise ProviderBadResponse(f"response field {here}: {exc.message}") from None


def _get(obj: Any, path: str, kind: type | tuple[type, ...], *, where: str = "") -> Any:
    """`obj[a][b]…` for the dotted `path`, checked against `kind`; a missing field or a
    wrong type is a bad response naming the field's full path."""
    value = obj
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ProviderBadResponse(f"response is missing {'.'.join(filter(None, (where, path)))}")
        value = value[key]
    if not isinstance(value, kind):
        raise ProviderBadResponse(f"response field {'.'.join(filter(None, (where, path)))} has an unexpected type")
    return value


def _throttle_wait(payload: dict[str, Any]) -> int | None:
    """Seconds until the bucket holds the requested cost: ceil((N − X) / R), at least 1."""
    try:
        cost = payload["extensions"]["cost"]
        status = cost["throttleStatus"]
        requested = Decimal(str(cost["requestedQueryCost"]))
        available = Decimal(str(status["currentlyAvailable"]))
        rate = Decimal(str(status["restoreRate"]))
    except (KeyError, TypeError, InvalidOperation):
        return None
    if not rate.is_finite() or rate <= 0 or not requested.is_finite() or not available.is_finite():
        return None
    return max(1, math.ceil((requested - available) / rate))
