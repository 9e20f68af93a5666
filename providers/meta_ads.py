"""Meta (Facebook/Instagram) Ads: the purchase value Meta claims the account's campaigns
drove today, from the Ads Insights API.

Endpoint and version
    GET {base}/v27.0/act_{ad_account_id}/insights
        ?level=campaign&date_preset=today&fields=account_currency,action_values,actions
        &action_report_time=conversion&action_attribution_windows=["7d_click","1d_view"]
        &limit=100[&after=<cursor>]
    GET {base}/v27.0/act_{ad_account_id}?fields=timezone_name
    Graph/Marketing API version pinned to v27.0 (released 4 November 2026; v24.0 expired on
    10 November 2026). The ad account id is the connection's `platform_account_id`, with or
    without the `act_` prefix.

Auth
    `Authorization: Bearer <token>` only. The `access_token` query parameter is never used:
    URLs end up in logs and proxies.

Attribution, pinned (Ad Account Insights reference, parameters table,
developers.facebook.com/docs/marketing-api/reference/ad-account/insights)
    `action_report_time` (enum impression, conversion, mixed, lifetime; the reference names
    no default) decides which day an action is reported on: "if a person saw the ad on Jan
    1st but converted on Jan 2nd, ... with action_report_time=impression, you see a
    conversion on Jan 1st ... with action_report_time=conversion, you see a conversion on
    Jan 2nd". We send `conversion`: a purchase lands on the day it happened, as Google's
    by-conversion-date value does, so "today" is today's purchases and an earlier day does
    not grow when yesterday's viewers buy today.
    `action_attribution_windows` (list of 1d_view, 7d_view, 28d_view, 1d_click, 7d_click,
    28d_click, 1d_ev, dda, default, ...; "Default value: default ... The default option
    means ["7d_click","1d_view"]") is sent as that default, spelt out: it is the ad sets'
    default attribution setting (Meta Business Help Center, "About the attribution
    setting": 1- or 7-day click-through, 1-day view-through), so the figure matches Ads
    Manager for most accounts, and naming it keeps the figure fixed if Meta's default moves
    (it already differs for some campaign types, and 1-day engaged view, `1d_ev`, is not
    included). The request's basis reports `action_report_time=conversion;
    windows=7d_click,1d_view`.

Window
    `date_preset=today` is Meta's today for the ad account; every row's `date_start` /
    `date_stop` is that date (all rows must agree, else bad response). The context's window
    is not sent. The account's zone comes from the ad account node: `timezone_name`
    ("Name for the time zone", an IANA name; Ad Account reference,
    developers.facebook.com/docs/marketing-api/reference/ad-account) — the Insights rows
    carry no time zone field. A name the tz database does not know → bad response. With no
    rows (an account without delivery today) the date is today in that zone.

Calls per refresh
    The insights pages (100 campaigns a page: one page in practice), then one read of the
    ad account node, `fields=timezone_name` only: two calls for most accounts.

Pagination
    The response's `paging.next` says whether another page exists. The adapter does not
    request that URL as given (it would send the bearer token wherever a response points,
    and the URL may carry query parameters we never chose); it repeats its own request with
    `after = paging.cursors.after` (or the `after` parameter of `next` when the cursors are
    absent). More than 1,000 pages, or a cursor that does not advance, is a bad response.

Response, units and what counts (claimed)
    `{"data": [{"account_currency": "USD", "action_values": [{"action_type":
    "omni_purchase", "value": "12.50", "7d_click": "10", "1d_view": "2.5"}, …], "actions":
    [{"action_type": "omni_purchase", "value": "2", "7d_click": "1", "1d_view": "1"}, …],
    "campaign_id", "date_start", "date_stop"}], "paging": {"cursors": {"before", "after"},
    "next"}}`. Values are numeric strings in the account currency's major unit. Exactly
    one action type is counted: `omni_purchase`, Meta's de-duplicated purchase total
    across the pixel/Conversions API (`offsite_conversion.fb_pixel_purchase`), app events
    (`app_custom_event.fb_mobile_purchase`), offline and on-Meta purchases. Those
    per-source types (and the generic `purchase`) overlap with it, so adding any of them
    would count the same sale twice.
    Of each `omni_purchase` entry the keys of the pinned windows are added, `7d_click` +
    `1d_view` ("Metric value of attribution window ..."; Ads Action Stats reference,
    developers.facebook.com/docs/marketing-api/reference/ads-action-stats); a window
    without purchases may be left out and counts zero. They do not overlap: a view-through
    purchase is one whose viewer did not click (Help Center, "About the attribution
    setting"). `value` is documented only as "Metric value of default attribution window"
    and is not read; an entry that has a non-zero `value` but neither window key is a bad
    response (the answer did not honour the windows we pinned). Values are summed per
    currency and rounded half-even once to the minor unit (a modelled, attributed figure,
    not a charged amount); `count` is the summed `omni_purchase` actions of the same
    windows, rounded down. A row without `action_values` / `actions` (no conversions
    today) counts zero.

Check (`verify_credentials`)
    GET {base}/v27.0/me/adaccounts?fields=account_id&limit=100 (following `after` cursors,
    at most 10 pages): the ad accounts the token's user can read, returned as `act_<id>`
    (the identity of an OAuth grant).

Errors (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`)
    - code 190 (OAuthException: expired or revoked token), 102, 10 and 200–299
      (permissions), and otherwise HTTP 401/403 → auth.
    - codes 4, 17, 32, 613 and 80000–80014 (app, user, page, custom and business-use-case
      throttles), arriving as HTTP 400 or 403 (or 429) → rate limited; retry_after =
      `Retry-After` when present, else the largest `estimated_time_to_regain_access`
      (minutes) in `X-Business-Use-Case-Usage`, else `reset_time_duration` (seconds) in
      `X-Ad-Account-Usage`, else 30 s.
    - codes 1 and 2 (unknown / temporary service error) and 5xx after the session's
      retries → upstream; any other refusal → upstream naming the status and code; an
      unparseable body or a missing field → bad response.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings

from providers._common import DEFAULT_RETRY_AFTER, error_for_status, platform_time_zone, quote
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
from providers.money import decimal_to_minor, normalise_currency

API_VERSION = "v27.0"
PAGE_SIZE = 100
MAX_PAGES = 1_000
PURCHASE_ACTION = "omni_purchase"
FIELDS = "account_currency,action_values,actions"
REPORT_TIME = "conversion"
WINDOWS = ("7d_click", "1d_view")
MEASURE = "omni_purchase_value"
ATTRIBUTION = f"action_report_time={REPORT_TIME}; windows={','.join(WINDOWS)}"
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({102, 190, 10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
_ACCOUNT_ID = re.compile(r"^(?:act_)?(\d+)$")
MAX_ACCOUNT_PAGES = 10


class MetaAdsProvider(RevenueProvider):
    key = "meta_ads"
    name = "Meta Ads"
    kind = SourceKind.CLAIMED

    def __init__(self, *, base_url: str = "https://graph.facebook.com", **http_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = ProviderHttp(
            platform=self.key, config=HttpConfig.from_options(settings.PROVIDER_HTTP, **http_options)
        )

    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        token = ctx.access_token or ""
        url = f"{self.base_url}/{API_VERSION}/me/adaccounts"
        params = {"fields": "account_id", "limit": str(PAGE_SIZE)}
        found: list[str] = []
        cursor: str | None = None
        for _ in range(MAX_ACCOUNT_PAGES):
            response = self.http.request(
                "GET",
                url,
                correlation_id=ctx.correlation_id,
                headers={"Authorization": f"Bearer {token}"},
                params={**params, "after": cursor} if cursor else params,
                secrets=(token,),
            )
            payload = self._payload(response, token)
            try:
                rows = payload.get("data")
                if not isinstance(rows, list):
                    raise ProviderBadResponse("response is missing data (a list of ad accounts)")
                for row in rows:
                    raw = (row.get("account_id") or row.get("id")) if isinstance(row, dict) else None
                    match = _ACCOUNT_ID.match(raw) if isinstance(raw, str) else None
                    if not match:
                        raise ProviderBadResponse("data[] holds an entry without an ad account id")
                    found.append(f"act_{match.group(1)}")
                next_cursor = _next_cursor(payload.get("paging"))
            except ProviderBadResponse as exc:
                exc.platform = exc.platform or self.key
                exc.status = exc.status or response.status
                raise
            if next_cursor is None or next_cursor == cursor:
                break
            cursor = next_cursor
        return CredentialCheck(account_ids=tuple(dict.fromkeys(found)))

    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        match = _ACCOUNT_ID.match((ctx.platform_account_id or "").strip())
        if not match:
            raise ProviderAuthError(
                "the connection's account id is not a Meta ad account id (act_<digits>); reconnect the account",
                platform=self.key,
            )
        account_url = f"{self.base_url}/{API_VERSION}/act_{match.group(1)}"
        url = f"{account_url}/insights"
        headers = {"Authorization": f"Bearer {ctx.access_token}"}
        params = {
            "level": "campaign",
            "date_preset": "today",
            "fields": FIELDS,
            "action_report_time": REPORT_TIME,
            "action_attribution_windows": json.dumps(list(WINDOWS), separators=(",", ":")),
            "limit": str(PAGE_SIZE),
        }

        values: dict[str, Decimal] = {}
        purchases = Decimal(0)
        days: set[date] = set()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            query = {**params, "after": cursor} if cursor else params
            response = self.http.request(
                "GET",
                url,
                correlation_id=ctx.correlation_id,
                headers=headers,
                params=query,
                secrets=(ctx.access_token,),
            )
            payload = self._payload(response, ctx.access_token)
            try:
                rows = payload.get("data")
                if not isinstance(rows, list):
                    raise ProviderBadResponse("response is missing data (a list of insights rows)")
                for index, row in enumerate(rows):
                    currency, value, count, day = _row(row, f"data[{index}]")
                    values[currency] = values.get(currency, Decimal(0)) + value
                    purchases += count
                    days.add(day)
                if len(days) > 1:
                    raise ProviderBadResponse(f"rows cover more than one day: {sorted(days)}")
                next_cursor = _next_cursor(payload.get("paging"))
            except ProviderBadResponse as exc:
                exc.platform = exc.platform or self.key
                exc.status = exc.status or response.status
                raise
            if next_cursor is None:
                zone = self._time_zone(account_url, ctx)
                return self.result(
                    amounts={c: decimal_to_minor(v, c, exact=False) for c, v in values.items()},
                    count=int(purchases.to_integral_value(rounding=ROUND_FLOOR)),
                    basis=Basis(
                        measure=MEASURE,
                        time_zone=zone,
                        date=days.pop() if days else datetime.now(ZoneInfo(zone)).date(),
                        attribution=ATTRIBUTION,
                    ),
                )
            if next_cursor == cursor:
                raise ProviderBadResponse("paging cursor did not advance", platform=self.key, status=response.status)
            cursor = next_cursor
        raise ProviderBadResponse(f"more than {MAX_PAGES} pages of insights for one day", platform=self.key)

    def _time_zone(self, account_url: str, ctx: ProviderContext) -> str:
        """The ad account's `timezone_name`, validated against the tz database."""
        response = self.http.request(
            "GET",
            account_url,
            correlation_id=ctx.correlation_id,
            headers={"Authorization": f"Bearer {ctx.access_token}"},
            params={"fields": "timezone_name"},
            secrets=(ctx.access_token,),
        )
        payload = self._payload(response, ctx.access_token)
        try:
            if "timezone_name" not in payload:
                raise ProviderBadResponse("response is missing timezone_name (the ad account's time zone)")
            platform_time_zone(payload["timezone_name"], "timezone_name")
        except ProviderBadResponse as exc:
            exc.platform, exc.status = self.key, response.status
            raise
        return str(payload["timezone_name"])

    def _payload(self, response: HttpResponse, token: str) -> dict[str, Any]:
        payload: Any = None
        try:
            payload = response.json()
        except ProviderBadResponse:
            if response.ok:
                raise
        error = payload.get("error") if isinstance(payload, dict) else None
        if response.ok and not error:
            if not isinstance(payload, dict):
                raise ProviderBadResponse(
                    "response body is not a JSON object", platform=self.key, status=response.status
                )
            return payload
        raise self._error(response, error if isinstance(error, dict) else {}, token)

    def _error(self, response: HttpResponse, error: dict[str, Any], token: str) -> ProviderError:
        code = error.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        subcode = error.get("error_subcode")
        label = ""
        if code is not None:
            label = f"code {code}/{subcode}" if isinstance(subcode, int) else f"code {code}"
        message = quote(error.get("message"), [token])
        detail = f"{label}: {message}".strip(": ")
        if code in THROTTLE_CODES or response.status == 429:
            wait = retry_after_seconds(response.headers) or _usage_hint(response.headers) or DEFAULT_RETRY_AFTER
            return ProviderRateLimited(
                f"throttled (HTTP {response.status}, {detail})",
                platform=self.key,
                status=response.status,
                retry_after=wait,
            )
        if code in AUTH_CODES or response.status in (401, 403):
            return ProviderAuthError(
                f"access refused (HTTP {response.status}, {detail})", platform=self.key, status=response.status
            )
        if code in TRANSIENT_CODES:
            return ProviderUnavailable(
                f"temporary platform error (HTTP {response.status}, {detail})",
                platform=self.key,
                status=response.status,
            )
        if response.ok:  # an error object in a 200
            return ProviderUnavailable(f"error in a 200 response ({detail})", platform=self.key, status=response.status)
        return error_for_status(response, detail=detail)


