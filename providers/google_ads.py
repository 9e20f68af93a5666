"""Google Ads: the conversion value Google claims its campaigns drove today.

Endpoint and version
    POST {base}/v26/customers/{customer_id}/googleAds:search
    API version pinned to v26 (released 14 October 2026; Google sunsets a major version
    about a year after release, v22 went on 7 October 2026). The customer id is the
    connection's `platform_account_id` with everything but digits removed
    (`123-456-7890` → `1234567890`).

Auth headers
    `Authorization: Bearer <OAuth access token>`, `developer-token: <OPTIONS developer_token>`,
    and `login-customer-id: <digits>` when the connection's metadata has
    `login_customer_id` (a manager account reaching a client account). Without a
    developer token no request is sent: the fetch fails with an auth error saying so.

Query (GAQL, JSON body `{"query": …, "pageToken": …}`)
    SELECT customer.currency_code, customer.time_zone, campaign.id, segments.date,
    metrics.conversions_value_by_conversion_date, metrics.conversions_by_conversion_date
    FROM campaign WHERE segments.date DURING TODAY

    Why by conversion date: `metrics.conversions_value` puts a conversion's value on the
    date of the click (or interaction) that led to it, so "today" holds only today's
    clicks that have converted so far, and every earlier day keeps growing for weeks.
    `metrics.conversions_value_by_conversion_date` ("The value of conversions. This only
    includes conversion actions which include_in_conversions_metric attribute is set to
    true. ... When this column is selected with date, the values in date column means the
    conversion date", Google Ads API reference, fields/v26/metrics; the UI's "Conv. value
    (by conv. time)", support.google.com/google-ads/answer/9549009) puts it on the day
    the conversion happened, which is what "claimed today" means. `segments.date` is
    selected because that sentence is what defines the metric's date. The metrics are
    queried FROM campaign, as before; which resources a metric can be selected with is
    listed per resource (fields/v26/campaign, fields/v26/customer), and public GAQL
    selects these two FROM campaign and FROM customer alike (the simulator serves both).

    Whose day: "All date ranges and time periods are evaluated relative to the serving
    account's time zone (customer.time_zone), rather than UTC or the API client's local
    time zone" (Google Ads API guide, Query grammar → Date ranges). So `DURING TODAY` is
    the ad account's today, whatever the tenant's zone; the context's window is not sent.
    `customer.time_zone` ("Immutable. The local timezone ID of the customer", an IANA
    name such as `America/New_York`; fields/v26/customer) is selected and reported with
    the figure;
    `segments.date` of the rows is the account's date. A name the tz database does not
    know, rows naming different zones or dates, or a row without them → bad response.

    No rows: segmenting (selecting `segments.date`) leaves out every row whose selected
    metrics are all zero (Google Ads API guide, Reporting → Zero metrics), so a day with
    no conversions yet returns no rows and therefore no time zone. Only then a second
    search, `SELECT customer.time_zone FROM customer` (no metrics: always the customer's
    one row), learns the zone, and the date is today in it. A refresh makes one search
    per page of results (one page in practice: the API's page size is 10,000 rows), plus
    that one search on a day without conversions.

    Pages are followed with `pageToken` = the previous `nextPageToken`; more than 1,000
    pages, or a token that repeats, is a bad response.

Response and units
    `{"results": [{"customer": {"currencyCode": "USD", "timeZone": "America/New_York"},
    "campaign": {"resourceName", "id"}, "segments": {"date": "2026-06-03"}, "metrics":
    {"conversionsValueByConversionDate": 123.45, "conversionsByConversionDate": 3.0}}],
    "nextPageToken", "fieldMask"}`. The value is a double in the account currency's major
    unit (parsed exactly as a Decimal), summed per currency and rounded half-even once to
    the minor unit: it is a modelled figure, not a charged amount. The count is also a
    double (data-driven attribution splits conversions across campaigns); `count` is the
    sum, rounded down to an integer. proto3 JSON may omit a metric that is zero: it reads
    as zero.

What counts (claimed), and its basis
    All conversion actions Google includes in "Conversions" for the account (primary
    actions, `include_in_conversions_metric`), each under its own attribution model and
    lookback window (set per conversion action in Google Ads, not by the query), for every
    campaign of the account, on the conversion's date. The result's basis says so:
    measure `conversions_value_by_conversion_date`, the account's zone and date, and that
    attribution. Claimed revenue is reported beside sales, never added to it.

Errors (`{"error": {"code", "message", "status", "details": [GoogleAdsFailure]}}`)
    - 401 / UNAUTHENTICATED, 403 / PERMISSION_DENIED → auth.
    - 429 / RESOURCE_EXHAUSTED → rate limited; retry_after = `Retry-After` when present,
      else `error.details[].errors[].details.quotaErrorDetails.retryDelay` ("30s"),
      else 30 s.
    - 5xx (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED) after the session's retries (the search
      is a read, so POST is retried) → upstream; other 4xx (INVALID_ARGUMENT, NOT_FOUND) →
      upstream naming the status; an unparseable body or a missing field → bad response.

Check (`verify_credentials`)
    GET {base}/v26/customers:listAccessibleCustomers with the same headers →
    `{"resourceNames": ["customers/1234567890", …]}`: the customers the OAuth user can reach
    directly, returned as digit strings (the identity of an OAuth grant).

Token refresh (`supports_token_refresh`)
    POST {token_url} (https://oauth2.googleapis.com/token), form `grant_type=refresh_token`,
    `client_id`, `client_secret` (OPTIONS) and the connection's `refresh_token` →
    `{"access_token", "expires_in", "scope", "token_type"}`. `invalid_grant` (refresh
    token expired or revoked) and `unauthorized_client` (issued to another client) →
    token revoked, only reconnecting helps; `invalid_client` (our OAuth client is wrong) →
    auth; 429 → rate limited; 5xx and transport failures → transient errors. The refresh
    token, client secret and new access token never appear in a message or a log line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from providers._common import DEFAULT_RETRY_AFTER, error_for_status, platform_time_zone, quote
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
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTokenRevoked,
)
from providers.http import HttpConfig, HttpResponse, ProviderHttp, retry_after_seconds
from providers.money import decimal_to_minor, normalise_currency

API_VERSION = "v26"
DEFAULT_BASE_URL = "https://googleads.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
MAX_PAGES = 1_000
QUERY = (
    "SELECT customer.currency_code, customer.time_zone, campaign.id, segments.date, "
    "metrics.conversions_value_by_conversion_date, metrics.conversions_by_conversion_date "
    "FROM campaign WHERE segments.date DURING TODAY"
)
# Only when QUERY returned no rows: the account's zone (a query without metrics always has the row).
ZONE_QUERY = "SELECT customer.time_zone FROM customer"
MEASURE = "conversions_value_by_conversion_date"
ATTRIBUTION = (
    "each conversion action's own attribution model and lookback window "
    "(primary actions, included in Conversions), by conversion date"
)
AUTH_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
REVOKED_GRANT_ERRORS = frozenset({"invalid_grant", "unauthorized_client"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class GoogleAdsProvider(RevenueProvider):
    key = "google_ads"
    name = "Google Ads"
    kind = SourceKind.CLAIMED
    supports_token_refresh = True

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        developer_token: str = "",
        client_id: str = "",
        client_secret: str = "",
        **http_options: Any,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self._developer_token = developer_token
        self._client_id = client_id
        self._client_secret = client_secret
        self.http = ProviderHttp(
            platform=self.key,
            config=HttpConfig.from_options(settings.PROVIDER_HTTP, **http_options),
            # search and listAccessibleCustomers are reads; the refresh grant does not rotate
            retry_methods=("GET", "POST"),
        )

    def _require_developer_token(self) -> None:
        if not self._developer_token:
            raise ProviderAuthError(
                "no Google Ads developer token is configured (GOOGLE_ADS_DEVELOPER_TOKEN); "
                "every API call needs the developer-token header",
                platform=self.key,
            )

    # --- identity -----------------------------------------------------------------------
    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        self._require_developer_token()
        token = ctx.access_token or ""
        secrets = (token, self._developer_token)
        response = self.http.request(
            "GET",
            f"{self.base_url}/{API_VERSION}/customers:listAccessibleCustomers",
            correlation_id=ctx.correlation_id,
            headers={"Authorization": f"Bearer {token}", "developer-token": self._developer_token},
            secrets=secrets,
        )
        payload = self._payload(response, secrets)
        names = payload.get("resourceNames", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProviderBadResponse(
                "response field resourceNames is not a list of strings", platform=self.key, status=response.status
            )
        ids = [_digits(name.rpartition("/")[2]) for name in names]
        return CredentialCheck(account_ids=tuple(i for i in ids if i))

    # --- revenue ----------------------------------------------------------------------
    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        self._require_developer_token()
        customer_id = _digits(ctx.platform_account_id)
        if not customer_id:
            raise ProviderAuthError(
                "the connection's account id is not a Google Ads customer id; reconnect the account",
                platform=self.key,
            )
        url = f"{self.base_url}/{API_VERSION}/customers/{customer_id}/googleAds:search"
        headers = {"Authorization": f"Bearer {ctx.access_token}", "developer-token": self._developer_token}
        login_customer_id = _digits(str(ctx.connection_metadata.get("login_customer_id") or ""))
        if login_customer_id:
            headers["login-customer-id"] = login_customer_id
        secrets = (ctx.access_token, self._developer_token)

        values: dict[str, Decimal] = {}
        conversions = Decimal(0)
        days: set[tuple[str, date]] = set()  # (time zone, date) of every row
        for payload, response in self._search(url, QUERY, ctx, headers, secrets):
            try:
                rows = payload.get("results", [])
                if not isinstance(rows, list):
                    raise ProviderBadResponse("response field results is not a list")
                for index, row in enumerate(rows):
                    currency, value, converted, day = _row(row, f"results[{index}]")
                    values[currency] = values.get(currency, Decimal(0)) + value
                    conversions += converted
                    days.add(day)
                if len(days) > 1:
                    raise ProviderBadResponse(f"rows name more than one time zone or date: {sorted(days)}")
            except ProviderBadResponse as exc:
                exc.platform = exc.platform or self.key
                exc.status = exc.status or response.status
                raise
        if days:
            zone_name, today = days.pop()
        else:  # no conversions today: no rows, so ask the customer for its zone
            zone_name = self._time_zone(url, ctx, headers, secrets)
            today = datetime.now(ZoneInfo(zone_name)).date()
        return self.result(
            amounts={c: decimal_to_minor(v, c, exact=False) for c, v in values.items()},
            count=int(conversions.to_integral_value(rounding=ROUND_FLOOR)),
            basis=Basis(measure=MEASURE, time_zone=zone_name, date=today, attribution=ATTRIBUTION),
        )

    def _search(
        self, url: str, query: str, ctx: ProviderContext, headers: dict[str, str], secrets: tuple[str, ...]
    ) -> Iterator[tuple[dict[str, Any], HttpResponse]]:
        """Every page of one search, as (payload, response)."""
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            body: dict[str, Any] = {"query": query}
            if page_token:
                body["pageToken"] = page_token
            response = self.http.request(
                "POST", url, correlation_id=ctx.correlation_id, headers=headers, json_body=body, secrets=secrets
            )
            payload = self._payload(response, secrets)
            next_token = payload.get("nextPageToken")
            if next_token is not None and not isinstance(next_token, str):
                raise ProviderBadResponse(
                    "response field nextPageToken is not a string", platform=self.key, status=response.status
                )
            yield payload, response
            if not next_token:
                return
            if next_token == page_token:
                raise ProviderBadResponse("nextPageToken did not advance", platform=self.key, status=response.status)
            page_token = next_token
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of results for one query", platform=self.key)

    def _time_zone(self, url: str, ctx: ProviderContext, headers: dict[str, str], secrets: tuple[str, ...]) -> str:
        """customer.time_zone, from ZONE_QUERY's one row."""
        for payload, response in self._search(url, ZONE_QUERY, ctx, headers, secrets):
            rows = payload.get("results")
            first = rows[0] if isinstance(rows, list) and rows else None
            customer = first.get("customer") if isinstance(first, dict) else None
            try:
                if not isinstance(customer, dict) or "timeZone" not in customer:
                    raise ProviderBadResponse("response is missing results[0].customer.timeZone")
                platform_time_zone(customer["timeZone"], "results[0].customer.timeZone")
            except ProviderBadResponse as exc:
                exc.platform, exc.status = self.key, response.status
                raise
            return str(customer["timeZone"])
        raise ProviderBadResponse("the customer query returned no pages", platform=self.key)  # pragma: no cover

    def _payload(self, response: HttpResponse, secrets: tuple[str, ...]) -> dict[str, Any]:
        payload: Any = None
        try:
            payload = response.json()
        except ProviderBadResponse:
            if response.ok:
                raise
        if response.ok:
            if not isinstance(payload, dict):
                raise ProviderBadResponse(
                    "response body is not a JSON object", platform=self.key, status=response.status
                )
            return payload
        raise self._error(response, payload, secrets)

    def _error(self, response: HttpResponse, payload: Any, secrets: tuple[str, ...]) -> ProviderError:
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        status_name = error.get("status") if isinstance(error.get("status"), str) else ""
        detail = _describe(error, secrets)
        if response.status in (401, 403) or status_name in AUTH_STATUSES:
            return ProviderAuthError(
                f"HTTP {response.status} {status_name}: {detail}".rstrip(": "),
                platform=self.key,
                status=response.status,
            )
        if response.status == 429 or status_name == "RESOURCE_EXHAUSTED":
            wait = retry_after_seconds(response.headers) or _retry_delay(error) or DEFAULT_RETRY_AFTER
            return ProviderRateLimited(
                f"HTTP {response.status} {status_name or 'RESOURCE_EXHAUSTED'}: {detail}".rstrip(": "),
                platform=self.key,
                status=response.status,
                retry_after=wait,
            )
        return error_for_status(response, detail=f"{status_name} {detail}".strip())

    # --- token refresh ----------------------------------------------------------------
    def refresh_token(self, ctx: TokenRefreshContext) -> RefreshedToken:
        if not self._client_id or not self._client_secret:
            raise ProviderAuthError(
                "no Google OAuth client is configured (GOOGLE_OAUTH_CLIENT_ID / GOOGLE_OAUTH_CLIENT_SECRET)",
                platform=self.key,
            )
        if not ctx.refresh_token:
            raise ProviderTokenRevoked("the connection has no refresh token; reconnect the account", platform=self.key)
        secrets = (ctx.refresh_token, self._client_secret)
        response = self.http.request(
            "POST",
            self.token_url,
            correlation_id=ctx.correlation_id,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data={
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "refresh_token": ctx.refresh_token,
            },
            secrets=secrets,
        )
        payload: Any = None
        try:
            payload = response.json()
        except ProviderBadResponse:
            if response.ok:
                raise
        if not response.ok:
            raise self._grant_error(response, payload, secrets)
        if not isinstance(payload, dict):
            raise ProviderBadResponse("token response is not a JSON object", platform=self.key, status=response.status)
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ProviderBadResponse(
                "token response is missing access_token", platform=self.key, status=response.status
            )
        expires_in = payload.get("expires_in")
        expires_at = None
        if expires_in is not None:
            try:
                seconds = int(_number(expires_in, "expires_in"))
            except ProviderBadResponse as exc:
                exc.platform, exc.status = self.key, response.status
                raise
            expires_at = datetime.now(UTC) + timedelta(seconds=seconds)
        new_refresh = payload.get("refresh_token")
        return RefreshedToken(
            access_token=access_token,
            refresh_token=new_refresh if isinstance(new_refresh, str) and new_refresh else None,
            expires_at=expires_at,
            scope=payload.get("scope") if isinstance(payload.get("scope"), str) else None,
            token_type=payload.get("token_type") if isinstance(payload.get("token_type"), str) else None,
        )

    def _grant_error(self, response: HttpResponse, payload: Any, secrets: tuple[str, ...]) -> ProviderError:
        code = payload.get("error") if isinstance(payload, dict) else None
        code = code if isinstance(code, str) else ""
        description = quote(payload.get("error_description"), secrets) if isinstance(payload, dict) else ""
        detail = f"{code}: {description}".strip(": ") if code else description
        if code in REVOKED_GRANT_ERRORS:
            return ProviderTokenRevoked(
                f"refresh refused ({detail}); reconnect the account", platform=self.key, status=response.status
            )
        if code == "invalid_client":
            return ProviderAuthError(
                f"the OAuth client was refused ({detail}); check GOOGLE_OAUTH_CLIENT_ID/SECRET",
                platform=self.key,
                status=response.status,
            )
        if response.status in (401, 403):
            return ProviderAuthError(
                f"HTTP {response.status} from the token endpoint: {detail}".rstrip(": "),
                platform=self.key,
                status=response.status,
            )
        return error_for_status(response, detail=detail)


