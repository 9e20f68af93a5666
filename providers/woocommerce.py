"""WooCommerce: paid orders (processing, completed) created in the window, net of refunds.

Endpoint: GET {store}/wp-json/wc/v3/orders?after=<start>&before=<end>&dates_are_gmt=true
          &status=processing,completed&per_page=100&page=<n>&orderby=date&order=asc
          &_fields=id,status,currency,total,refunds
          The store is the connection's platform_account_id, a URL with an optional path
          (`https://shop.example.com`, `https://example.com/store`; a bare host means
          https). `after`/`before` are the window bounds in UTC (`YYYY-MM-DDTHH:MM:SSZ`);
          `dates_are_gmt=true` makes WooCommerce compare them with the orders' GMT
          creation date rather than the site's local time.
          With an override base URL (OPTIONS `base_url`, e.g. the local simulator) the
          request goes to `{base_url}{store path}/wp-json/wc/v3/orders` and the header
          `X-Skeldir-Shop: <store host>` names the store.
Version:  wc/v3 is in the path; there is no version header.
Auth:     HTTP Basic consumer_key:consumer_secret; the connection's access token holds
          "ck_...:cs_..." (split on the first ':'). Basic auth is only for HTTPS: over plain
          http WooCommerce demands OAuth 1.0a signatures, which this adapter does not do,
          so a plain-http store is refused (auth error) unless an override base URL is set.
          Keys are never sent as query parameters (URLs get logged).
Paging:   a JSON list of orders per page; headers X-WP-Total and X-WP-TotalPages (0 with
          an empty list when nothing matches). Follow `page` to X-WP-TotalPages; without
          the header, stop at the first page shorter than per_page.
Fields:   only those read are asked for (WordPress's `_fields`): an order otherwise carries
          its line items, billing and shipping addresses and meta data, several KB of
          customer data per order that the refresh would download, parse and drop.
          id, status, currency (ISO code), total (decimal string in major units: "12.50",
          "12.5", "1250.0"), refunds[].total (negative decimal strings). Totals are
          formatted with the request's `dp`, which defaults to the store's own price
          decimals, so it is not sent; amounts are converted exactly.
Counts:   status "processing" or "completed" (paid), contributing total minus its refunds;
          an order netting to zero or less is not counted. Pending, on-hold, cancelled,
          refunded, failed and draft orders are excluded (filtered by the query and checked
          again here, since plugins can widen a query).
Check:    `verify_credentials`: GET the orders endpoint with per_page=1 (the permission the
          revenue fetch needs).
Errors:   401/403, or a body code woocommerce_rest_cannot_view /
          woocommerce_rest_authentication_error → auth; 429 → rate limited (`Retry-After`
          when sent, else 30 s); 5xx → upstream; other statuses (e.g. 404 rest_no_route when
          the REST API is off) → upstream; non-JSON or schema violations → bad response.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from providers._common import MAX_PAGES, error_body, error_for_status, iso_utc, quote
from providers.base import (
    CredentialCheck,
    CredentialCheckContext,
    ProviderContext,
    RevenueProvider,
    RevenueResult,
    SourceKind,
)
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderError
from providers.http import HttpConfig, HttpResponse, ProviderHttp
from providers.money import add_amount, decimal_to_minor, normalise_currency

ORDERS_PATH = "/wp-json/wc/v3/orders"
PAGE_SIZE = 100
ORDER_FIELDS = "id,status,currency,total,refunds"  # what _net reads (and the id it names)
PAID_STATUSES = ("processing", "completed")
AUTH_CODES = frozenset({"woocommerce_rest_cannot_view", "woocommerce_rest_authentication_error"})


class WooCommerceProvider(RevenueProvider):
    key = "woocommerce"
    name = "WooCommerce"
    kind = SourceKind.SALES

    def __init__(self, *, base_url: str = "", **http_options: Any) -> None:
        self.base_url = (base_url or "").rstrip("/")
        config = HttpConfig.from_options(getattr(settings, "PROVIDER_HTTP", None), **http_options)
        self.http = ProviderHttp(platform=self.key, config=config)

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
        params: dict[str, Any] = {
            "after": iso_utc(ctx.window_start),
            "before": iso_utc(ctx.window_end),
            "dates_are_gmt": "true",
            "status": ",".join(PAID_STATUSES),
            "per_page": PAGE_SIZE,
            "orderby": "date",
            "order": "asc",
            "_fields": ORDER_FIELDS,
        }
        amounts: dict[str, int] = {}
        count = 0
        for page in range(1, MAX_PAGES + 1):
            response = self.http.request(
                "GET",
                url,
                correlation_id=ctx.correlation_id,
                headers=headers,
                params={**params, "page": page},
                auth=(consumer_key, consumer_secret),
                secrets=[ctx.access_token],
            )
            if not response.ok:
                raise self._error(response, [ctx.access_token, consumer_secret])
            orders = response.json()
            if not isinstance(orders, list):
                raise ProviderBadResponse("orders response is not a JSON list", platform=self.key)
            for order in orders:
                counted = self._net(order)
                if counted:
                    add_amount(amounts, *counted)
                    count += 1
            total_pages = _total_pages(response)
            if not orders or (page >= total_pages if total_pages is not None else len(orders) < PAGE_SIZE):
                return RevenueResult(
                    source_key=self.key, kind=self.kind, amounts=amounts, count=count, as_of=datetime.now(UTC)
                )
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of orders", platform=self.key)

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

    def _net(self, order: Any) -> tuple[str, int] | None:
        """(ISO currency, total net of refunds in minor units) of a counted order, else None."""
        try:
            if order["status"] not in PAID_STATUSES:
                return None
            currency = normalise_currency(order["currency"])
            total = decimal_to_minor(order["total"], currency)
            refunded = sum(abs(decimal_to_minor(refund["total"], currency)) for refund in order.get("refunds") or [])
        except KeyError as exc:
            raise ProviderBadResponse(f"order: field {exc.args[0]!r} is missing", platform=self.key) from None
        except (TypeError, AttributeError):
            raise ProviderBadResponse("orders[] is not shaped as documented", platform=self.key) from None
        except ProviderBadResponse as exc:
            raise ProviderBadResponse(f"order {str(order.get('id'))[:20]}: {exc.message}", platform=self.key) from None
        net = total - refunded
        return (currency, net) if net > 0 else None

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