# --- parsing helpers ------------------------------------------------------------------
def _row(row: Any, where: str) -> tuple[str, Decimal, Decimal, date]:
    """(currency, omni_purchase value, omni_purchase count, the row's day) of one insights row."""
    if not isinstance(row, dict):
        raise ProviderBadResponse(f"response field {where} is not an object")
    if "account_currency" not in row:
        raise ProviderBadResponse(f"response is missing {where}.account_currency")
    currency = normalise_currency(row["account_currency"])
    start, stop = row.get("date_start"), row.get("date_stop")
    try:
        day = date.fromisoformat(start) if isinstance(start, str) and start == stop else None
    except ValueError:
        day = None
    if day is None:
        raise ProviderBadResponse(f"response fields {where}.date_start/date_stop are not one date")
    return (
        currency,
        _action_total(row.get("action_values", []), f"{where}.action_values"),
        _action_total(row.get("actions", []), f"{where}.actions"),
        day,
    )


def _action_total(entries: Any, where: str) -> Decimal:
    """The pinned windows' total of the `omni_purchase` entries of an action stats list."""
    if not isinstance(entries, list):
        raise ProviderBadResponse(f"response field {where} is not a list")
    total = Decimal(0)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "action_type" not in entry:
            raise ProviderBadResponse(f"response is missing {where}[{index}].action_type")
        if entry["action_type"] != PURCHASE_ACTION:
            continue
        here = f"{where}[{index}]"
        if not any(window in entry for window in WINDOWS):
            if _numeric(entry.get("value", "0"), f"{here}.value"):
                raise ProviderBadResponse(f"{here} has a value but none of the windows {', '.join(WINDOWS)}")
            continue
        total += sum((_numeric(entry[w], f"{here}.{w}") for w in WINDOWS if w in entry), Decimal(0))
    return total