# --- parsing helpers ------------------------------------------------------------------
def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _row(row: Any, where: str) -> tuple[str, Decimal, Decimal, tuple[str, date]]:
    """(currency, conversion value and conversions by conversion date, (time zone, date))
    of one result row."""
    if not isinstance(row, dict):
        raise ProviderBadResponse(f"response field {where} is not an object")
    customer = row.get("customer")
    if not isinstance(customer, dict) or "currencyCode" not in customer:
        raise ProviderBadResponse(f"response is missing {where}.customer.currencyCode")
    currency = normalise_currency(customer["currencyCode"])
    if "timeZone" not in customer:
        raise ProviderBadResponse(f"response is missing {where}.customer.timeZone")
    platform_time_zone(customer["timeZone"], f"{where}.customer.timeZone")
    segments = row.get("segments")
    raw_date = segments.get("date") if isinstance(segments, dict) else None
    try:
        day = date.fromisoformat(raw_date) if isinstance(raw_date, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ProviderBadResponse(f"response field {where}.segments.date is missing or not a date")
    metrics = row.get("metrics", {})
    if not isinstance(metrics, dict):
        raise ProviderBadResponse(f"response field {where}.metrics is not an object")
    value = f"{where}.metrics.conversionsValueByConversionDate"
    count = f"{where}.metrics.conversionsByConversionDate"
    return (
        currency,
        _number(metrics.get("conversionsValueByConversionDate", 0), value),
        _number(metrics.get("conversionsByConversionDate", 0), count),
        (customer["timeZone"], day),
    )


def _number(value: Any, where: str) -> Decimal:
    """A double from proto3 JSON: a number (parsed as Decimal) or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ProviderBadResponse(f"response field {where} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProviderBadResponse(f"response field {where} is not a number") from None
    if not number.is_finite():
        raise ProviderBadResponse(f"response field {where} is not a finite number")
    return number


def _failures(error: dict[str, Any]) -> list[dict[str, Any]]:
    """The GoogleAdsError entries of every GoogleAdsFailure in `error.details`."""
    found: list[dict[str, Any]] = []
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        errors = detail.get("errors") if isinstance(detail, dict) else None
        found += [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    return found


def _describe(error: dict[str, Any], secrets: tuple[str, ...]) -> str:
    """`authenticationError=OAUTH_TOKEN_EXPIRED: message`, from the first GoogleAdsError
    when there is one, else the status message; redacted and cut short."""
    for failure in _failures(error):
        code = failure.get("errorCode")
        label = ""
        if isinstance(code, dict) and code:
            name, value = next(iter(code.items()))
            label = f"{name}={value}"
        message = failure.get("message") if isinstance(failure.get("message"), str) else ""
        return quote(f"{label}: {message}".strip(": "), secrets)
    return quote(error.get("message"), secrets)


def _retry_delay(error: dict[str, Any]) -> int | None:
    """quotaErrorDetails.retryDelay ("30s", a protobuf Duration) as whole seconds."""
    for failure in _failures(error):
        details = failure.get("details")
        quota = details.get("quotaErrorDetails") if isinstance(details, dict) else None
        delay = quota.get("retryDelay") if isinstance(quota, dict) else None
        match = _DURATION.match(delay) if isinstance(delay, str) else None
        if match:
            return max(1, math.ceil(Decimal(match.group(1))))
    return None
