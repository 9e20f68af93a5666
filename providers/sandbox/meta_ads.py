"""Simulated Meta (Facebook) Marketing API: ad account insights.

GET /<version, e.g. v23.0>/act_<id>/insights?level=account|campaign
&date_preset=today|yesterday|last_7d|last_14d|last_30d (default last_30d) or
time_range={"since","until"}&fields=<comma list from FIELDS>&limit (default 25)&after.
Token: `Authorization: Bearer` or the access_token parameter (Meta takes both).
A node without `act_` is refused as Meta does (code 100, subcode 33). The account is
the id without `act_`; its time zone is `data.account_zone` (the first digit of the id),
and `today`, `yesterday`, ... and `time_range` dates are days in that zone.

Attribution: each purchase has a touch before it, a click (70%) or a view, hours to 27
days earlier (`touch`). `action_attribution_windows` (a JSON list or a comma list; Meta's
documented enum, `default` meaning ["7d_click","1d_view"]) selects which purchases count:
the purchase totals (`omni_purchase`, `purchase`) carry one key per requested window
(`"7d_click": "3"`, left out when zero), and every entry's `value` is the default window.
`action_report_time` (impression|conversion|mixed) puts a purchase on its conversion day,
on its touch's day, or (`mixed`) on-Meta purchases on the touch's day and website purchases
on the conversion day. A value outside Meta's enums is refused with code 100 as Meta does;
enum values the simulator does not model (`lifetime`, `dda`, `1d_ev`, `skan_*`, ...) are
refused too, saying so. Without the parameters: `mixed` and the default windows.
Other action types carry only `value`.

GET /<version>/act_<id>?fields=id,account_id,name,currency,timezone_name,
timezone_offset_hours_utc → the ad account node (default fields: id); another field is
refused as Meta refuses it (code 100, "Tried accessing nonexisting field").

Rows hold only the requested fields plus date_start / date_stop; a campaign with no
actions has no `actions` / `action_values` keys at all, as on Meta. Values are decimal
strings. Each purchase is reported under several action types (omni_purchase, purchase,
and offsite_conversion.fb_pixel_purchase or onsite_web_purchase), next to non-purchase
types (add_to_cart with a value, link_click, landing_page_view): only one purchase type
may be counted. Pages hold at most 5 rows (whatever `limit` says) so that paging runs;
`paging.next` is an absolute URL back to this simulator.

Facebook Login (www.facebook.com / graph.facebook.com on the real platform; see `oauth`
for what is shared):
GET         /<version>/dialog/oauth?client_id&redirect_uri&state&scope&response_type=code
            &code_challenge&code_challenge_method → 302 redirect_uri?code&state (or
            error=access_denied&error_reason=user_denied).
GET|POST    /<version>/oauth/access_token with client_id, client_secret, redirect_uri (the
            authorize one), code, code_verifier (when a challenge was sent) → a short-lived
            user token {access_token, token_type, expires_in: 3600}; with
            grant_type=fb_exchange_token&fb_exchange_token=<short-lived token> → a long-lived
            one (expires_in 60 days). Errors are OAuthException code 100 (or 190 for a bad token).
GET         /<version>/me/adaccounts?fields → {"data": [{"account_id", "id": "act_…"}]}: the
            ad accounts the user granted (ads_read needed).
DELETE      /<version>/me/permissions → {"success": true}: the user removes the app; every
            token of the grant is refused from then on.
Tokens minted here expire (insights answers code 190 once they have).
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from providers.sandbox import oauth
from providers.sandbox.core import (
    BadRequest,
    Call,
    Platform,
    Request,
    Response,
    mint_token,
    read_token,
    retry_after_header,
    route,
)
from providers.sandbox.data import (
    Event,
    Profile,
    account_currency,
    account_zone,
    b64,
    events_between,
    exponent,
    local_day,
    rng,
    unb64,
)

PROFILE = Profile(counted=(("web_purchase", 3), ("onsite_purchase", 1)), excluded=())
PAGE_SIZE = 5
FIELDS = (
    "account_currency",
    "account_id",
    "account_name",
    "action_values",
    "actions",
    "campaign_id",
    "campaign_name",
    "clicks",
    "date_start",
    "date_stop",
    "impressions",
    "spend",
)
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "timezone_offset_hours_utc")
# Meta's enums (Ad Account Insights reference, parameters table), and what the simulator models.
REPORT_TIMES = ("impression", "conversion", "mixed", "lifetime")
ATTRIBUTION_WINDOWS = (
    "1d_view",
    "7d_view",
    "28d_view",
    "1d_click",
    "7d_click",
    "28d_click",
    "1d_ev",
    "dda",
    "default",
    "7d_view_first_conversion",
    "28d_view_first_conversion",
    "7d_view_all_conversions",
    "28d_view_all_conversions",
    "skan_view",
    "skan_click",
    "skan_click_second_postback",
    "skan_view_second_postback",
    "skan_click_third_postback",
    "skan_view_third_postback",
)
WINDOWS = {  # window → (touch, days)
    "1d_click": ("click", 1),
    "7d_click": ("click", 7),
    "28d_click": ("click", 28),
    "1d_view": ("view", 1),
    "7d_view": ("view", 7),
    "28d_view": ("view", 28),
}
DEFAULT_WINDOWS = ("7d_click", "1d_view")  # what `default` means, per the reference
LONGEST_WINDOW = timedelta(days=28)
_PRESETS = {"today": (0, 0), "yesterday": (1, 1), "last_7d": (7, 1), "last_14d": (14, 1), "last_30d": (30, 1)}
_VERSION = re.compile(r"^v\d+\.\d+$")
TOKEN_PREFIX = "EAAsbx"
SHORT_TTL = 3600
LONG_TTL = 60 * 86400


class MetaAds(Platform):
    key = "meta_ads"
    routes = (
        route("GET", r"/(?P<version>[^/]+)/(?P<node>[^/]+)/insights/?", "insights"),
        route("GET", r"/(?P<version>v\d+\.\d+)/dialog/oauth/?", "authorize", endpoint="authorize"),
        route("GET", r"/(?P<version>v\d+\.\d+)/oauth/access_token/?", "access_token", endpoint="token"),
        route("POST", r"/(?P<version>v\d+\.\d+)/oauth/access_token/?", "access_token", endpoint="token"),
        route("GET", r"/(?P<version>v\d+\.\d+)/me/adaccounts/?", "ad_accounts", endpoint="identity"),
        route("DELETE", r"/(?P<version>v\d+\.\d+)/me/permissions/?", "remove_permissions", endpoint="revoke"),
        route("GET", r"/(?P<version>v\d+\.\d+)/(?P<node>act_\d+)/?", "ad_account"),
    )

    def account(self, request: Request, endpoint: str) -> str:
        if endpoint in ("authorize", "token"):
            return request.arg("client_id") or _params(request).get("client_id") or "unknown-app"
        if endpoint in ("identity", "revoke"):
            return "me"
        return request.params["node"].removeprefix("act_")

    # --- Facebook Login ---------------------------------------------------------------------
    def authorize(self, request: Request, call: Call) -> Response:
        try:
            client_id, redirect_uri, state = oauth.authorize_request(request, call, self.key, pkce=True)
        except oauth.AuthorizeRefused as refused:
            return oauth.error_page(400, f"Invalid App ID or redirect: {refused.args[0]}")
        consent = call.state.consent(self.key)
        if consent.deny:
            return oauth.redirect(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_code": "200",
                    "error_reason": "user_denied",
                    "error_description": "Permissions error",
                    "state": state,
                },
            )
        code = oauth.issue_code(
            call,
            prefix="AQsbx",
            platform=self.key,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=",".join(s.strip() for s in (request.arg("scope") or "").split(",") if s.strip()),
            accounts=consent.accounts
            if consent.accounts is not None  # a user may grant access to no ad account
            else (f"act_{oauth.default_digits(self.key, client_id, length=15)}",),
            code_challenge=request.arg("code_challenge"),
            code_challenge_method=request.arg("code_challenge_method") if request.arg("code_challenge") else None,
        )
        return oauth.redirect(redirect_uri, {"code": code, "state": state})

    def access_token(self, request: Request, call: Call) -> Response:
        params = _params(request)
        client_id = params.get("client_id")
        if not oauth.secret_matches(call, self.key, client_id, params.get("client_secret")):
            return _error(400, 1, "Error validating client secret.", "OAuthException")
        if params.get("grant_type") == "fb_exchange_token":
            short = params.get("fb_exchange_token") or ""
            minted = read_token(short, TOKEN_PREFIX)
            grant = call.state.grant(minted[0]) if minted else None
            valid = minted is not None and minted[1] > call.now and not call.state.is_revoked(self.key, short)
            if grant is None or grant.client_id != client_id or not valid:
                return _error(
                    400, 190, "Error validating access token: the token is invalid or expired.", "OAuthException"
                )
            return self._token(call, grant.id, LONG_TTL)
        record, why = oauth.redeem(call, self.key, params.get("code"), client_id)
        if record is None:
            return _error(
                400,
                100,
                f"Invalid verification code format or code already used ({why})",
                "OAuthException",
                subcode=36009,
            )
        if params.get("redirect_uri") != record.redirect_uri:
            return _error(
                400,
                100,
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                "OAuthException",
                subcode=36008,
            )
        if not oauth.pkce_matches(record, params.get("code_verifier")):
            return _error(400, 100, "Invalid code verifier", "OAuthException")
        grant = oauth.new_grant(call, record)
        return self._token(call, grant.id, SHORT_TTL)

    def _token(self, call: Call, grant_id: str, ttl: int) -> Response:
        ttl = call.state.settings.token_ttl or ttl
        token = mint_token(TOKEN_PREFIX, grant_id, call.now + timedelta(seconds=ttl))
        call.state.remember_issued(self.key, grant_id, token)
        return Response.json(200, {"access_token": token, "token_type": "bearer", "expires_in": ttl})

    def _grant_of(self, request: Request, call: Call) -> tuple[Any, Response | None]:
        token = request.bearer() or request.arg("access_token") or ""
        minted = read_token(token, TOKEN_PREFIX)
        if not token:
            return None, _error(400, 104, "An access token is required to request this resource.", "OAuthException")
        if call.state.is_revoked(self.key, token) or (minted and minted[1] <= call.now):
            return None, _error(
                400,
                190,
                "Error validating access token: The session has been invalidated.",
                "OAuthException",
                subcode=460,
            )
        return (call.state.grant(minted[0]) if minted else None), None

    def ad_accounts(self, request: Request, call: Call) -> Response:
        grant, refusal = self._grant_of(request, call)
        if refusal is not None:
            return refusal
        if grant is not None and "ads_read" not in grant.scope.split(",") and "ads_management" not in grant.scope:
            return _error(403, 200, "(#200) Requires ads_read permission", "OAuthException")
        accounts = grant.accounts if grant is not None else ()
        rows = [{"account_id": a.removeprefix("act_"), "id": f"act_{a.removeprefix('act_')}"} for a in accounts]
        return Response.json(200, {"data": rows, "paging": {"cursors": {"before": b64("0"), "after": b64("0")}}})

    def remove_permissions(self, request: Request, call: Call) -> Response:
        grant, refusal = self._grant_of(request, call)
        if refusal is not None:
            return refusal
        token = request.bearer() or request.arg("access_token") or ""
        call.state.revoke(self.key, grant.id if grant is not None else token)
        return Response.json(200, {"success": True})

    def default_headers(self) -> list[tuple[str, str]]:
        return [("X-FB-Trace-ID", uuid.uuid4().hex[:11]), ("x-fb-rev", "1019171432")]

    # --- the ad account node -------------------------------------------------------------
    def ad_account(self, request: Request, call: Call) -> Response:
        _, refusal = self._grant_of(request, call)
        if refusal is not None:
            return refusal
        account = self.account(request, "data")
        wanted = [f.strip() for f in (request.arg("fields") or "id").split(",") if f.strip()]
        for name in wanted:
            if name not in ACCOUNT_FIELDS:
                raise BadRequest(f"(#100) Tried accessing nonexisting field ({name}) on node type (AdAccount)")
        zone = account_zone(account)
        offset = call.now.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
        node: dict[str, Any] = {
            "id": f"act_{account}",
            "account_id": account,
            "name": f"Simulated ad account {account}",
            "currency": account_currency(account),
            "timezone_name": zone,
            "timezone_offset_hours_utc": offset.total_seconds() / 3600,
        }
        return Response.json(200, {k: v for k, v in node.items() if k in wanted or k == "id"})

    # --- the endpoint ---------------------------------------------------------------------
    def insights(self, request: Request, call: Call) -> Response:
        if not _VERSION.match(request.params["version"]):
            return _error(400, 2500, f"Unknown path components: /{request.params['version']}", "OAuthException")
        token = request.bearer() or request.arg("access_token")
        if not token:
            return _error(400, 104, "An access token is required to request this resource.", "OAuthException")
        minted = read_token(token, TOKEN_PREFIX)
        if call.state.is_revoked(self.key, token) or (minted and minted[1] <= call.now):
            return _error(
                400,
                190,
                "Error validating access token: The session has been invalidated because the user changed their "
                "password or Facebook has changed the session for security reasons.",
                "OAuthException",
                subcode=460,
            )
        node = request.params["node"]
        if not node.startswith("act_"):
            return _error(
                400,
                100,
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to missing "
                "permissions, or does not support this operation.",
                "GraphMethodException",
                subcode=33,
            )
        account = self.account(request, "data")
        level = request.arg("level") or "account"
        if level not in ("account", "campaign"):
            raise BadRequest(f"(#100) level must be one of account, campaign (simulator), not {level}")
        fields = _fields(request.arg("fields"))
        zone = account_zone(account)
        since, until = _dates(request, call.now.astimezone(ZoneInfo(zone)).date())
        report_time = _report_time(request.arg("action_report_time"))
        windows = _windows(request.arg("action_attribution_windows"))
        limit = request.arg("limit") or "25"
        if not limit.isdigit() or int(limit) < 1:
            raise BadRequest("(#100) param limit must be a positive integer")

        rows = _rows(account, level, since, until, call.now, report_time=report_time, windows=windows)
        projected = [{k: v for k, v in row.items() if k in fields or k in ("date_start", "date_stop")} for row in rows]
        offset = 0
        if request.arg("after"):
            try:
                offset = int(unb64(request.arg("after") or "")) + 1
            except ValueError:
                raise BadRequest("(#100) The after cursor is invalid") from None
        size = call.state.page_size(min(int(limit), PAGE_SIZE))
        page = projected[offset : offset + size]
        payload: dict[str, Any] = {"data": page}
        if page:
            paging: dict[str, Any] = {
                "cursors": {"before": b64(str(offset)), "after": b64(str(offset + len(page) - 1))}
            }
            if offset + len(page) < len(projected):
                paging["next"] = _next_url(request, paging["cursors"]["after"])
            if offset:
                paging["previous"] = _next_url(request, None, before=paging["cursors"]["before"])
            payload["paging"] = paging
        return Response.json(200, payload, _usage_headers(account, 0))

    # --- errors -----------------------------------------------------------------------------
    def bad_request(self, error: BadRequest, request: Request) -> Response:
        return _error(400, 100, error.message, "OAuthException")

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        account = request.params.get("node", "").removeprefix("act_")
        if kind == "401":
            return _error(
                401, 190, "Error validating access token: Session has expired.", "OAuthException", subcode=463
            )
        if kind == "403":
            return _error(
                403,
                200,
                "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
                "OAuthException",
            )
        wait = retry_after if retry_after is not None else 60
        if kind == "throttled":  # Meta throttles with a 400 and a code; the wait is in the usage header
            return _error(
                400,
                17,
                "(#17) User request limit reached",
                "OAuthException",
                subcode=2446079,
                transient=True,
                headers=_usage_headers(account, math.ceil(wait / 60)),
            )
        if kind in ("429", "429_date"):
            return _error(
                429,
                4,
                "(#4) Application request limit reached",
                "OAuthException",
                transient=True,
                headers=[("Retry-After", retry_after_header(kind, wait, default=60))],
            )
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if kind == "500":
            return _error(500, 1, "An unknown error occurred", "OAuthException", transient=True, headers=headers)
        return _error(
            503,
            2,
            "An unexpected error has occurred. Please retry your request later.",
            "OAuthException",
            transient=True,
            headers=headers,
        )


def _params(request: Request) -> dict[str, str]:
    """Graph API parameters: the query string, and a form body on POST."""
    params = {k: v[0] for k, v in request.query.items() if v}
    if request.method == "POST":
        params.update(request.form())
    return params


# Asked for every event of every page and window: each event's touch is drawn once.
@functools.lru_cache(maxsize=65_536)
def touch(event: Event) -> tuple[str, datetime]:
    """The ad interaction a purchase is attributed to: ("click" | "view", when). Half within
    20 hours, most of the rest one to six days before, some clicks 7–27 days before."""
    r = event.random("touch")
    kind = "click" if r.random() < 0.7 else "view"
    roll = r.random()
    if roll < 0.5:
        lag = timedelta(seconds=r.randint(60, 20 * 3600))
    elif roll < 0.85 or kind == "view":
        lag = timedelta(days=r.randint(1, 6), seconds=r.randrange(86_400))
    else:
        lag = timedelta(days=r.randint(7, 27), seconds=r.randrange(86_400))
    return kind, event.at - lag


def _in_window(event: Event, window: str) -> bool:
    kind, at = touch(event)
    wanted, days = WINDOWS[window]
    return kind == wanted and event.at - at <= timedelta(days=days)


def _report_instant(event: Event, report_time: str) -> datetime:
    """The moment whose day a purchase is reported on."""
    if report_time == "impression" or (report_time == "mixed" and event.kind == "onsite_purchase"):
        return touch(event)[1]
    return event.at


def _rows(
    account: str,
    level: str,
    since: date,
    until: date,
    now: datetime,
    *,
    report_time: str = "mixed",
    windows: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    currency = account_currency(account)
    zone = account_zone(account)
    campaigns = 6 + rng("meta_ads", account, "campaigns").randrange(4)
    start, end = local_day(zone, since)[0], local_day(zone, until)[1]
    # per campaign: [purchases, value, web purchases, web value, onsite purchases, onsite value]
    # in the default window, and [purchases, value] per requested window
    tally = {i: [0, 0, 0, 0, 0, 0] for i in range(campaigns)}
    by_window = {i: {w: [0, 0] for w in windows} for i in range(campaigns)}
    # An impression-time report also sees later purchases whose touch fell inside the range.
    for event in events_between("meta_ads", account, PROFILE, start, end + LONGEST_WINDOW, now):
        if not start <= _report_instant(event, report_time) < end:
            continue
        campaign = event.random("campaign").randrange(campaigns - 1)  # the last campaign never converts
        for window in windows:
            if _in_window(event, window):
                by_window[campaign][window][0] += 1
                by_window[campaign][window][1] += event.minor
        if not any(_in_window(event, w) for w in DEFAULT_WINDOWS):
            continue
        t = tally[campaign]
        web = event.kind == "web_purchase"
        t[0], t[1] = t[0] + 1, t[1] + event.minor
        t[2 if web else 4] += 1
        t[3 if web else 5] += event.minor
    groups = [list(range(campaigns))] if level == "account" else [[i] for i in range(campaigns)]
    rows = []
    for members in groups:
        sums = [sum(tally[i][k] for i in members) for k in range(6)]
        window_sums = {w: [sum(by_window[i][w][k] for i in members) for k in range(2)] for w in windows}
        row: dict[str, Any] = {
            "account_currency": currency,
            "account_id": account,
            "account_name": f"Simulated ad account {account}",
            "date_start": since.isoformat(),
            "date_stop": until.isoformat(),
            "impressions": str(400 * len(members) + 37 * sums[0]),
            "clicks": str(9 * len(members) + 4 * sums[0]),
            "spend": _decimal(sums[1] // 7, currency),
        }
        if level == "campaign":
            campaign = members[0]
            row["campaign_id"] = str(120_200_000_000_000_000 + int(rng("meta", account, campaign).random() * 1e12))
            row["campaign_name"] = f"Campaign {campaign + 1}"
        if sums[0] or any(count for count, _ in window_sums.values()):
            row["actions"] = _actions(sums, window_sums, currency, values=False)
            row["action_values"] = _actions(sums, window_sums, currency, values=True)
        rows.append(row)
    return rows


def _actions(
    sums: list[int], window_sums: dict[str, list[int]], currency: str, *, values: bool
) -> list[dict[str, str]]:
    purchases, value, web, web_value, onsite, onsite_value = sums
    entries: list[tuple[str, int, int]] = [  # (action type, count, value in minor units)
        ("add_to_cart", purchases * 3, value * 5 // 2),
        ("offsite_conversion.fb_pixel_add_to_cart", purchases * 2, value * 2),
        ("link_click", purchases * 12 + 5, 0),
        ("landing_page_view", purchases * 9 + 3, 0),
        ("offsite_conversion.fb_pixel_purchase", web, web_value),
        ("onsite_web_purchase", onsite, onsite_value),
        ("omni_purchase", purchases, value),
        ("purchase", purchases, value),
    ]
    out = []
    for action_type, count, minor in entries:
        entry = {"action_type": action_type}
        if count and (minor or not values):
            entry["value"] = _decimal(minor, currency) if values else str(count)
        if action_type in ("omni_purchase", "purchase"):
            for window, (window_count, window_minor) in window_sums.items():
                if window_count:
                    entry[window] = _decimal(window_minor, currency) if values else str(window_count)
        if len(entry) > 1:
            out.append(entry)
    return out


def _decimal(minor: int, currency: str) -> str:
    """Meta's decimal strings: no trailing zeros ("12.5", "1250")."""
    text = f"{Decimal(minor).scaleb(-exponent(currency)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fields(value: str | None) -> set[str]:
    if not value:
        return {"account_id", "impressions", "spend"}
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    for name in sorted(wanted):
        if name not in FIELDS:
            raise BadRequest(
                f"(#100) {name} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values"
            )
    return wanted


