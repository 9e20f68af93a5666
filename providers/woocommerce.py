"""WooCommerce: orders created in the tenant's day with a paid status, net of their refunds.

Sources (cited below by name):
  [docs]  WooCommerce REST API reference, woocommerce/woocommerce-rest-api-docs
          source/includes/wp-api-v3/_orders.md ("Order properties", "Order - Refunds
          properties", "List all orders" parameters) and _introduction.md.
  [ctrl]  woocommerce/woocommerce plugins/woocommerce/includes/rest-api/Controllers/:
          Version3/class-wc-rest-crud-controller.php (`prepare_objects_query`,
          `get_collection_params`), Version2/class-wc-rest-orders-v2-controller.php
          (`get_formatted_item_data`, `prepare_object_for_response`, the `dp` parameter),
          Version3/class-wc-rest-orders-controller.php (`status` as a list, default `any`).
  [wpdq]  WordPress/wordpress-develop src/wp-includes/class-wp-date-query.php
          (`get_sql_for_clause`, `build_mysql_datetime`).
  [fmt]   woocommerce includes/wc-formatting-functions.php (`wc_format_decimal`,
          `wc_get_price_decimals`); includes/wc-order-functions.php
          (`wc_get_order_statuses`, `wc_get_is_paid_statuses`); src/Enums/OrderStatus.php;
          src/Internal/Orders/ReadyForPickupStatus.php; src/Blocks/Domain/Services/DraftOrders.php.
  WooCommerce publishes no OpenAPI document, so there is no conformance test: these
  citations are the check.

Endpoint: GET {store}/wp-json/wc/v3/orders?after=<start - 1 s>&before=<end>&dates_are_gmt=true
          &status=any&dp=<exponent>&per_page=100&page=<n>&orderby=date&order=asc
          &_fields=id,status,currency,total,refunds,date_created_gmt
          The store is the connection's platform_account_id, a URL with an optional path
          (`https://shop.example.com`, `https://example.com/store`; a bare host means
          https). With an override base URL (OPTIONS `base_url`, e.g. the local simulator)
          the request goes to `{base_url}{store path}/wp-json/wc/v3/orders` and the header
          `X-Skeldir-Shop: <store host>` names the store.
Window:   `after`/`before` go into a WP_Date_Query on the creation date [ctrl
          prepare_objects_query], `dates_are_gmt=true` choosing the post_date_gmt column
          (HPOS maps it to date_created_gmt: src/Internal/DataStores/Orders/
          OrdersTableQuery.php maybe_remap_args, process_date_args). The query
          sets no `inclusive`, whose default is false [wpdq], so both bounds are STRICT:
          `date_created_gmt > after AND date_created_gmt < before`. An order placed at
          exactly the tenant's midnight would be lost with after=<midnight>. Creation dates
          are stored to the second, so `after` is sent one second before the window start
          (`> start - 1 s` is `>= start`), and the adapter still drops any order whose
          `date_created_gmt` is before the window start (a plugin widening the query, or a
          store ignoring dates_are_gmt), so nothing is counted twice across windows.
          `before` is the window end rounded up to the second (the current second's orders
          count; the end is exclusive in both).
          Both are sent as the UTC wall clock WITHOUT an offset (`2024-05-01T21:59:59`):
          build_mysql_datetime parses a value with an offset and converts it to the SITE's
          time zone before comparing [wpdq: `date_create( $datetime, wp_timezone() )
          ->setTimezone( wp_timezone() )`], which against the GMT column would shift the
          window by the store's UTC offset; a value without one is taken as wall-clock and
          compared as is (the form in WooCommerce's own dates_are_gmt change, PR #28132).
Statuses: `status=any` (the default [ctrl v3]) so every order of the day is seen and the
          status set can be CLOSED: "paid" is WooCommerce's own `wc_get_is_paid_statuses()`
          ["processing", "completed"; WooCommerce 11.3 adds "ready-for-pickup" on stores
          offering local pickup, ReadyForPickupStatus] — the statuses WC_Order::is_paid()
          reports and on entering which WooCommerce stamps `date_paid`; `date_paid` itself
          is not read because it stays set after a refund or cancellation. Known unpaid
          statuses count 0: pending, on-hold, failed (no payment), cancelled, refunded (its
          refunds equal its total), checkout-draft (block checkout drafts, listed under
          `any` [DraftOrders: exclude_from_search false]), and WooCommerce's other non-sale
          states trash, auto-draft, draft, new [OrderStatus enum] (trash is never listed
          under `any`; the others may be). Any other status is a bad response: extensions register
          their own statuses (`wc_order_statuses`) and may add them to the paid list
          (`woocommerce_order_is_paid_statuses`: "shipped", "delivered", "partial-payment",
          "pre-ordered"...), which this adapter cannot know; reporting such a store's
          revenue as 0 would be silently wrong, so the source fails and says which status.
Counts:   a paid order contributes `total` minus the sum of its `refunds[].total` (every
          refund the order has, whenever it was made: refunds are listed on the order
          [docs "Order - Refunds properties"], as negative decimal strings
          `'-' . wc_format_decimal(amount, dp)` [ctrl get_formatted_item_data]), never less
          than 0. `count` is the number of orders contributing a positive amount.
Amounts:  `total` and `refunds[].total` are strings formatted by `wc_format_decimal(value,
          dp)`, i.e. PHP number_format (round half away from zero) to `dp` places [fmt,
          ctrl]. Without `dp` WooCommerce uses the store's "Number of decimals" setting
          (`wc_get_price_decimals()`; [docs] say "Default is 2", the code says otherwise),
          so a store showing 4 decimals answers "12.3456", which is not a USD amount. The
          adapter therefore sends `dp` = the ISO 4217 exponent of the currency it expects,
          and converts exactly (any other form is a bad response). `dp` is per request but
          the currency is per order (multi-currency plugins): an order is counted only from
          a walk whose `dp` is its own currency's exponent. The first walk uses dp=2 (most
          currencies, and the documented default); a walk that meets other exponents is
          followed by one walk per exponent met, counting only those orders (a walk never
          counts an order twice: ids are remembered). The first walk stops after its first
          page when that page's paid orders are all in other exponents (a JPY or KWD store)
          and the walk for theirs starts at once. Calls per refresh: the pages, for a store
          in a two-decimal currency; one more for a store in another currency; pages x
          currencies-by-exponent for a mixed store. Asking the store's currency first
          (GET /wp-json/wc/v3/data/currencies/current [docs _data.md]) would cost a call on
          every refresh, needs the settings-read permission (manage_woocommerce) that an
          orders key may lack, and still would not cover orders in other currencies.
Version:  wc/v3 is in the path; there is no version header.
Auth:     HTTP Basic consumer_key:consumer_secret; the connection's access token holds
          "ck_...:cs_..." (split on the first ':'). Basic auth is only for HTTPS: over plain
          http WooCommerce demands OAuth 1.0a signatures, which this adapter does not do,
          so a plain-http store is refused (auth error) unless an override base URL is set.
          Keys are never sent as query parameters (URLs get logged).
Where:    the store URL is a tenant's choice, so without an override every request goes
          through `providers.outbound`: https, port 443 (or a host:port the operator
          allow-lists in PROVIDER_OUTBOUND_ALLOWED), no userinfo, the host resolved once
          and connected to only at a checked public address; never a redirect. A refusal
          is ProviderDestinationRefused (nothing sent).
Paging:   a JSON list of orders per page; headers X-WP-Total and X-WP-TotalPages (0 with
          an empty list when nothing matches) [ctrl get_items]. Follow `page` to
          X-WP-TotalPages; without the header, stop at the first page shorter than
          per_page. WooCommerce orders `date` by "date ID" for stable pages [ctrl].
Fields:   only those read are asked for (WordPress's `_fields`): an order otherwise carries
          its line items, billing and shipping addresses and meta data, several KB of
          customer data per order that the refresh would download, parse and drop.
          `date_created_gmt` is "YYYY-MM-DDTHH:MM:SS" in UTC [docs]. A paid order missing
          `total`, `currency` or `date_created_gmt`, or with an unknown currency, is a bad
          response; unpaid orders are not read further than their status.
Measure:  `paid_orders_minus_refunds`: orders created in the tenant's day (its zone) with a
          paid status now, each at its total less all its refunds so far.
Check:    `verify_credentials`: GET the orders endpoint with per_page=1 (the permission the
          revenue fetch needs).
Errors:   401/403, or a body code woocommerce_rest_cannot_view /
          woocommerce_rest_authentication_error → auth; 429 → rate limited (`Retry-After`
          when sent, else 30 s); 5xx → upstream; other statuses (e.g. 404 rest_no_route when
          the REST API is off) → upstream; non-JSON or schema violations → bad response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from providers._common import MAX_PAGES, error_body, error_for_status, quote
from providers.base import (
    Basis,
    CredentialCheck,
    CredentialCheckContext,
    ProviderContext,
    RevenueProvider,
    RevenueResult,
    SourceKind,
)
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderError
from providers.http import HttpConfig, HttpResponse, ProviderHttp
from providers.money import add_amount, currency_exponent, decimal_to_minor, normalise_currency

ORDERS_PATH = "/wp-json/wc/v3/orders"
PAGE_SIZE = 100
# What _read looks at, and the id it names and de-duplicates by.
ORDER_FIELDS = "id,status,currency,total,refunds,date_created_gmt"
MEASURE = "paid_orders_minus_refunds"
PAID_STATUSES = frozenset({"processing", "completed", "ready-for-pickup"})
UNPAID_STATUSES = frozenset(
    {"pending", "on-hold", "failed", "cancelled", "refunded", "checkout-draft", "trash", "auto-draft", "draft", "new"}
)
FIRST_DP = 2  # the exponent of most currencies, and the reference's documented default
AUTH_CODES = frozenset({"woocommerce_rest_cannot_view", "woocommerce_rest_authentication_error"})


@dataclasses.dataclass
class _Tally:
    """What the walks of one fetch have found so far."""

    start: datetime
    end: datetime
    amounts: dict[str, int] = dataclasses.field(default_factory=dict)
    count: int = 0
    seen: set[Any] = dataclasses.field(default_factory=set)  # ids of orders already counted
    exponents: set[int] = dataclasses.field(default_factory=set)  # of the paid orders met


class WooCommerceProvider(RevenueProvider):
    key = "woocommerce"
    name = "WooCommerce"
    kind = SourceKind.SALES

    def __init__(self, *, base_url: str = "", **http_options: Any) -> None:
        self.base_url = (base_url or "").rstrip("/")
        config = HttpConfig.from_options(getattr(settings, "PROVIDER_HTTP", None), **http_options)
        # Without an override the store is the tenant's choice: public https hosts only.
        self.http = ProviderHttp(platform=self.key, config=config, public_only=not self.base_url)

    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        url, headers = self._endpoint(ctx.platform_account_id)
        consumer_key, consumer_secret = self._keys(ctx.access_token or "")
        response = self.http.request(
            "GET",
            url,
            correlation_id=ctx.correlation_id,
            headers=headers,
            params={"per_page": 1},
            auth=(consumer_key, consumer_secret),
            secrets=[ctx.access_token],
        )
        if not response.ok:
            raise self._error(response, [ctx.access_token or "", consumer_secret])
        if not isinstance(response.json(), list):
            raise ProviderBadResponse("orders response is not a JSON list", platform=self.key)
        return CredentialCheck()

    def _keys(self, credentials: str) -> tuple[str, str]:
        consumer_key, _, consumer_secret = credentials.partition(":")
        if not consumer_key or not consumer_secret:
            raise ProviderAuthError(
                "stored credentials are not in consumer_key:consumer_secret form", platform=self.key
            )
        return consumer_key, consumer_secret

    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        url, headers = self._endpoint(ctx.platform_account_id)
        consumer_key, consumer_secret = self._keys(ctx.access_token)
        tally = _Tally(start=ctx.window_start.astimezone(UTC), end=ctx.window_end.astimezone(UTC))
        params: dict[str, Any] = {
            "after": _wall_clock(tally.start - timedelta(seconds=1)),
            "before": _wall_clock(_ceil_second(tally.end)),
            "dates_are_gmt": "true",
            "status": "any",
            "per_page": PAGE_SIZE,
            "orderby": "date",
            "order": "asc",
            "_fields": ORDER_FIELDS,
        }

        def get(page: int, dp: int) -> tuple[list[Any], bool]:
            """One page of orders with amounts to `dp` places, and whether it is the last."""
            response = self.http.request(
                "GET",
                url,
                correlation_id=ctx.correlation_id,
                headers=headers,
                params={**params, "dp": dp, "page": page},
                auth=(consumer_key, consumer_secret),
                secrets=[ctx.access_token],
            )
            if not response.ok:
                raise self._error(response, [ctx.access_token, consumer_secret])
            orders = response.json()
            if not isinstance(orders, list):
                raise ProviderBadResponse("orders response is not a JSON list", platform=self.key)
            total_pages = _total_pages(response)
            return orders, not orders or (page >= total_pages if total_pages is not None else len(orders) < PAGE_SIZE)

        walked: set[int] = set()
        dp: int | None = FIRST_DP
        first = True
        while dp is not None:
            if self._walk(get, dp, tally, may_stop_early=first):
                walked.add(dp)
            first = False
            pending = tally.exponents - walked
            dp = min(pending) if pending else None
        return self.result(
            amounts=tally.amounts,
            count=tally.count,
            basis=Basis.of_window(ctx, MEASURE),
        )

    def _walk(
        self, get: Callable[[int, int], tuple[list[Any], bool]], dp: int, tally: _Tally, *, may_stop_early: bool
    ) -> bool:
        """Read every page with `dp`, counting the paid orders whose currency has `dp`
        decimals. False when the walk stopped after a first page whose paid orders are all
        in other exponents (the first walk only: its `dp` was a guess)."""
        for page in range(1, MAX_PAGES + 1):
            orders, last = get(page, dp)
            exponents = [self._read(order, dp, tally) for order in orders]
            met = [e for e in exponents if e is not None]
            if page == 1 and may_stop_early and met and dp not in met:
                return False
            if last:
                return True
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of orders", platform=self.key)

    def _read(self, order: Any, dp: int, tally: _Tally) -> int | None:
        """Count `order` when it is paid, in the window and in a currency with `dp`
        decimals. Returns its currency's exponent when it is paid and in the window."""
        try:
            status = order["status"]
            if status not in PAID_STATUSES:
                if status in UNPAID_STATUSES:
                    return None
                raise ProviderBadResponse(
                    f"unknown order status {quote(status) or repr(status)[:40]} (a plugin's status?)"
                )
            created = _parse_gmt(order["date_created_gmt"])
            if not tally.start <= created < tally.end:
                return None
            currency = normalise_currency(order["currency"])
            exponent = currency_exponent(currency)
            tally.exponents.add(exponent)
            if exponent != dp or order["id"] in tally.seen:
                return exponent
            total = decimal_to_minor(order["total"], currency)
            refunded = sum(abs(decimal_to_minor(refund["total"], currency)) for refund in order.get("refunds") or [])
        except KeyError as exc:
            raise ProviderBadResponse(f"order: field {exc.args[0]!r} is missing", platform=self.key) from None
        except (TypeError, AttributeError):
            raise ProviderBadResponse("orders[] is not shaped as documented", platform=self.key) from None
        except ProviderBadResponse as exc:
            name = quote(str(order.get("id")))[:20] if isinstance(order, dict) else "?"
            raise ProviderBadResponse(f"order {name}: {exc.message}", platform=self.key) from None
        tally.seen.add(order["id"])
        if total - refunded > 0:
            add_amount(tally.amounts, currency, total - refunded)
            tally.count += 1
        return exponent

    def _endpoint(self, store_url: str) -> tuple[str, dict[str, str]]:
        """The orders URL for the store and any extra headers (see the module docstring)."""
        raw = store_url.strip()
        parts = urlsplit(raw if "://" in raw else f"https://{raw}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderAuthError("the connection's store URL is not an http(s) URL", platform=self.key)
        host = parts.netloc.rpartition("@")[2].lower()
        path = parts.path.rstrip("/")
        if self.base_url:
            return f"{self.base_url}{path}{ORDERS_PATH}", {"X-Skeldir-Shop": host}
        if parts.scheme != "https":
            raise ProviderAuthError(
                f"store {host} is plain http: WooCommerce accepts keys over http only with OAuth 1.0a "
                "signatures, which are not supported; reconnect the store with an https URL",
                platform=self.key,
            )
        return f"https://{host}{path}{ORDERS_PATH}", {}

    def _error(self, response: HttpResponse, secrets: list[str]) -> ProviderError:
        body = error_body(response)
        code = body.get("code")
        detail = " ".join(filter(None, (quote(code, secrets), quote(body.get("message"), secrets))))
        if code in AUTH_CODES and response.status not in (401, 403):
            return ProviderAuthError(f"HTTP {response.status}, credentials refused: {detail}", platform=self.key)
        return error_for_status(response, detail=detail)


def _total_pages(response: HttpResponse) -> int | None:
    raw = response.headers.get("X-WP-TotalPages", "").strip()
    return int(raw) if raw.isdigit() else None


def _wall_clock(moment: datetime) -> str:
    """The UTC wall clock to the second, without an offset (see Window in the docstring)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _parse_gmt(value: object) -> datetime:
    """`date_created_gmt`: "YYYY-MM-DDTHH:MM:SS" in UTC (an offset, if ever sent, is honoured)."""
    if not isinstance(value, str):
        raise ProviderBadResponse(f"date_created_gmt {str(value)[:40]!r} is not a date")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ProviderBadResponse(f"date_created_gmt {value[:40]!r} is not a date") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