def _numeric(value: Any, where: str) -> Decimal:
    """Meta's numeric string, exactly."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ProviderBadResponse(f"response field {where} is not a numeric string")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProviderBadResponse(f"response field {where} is not a numeric string") from None
    if not number.is_finite():
        raise ProviderBadResponse(f"response field {where} is not a finite number")
    return number


def _next_cursor(paging: Any) -> str | None:
    """The `after` cursor of the next page, or None on the last page."""
    if paging is None:
        return None
    if not isinstance(paging, dict):
        raise ProviderBadResponse("response field paging is not an object")
    next_url = paging.get("next")
    if not next_url:
        return None
    cursors = paging.get("cursors")
    after: Any = cursors.get("after") if isinstance(cursors, dict) else None
    if not after and isinstance(next_url, str):
        after = next(iter(parse_qs(urlsplit(next_url).query).get("after", [])), None)
    if not isinstance(after, str) or not after:
        raise ProviderBadResponse("paging.next is set but paging.cursors.after is missing")
    return after


def _usage_hint(headers: Any) -> int | None:
    """Seconds until access returns, from Meta's usage headers: the largest
    `estimated_time_to_regain_access` (minutes) of any business use case, else the ad
    account's `reset_time_duration` (seconds)."""
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in _json_header(headers, "X-Business-Use-Case-Usage").values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    waits = [math.ceil(m) * 60 for m in minutes if _positive(m)]
    if waits:
        return max(waits)
    reset = _json_header(headers, "X-Ad-Account-Usage").get("reset_time_duration")
    return math.ceil(reset) if _positive(reset) else None


def _positive(value: Any) -> TypeGuard[int | Decimal]:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value > 0


def _json_header(headers: Any, name: str) -> dict[str, Any]:
    raw = headers.get(name)
    if not raw:
        return {}
    try:
        parsed = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