def _dates(request: Request, today: date) -> tuple[date, date]:
    time_range = request.arg("time_range")
    if time_range:
        try:
            span = json.loads(time_range)
            return date.fromisoformat(span["since"]), date.fromisoformat(span["until"])
        except (ValueError, KeyError, TypeError):
            raise BadRequest("(#100) time_range must be an object with since and until (YYYY-MM-DD)") from None
    preset = request.arg("date_preset") or "last_30d"
    if preset not in _PRESETS:
        raise BadRequest(f"(#100) date_preset must be one of the following values: {', '.join(_PRESETS)}")
    back_from, back_to = _PRESETS[preset]
    return today - timedelta(days=back_from), today - timedelta(days=back_to)


def _report_time(value: str | None) -> str:
    if value is None:
        return "mixed"
    if value not in REPORT_TIMES:
        raise BadRequest(
            f"(#100) param action_report_time must be one of {{{', '.join(REPORT_TIMES)}}} - got {value!r}"
        )
    if value == "lifetime":
        raise BadRequest("(#100) action_report_time=lifetime is not modelled by the simulator")
    return value


def _windows(value: str | None) -> tuple[str, ...]:
    """The requested windows, `default` spelt out; () without the parameter."""
    if value is None:
        return ()
    try:
        listed = json.loads(value) if value.strip().startswith("[") else value.split(",")
    except ValueError:
        raise BadRequest("(#100) param action_attribution_windows must be an array") from None
    if not isinstance(listed, list) or not all(isinstance(w, str) for w in listed):
        raise BadRequest("(#100) param action_attribution_windows must be an array of strings")
    found: list[str] = []
    for index, window in enumerate(w.strip() for w in listed):
        if window not in ATTRIBUTION_WINDOWS:
            raise BadRequest(
                f"(#100) param action_attribution_windows[{index}] must be one of "
                f"{{{', '.join(ATTRIBUTION_WINDOWS)}}} - got {window!r}"
            )
        if window != "default" and window not in WINDOWS:
            raise BadRequest(f"(#100) action_attribution_windows={window} is not modelled by the simulator")
        found += DEFAULT_WINDOWS if window == "default" else (window,)
    return tuple(dict.fromkeys(found))


def _next_url(request: Request, after: str | None, *, before: str | None = None) -> str:
    params = [
        (k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True) if k not in ("after", "before")
    ]
    params.append(("after", after) if after else ("before", before or ""))
    return f"{request.base_url}{request.path}?{urlencode(params)}"


def _usage_headers(account: str, minutes: int) -> list[tuple[str, str]]:
    share = 100 if minutes else 1
    usage = {
        account: [
            {
                "type": "ads_insights",
                "call_count": share,
                "total_cputime": share,
                "total_time": share,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return [
        ("X-Business-Use-Case-Usage", json.dumps(usage, separators=(",", ":"))),
        ("X-Ad-Account-Usage", json.dumps({"acc_id_util_pct": share, "reset_time_duration": minutes * 60})),
    ]


def _error(
    status: int,
    code: int,
    message: str,
    error_type: str,
    *,
    subcode: int | None = None,
    transient: bool = False,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    error["fbtrace_id"] = uuid.uuid4().hex[:11]
    return Response.json(status, {"error": error}, headers or [])
