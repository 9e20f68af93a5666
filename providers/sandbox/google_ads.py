"""Simulated Google Ads: GoogleAdsService search / searchStream, and Google's OAuth token
endpoint.

POST /<version>/customers/<customer id, digits>/googleAds:search {"query", "pageToken"?}
(and :searchStream). Headers: Authorization Bearer, developer-token (missing: 400
DEVELOPER_TOKEN_PARAMETER_MISSING), login-customer-id optional. `pageSize` is refused
(PAGE_SIZE_NOT_SUPPORTED, as since v17). The GAQL subset understood:
SELECT <fields> FROM campaign|customer [WHERE segments.date DURING TODAY|YESTERDAY|
LAST_7_DAYS|LAST_14_DAYS|LAST_30_DAYS | segments.date BETWEEN 'a' AND 'b' | = 'a'
(other conditions ignored)] [LIMIT n], with fields from `FIELDS`; unknown fields give
UNRECOGNIZED_FIELD. Rows hold only the selected fields (camelCase, int64 as strings,
doubles as numbers) and, as in proto3 JSON, zero metrics are left out: a campaign with
no conversions today comes back with "metrics": {}. A segmented query (any `segments.`
field selected) leaves out rows whose selected metrics are all zero, as Google documents
(Zero metrics guide), so a day without conversions gives no rows at all.

Time zone: the customer's `customer.time_zone` is `data.account_zone` (the first digit of
the customer id), and every date range (`DURING TODAY`, BETWEEN, `segments.date`) is a
day in that zone, as Google evaluates them (Date ranges guide).

Conversion dates: each conversion has a click, hours to six days before it
(`click_time`). `metrics.conversions_value` / `conversions` (and `all_*`) credit a
conversion to its click's date; `metrics.conversions_value_by_conversion_date` /
`conversions_by_conversion_date` (and `all_*`) to the day it happened. So "today" by click
date is smaller than by conversion date (today's clicks that have converted so far), and
yesterday's click-date figure keeps growing after the day is over.

Pages hold 5 rows (the real API's are 10,000) so pagination is exercised.

POST /token, form grant_type=refresh_token, client_id, client_secret, refresh_token ->
{access_token, expires_in, scope, token_type}; a revoked refresh token (see the revoke
switch) gives 400 {"error": "invalid_grant"} and kills the access tokens it minted.

Google's OAuth 2.0 authorization server (accounts.google.com / oauth2.googleapis.com on
the real platform; see `oauth` for what is shared):
GET  /o/oauth2/v2/auth?client_id&redirect_uri&response_type=code&scope&state
     &access_type=offline&prompt&code_challenge&code_challenge_method=S256 → 302
     redirect_uri?state&code&scope (or error=access_denied).
POST /token, form grant_type=authorization_code, code, redirect_uri (the authorize one),
     client_id, client_secret (a registered app), code_verifier (when a challenge was sent:
     "Invalid code verifier." otherwise) → {access_token, expires_in, refresh_token (with
     access_type=offline), scope, token_type}. Refresh tokens of such a grant only work for
     the client they were issued to.
POST /revoke, form token=<access or refresh token> → 200 {}: the whole grant is revoked;
     an unknown or already revoked token gives 400 invalid_token.
GET  /<version>/customers:listAccessibleCustomers (Bearer, developer-token) →
     {"resourceNames": ["customers/<id>", …]}: the customers the grant's user chose (needs
     the adwords scope).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
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
    local_day,
    major,
    rng,
    unb64,
)

PROFILE = Profile(counted=(("conversion", 4), ("half_conversion", 1)), excluded=())
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
PAGE_SIZE = 5
# The longest click-to-conversion lag simulated (see `click_time`).
MAX_CLICK_LAG = timedelta(days=7)
TOKEN_PREFIX = "ya29.sbx."
TOKEN_TTL = 3599
FIELDS = {
    "customer.id": "customer.id",
    "customer.currency_code": "customer.currencyCode",
    "customer.descriptive_name": "customer.descriptiveName",
    "customer.time_zone": "customer.timeZone",
    "customer.resource_name": "customer.resourceName",
    "campaign.id": "campaign.id",
    "campaign.name": "campaign.name",
    "campaign.status": "campaign.status",
    "campaign.resource_name": "campaign.resourceName",
    "metrics.conversions_value": "metrics.conversionsValue",
    "metrics.conversions": "metrics.conversions",
    "metrics.all_conversions_value": "metrics.allConversionsValue",
    "metrics.all_conversions": "metrics.allConversions",
    "metrics.conversions_value_by_conversion_date": "metrics.conversionsValueByConversionDate",
    "metrics.conversions_by_conversion_date": "metrics.conversionsByConversionDate",
    "metrics.all_conversions_value_by_conversion_date": "metrics.allConversionsValueByConversionDate",
    "metrics.all_conversions_by_conversion_date": "metrics.allConversionsByConversionDate",
    "segments.date": "segments.date",
}
_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?"
    r"(?:\s+PARAMETERS\s+.+?)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_DURING = re.compile(r"segments\.date\s+DURING\s+(\w+)", re.IGNORECASE)
_BETWEEN = re.compile(r"segments\.date\s+BETWEEN\s+'([\d-]+)'\s+AND\s+'([\d-]+)'", re.IGNORECASE)
_EQUALS = re.compile(r"segments\.date\s*=\s*'([\d-]+)'", re.IGNORECASE)
_FAILURE = "type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"


class GoogleAds(Platform):
    key = "google_ads"
    routes = (
        route(
            "POST",
            r"/(?P<version>v\d+)/customers/(?P<customer>[^/]+)/googleAds:(?P<method>search|searchStream)",
            "search",
        ),
        route("POST", r"/token", "token", endpoint="token"),
        route("GET", r"/o/oauth2/v2/auth", "authorize", endpoint="authorize"),
        route("POST", r"/revoke", "revoke", endpoint="revoke"),
        route(
            "GET", r"/(?P<version>v\d+)/customers:listAccessibleCustomers", "accessible_customers", endpoint="identity"
        ),
    )

    def account(self, request: Request, endpoint: str) -> str:
        if endpoint == "token":
            return _client_credentials(request)[0] or "unknown-client"
        if endpoint == "authorize":
            return request.arg("client_id") or "unknown-client"
        if endpoint in ("revoke", "identity"):
            return "oauth-user"
        return request.params["customer"]

    def default_headers(self) -> list[tuple[str, str]]:
        return [("request-id", uuid.uuid4().hex[:22])]

    def _refused(self, request: Request, call: Call, version: str) -> Response | None:
        """Google's answer to a call without a usable access token or developer token, else None."""
        token = request.bearer()
        if not token:
            return _ads_error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
                version,
                None,
            )
        minted = read_token(token, TOKEN_PREFIX)
        if call.state.is_revoked(self.key, token) or (minted and minted[1] <= call.now):
            reason = "OAUTH_TOKEN_EXPIRED" if minted and minted[1] <= call.now else "OAUTH_TOKEN_INVALID"
            return _unauthenticated(version, reason)
        if not request.header("developer-token"):
            return _ads_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                version,
                (
                    "requestError",
                    "DEVELOPER_TOKEN_PARAMETER_MISSING",
                    "The developer-token parameter is required for all requests.",
                ),
            )
        return None

    # --- search -------------------------------------------------------------------------------
    def search(self, request: Request, call: Call) -> Response:
        version = request.params["version"]
        refused = self._refused(request, call, version)
        if refused is not None:
            return refused
        customer = request.params["customer"]
        if not customer.isdigit():
            return _ads_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                version,
                ("requestError", "INVALID_CUSTOMER_ID", f"Invalid customer ID '{customer}'."),
            )
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise BadRequest("The query is required.", param="query")
        if "pageSize" in body:
            return _ads_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                version,
                ("requestError", "PAGE_SIZE_NOT_SUPPORTED", "Setting the page size is not supported."),
            )
        try:
            selected, rows = _run(customer, body["query"], call.now)
        except _QueryError as error:
            return _ads_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                version,
                ("queryError", error.code, error.message),
            )
        field_mask = ",".join(FIELDS[f] for f in selected)
        if request.params["method"] == "searchStream":
            return Response.json(200, [{"results": rows, "fieldMask": field_mask, "requestId": uuid.uuid4().hex[:22]}])

        query_key = hashlib.sha256(body["query"].encode()).hexdigest()[:12]
        offset = 0
        if body.get("pageToken"):
            try:
                state = json.loads(unb64(str(body["pageToken"])))
                offset, ok = int(state["o"]), state["q"] == query_key
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                return _ads_error(
                    400,
                    "INVALID_ARGUMENT",
                    "Request contains an invalid argument.",
                    version,
                    ("requestError", "INVALID_PAGE_TOKEN", "Page token is invalid."),
                )
        size = call.state.page_size(PAGE_SIZE)
        payload: dict[str, Any] = {"results": rows[offset : offset + size], "fieldMask": field_mask}
        if offset + size < len(rows):
            payload["nextPageToken"] = b64(json.dumps({"o": offset + size, "q": query_key}))
        settings = body.get("searchSettings") or {}
        if isinstance(settings, dict) and settings.get("returnTotalResultsCount"):
            payload["totalResultsCount"] = str(len(rows))
        payload["queryResourceConsumption"] = str(10 + len(rows))
        return Response.json(200, payload)

    # --- OAuth token ----------------------------------------------------------------------------
    def token(self, request: Request, call: Call) -> Response:
        form = request.form()
        client_id, client_secret = _client_credentials(request)
        if not client_id or not client_secret or call.state.is_revoked(self.key, client_id, client_secret):
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form, client_id, client_secret, call)
        if grant_type != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}")
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        if call.state.is_revoked(self.key, refresh_token):
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        ttl = call.state.settings.token_ttl or TOKEN_TTL
        grant = call.state.grant_by_refresh_token(self.key, refresh_token)
        if grant is not None and grant.client_id != client_id:
            return _oauth_error(401, "unauthorized_client", "Unauthorized")
        # A grant's tokens name the grant (identity endpoints know its customers).
        identity = grant.id if grant is not None else client_id
        access_token = mint_token(TOKEN_PREFIX, identity, call.now + timedelta(seconds=ttl))
        call.state.remember_issued(self.key, identity if grant is not None else refresh_token, access_token)
        return Response.json(
            200,
            {
                "access_token": access_token,
                "expires_in": ttl,
                "scope": "https://www.googleapis.com/auth/adwords",
                "token_type": "Bearer",
            },
        )

    def _exchange(self, form: dict[str, str], client_id: str, client_secret: str, call: Call) -> Response:
        if not oauth.secret_matches(call, self.key, client_id, client_secret):
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        record, why = oauth.redeem(call, self.key, form.get("code"), client_id)
        if record is None:
            return _oauth_error(400, "invalid_grant", f"Bad Request ({why})")
        if form.get("redirect_uri") != record.redirect_uri:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if not oauth.pkce_matches(record, form.get("code_verifier")):
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh_token = "1//sbx." + secrets.token_urlsafe(32) if record.offline else None
        grant = oauth.new_grant(call, record, refresh_token=refresh_token)
        ttl = call.state.settings.token_ttl or TOKEN_TTL
        access_token = mint_token(TOKEN_PREFIX, grant.id, call.now + timedelta(seconds=ttl))
        for token in filter(None, (access_token, refresh_token)):
            call.state.remember_issued(self.key, grant.id, token)
        payload: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": ttl,
            "scope": record.scope,
            "token_type": "Bearer",
        }
        if refresh_token:
            payload["refresh_token"] = refresh_token
        return Response.json(200, payload)

    # --- the rest of the authorization server --------------------------------------------------
    def authorize(self, request: Request, call: Call) -> Response:
        try:
            client_id, redirect_uri, state = oauth.authorize_request(request, call, self.key, pkce=True)
        except oauth.AuthorizeRefused as refused:
            return oauth.error_page(400, f"Error 400: invalid_request. {refused.args[0]}")
        if request.arg("response_type") != "code":
            return oauth.redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
        scope = " ".join((request.arg("scope") or "").split())
        if not scope:
            return oauth.redirect(redirect_uri, {"error": "invalid_scope", "state": state})
        consent = call.state.consent(self.key)
        if consent.deny:
            return oauth.redirect(redirect_uri, {"error": "access_denied", "state": state})
        code = oauth.issue_code(
            call,
            prefix="4/0sbx",
            platform=self.key,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            accounts=consent.accounts
            if consent.accounts is not None  # a user may reach no customer account
            else (oauth.default_digits(self.key, client_id),),
            code_challenge=request.arg("code_challenge"),
            code_challenge_method=request.arg("code_challenge_method") if request.arg("code_challenge") else None,
            offline=request.arg("access_type") == "offline",
        )
        return oauth.redirect(redirect_uri, {"state": state, "code": code, "scope": scope})

    def revoke(self, request: Request, call: Call) -> Response:
        token = request.form().get("token") or request.arg("token") or ""
        minted = read_token(token, TOKEN_PREFIX)
        grant = call.state.grant_by_refresh_token(self.key, token)
        if grant is None and minted and minted[0].startswith(oauth.GRANT_PREFIX):
            grant = call.state.grant(minted[0])
        if call.state.is_revoked(self.key, token) or (grant is None and minted is None):
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
        call.state.revoke(self.key, grant.id if grant is not None else token)
        return Response.json(200, {})

    def accessible_customers(self, request: Request, call: Call) -> Response:
        version = request.params["version"]
        refused = self._refused(request, call, version)
        if refused is not None:
            return refused
        token = request.bearer() or ""
        minted = read_token(token, TOKEN_PREFIX)
        grant = call.state.grant(minted[0]) if minted else None
        if grant is not None and ADWORDS_SCOPE not in grant.scope.split():
            return _ads_error(
                403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.", version, None
            )
        if grant is not None:
            customers = grant.accounts
        else:  # a token the simulator did not mint from a grant: a stable default customer
            customers = (oauth.default_digits(self.key, minted[0] if minted else token),)
        return Response.json(200, {"resourceNames": [f"customers/{c}" for c in customers]})

    # --- errors -------------------------------------------------------------------------------
    def bad_request(self, error: BadRequest, request: Request) -> Response:
        if request.params.get("method") is None:  # the token endpoint
            return _oauth_error(400, "invalid_request", error.message)
        return _ads_error(400, "INVALID_ARGUMENT", error.message, request.params.get("version", "v21"), None)

    def error(self, kind: str, request: Request, *, endpoint: str, retry_after: int | None = None) -> Response:
        if endpoint in ("token", "authorize", "revoke"):
            return _token_fault(kind, retry_after)
        version = request.params.get("version", "v21")
        if kind == "401":
            return _unauthenticated(version, "OAUTH_TOKEN_INVALID")
        if kind == "403":
            return _ads_error(
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
                version,
                (
                    "authorizationError",
                    "USER_PERMISSION_DENIED",
                    "User doesn't have permission to access customer. Note: If you're accessing a client customer, the "
                    "manager's customer id must be set in the 'login-customer-id' header.",
                ),
            )
        if kind in ("429", "429_date", "throttled"):
            wait = retry_after if retry_after is not None else 30
            detail = ("quotaError", "RESOURCE_EXHAUSTED", f"Too many requests. Retry in {wait} seconds.")
            if kind == "throttled":  # the wait only in the error details, no header
                return _ads_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Resource has been exhausted (e.g. check quota).",
                    version,
                    detail,
                    retry_delay=f"{wait}s",
                )
            response = _ads_error(
                429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", version, detail
            )
            response.headers.append(("Retry-After", retry_after_header(kind, wait, default=30)))
            return response
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if kind == "500":
            response = _ads_error(
                500,
                "INTERNAL",
                "Internal error encountered.",
                version,
                ("internalError", "INTERNAL_ERROR", "An internal error has occurred."),
            )
        else:
            response = _ads_error(503, "UNAVAILABLE", "The service is currently unavailable.", version, None)
        response.headers.extend(headers)
        return response


# --- the query ---------------------------------------------------------------------------------------


class _QueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _run(customer: str, query: str, now: datetime) -> tuple[list[str], list[dict[str, Any]]]:
    match = _QUERY.match(query)
    if not match:
        raise _QueryError("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected input.")
    resource = match["resource"].lower()
    if resource not in ("campaign", "customer"):
        raise _QueryError("INVALID_RESOURCE_NAME", f"The simulator serves FROM campaign or customer, not '{resource}'.")
    selected = [f.strip() for f in match["fields"].split(",") if f.strip()]
    for name in selected:
        if name not in FIELDS:
            raise _QueryError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name}'.")
        if resource == "customer" and name.startswith("campaign."):
            message = f"Field '{name}' is not available on the customer resource."
            raise _QueryError("PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE", message)
    zone = account_zone(customer)
    tz = ZoneInfo(zone)
    days = _date_range(match["where"] or "", now.astimezone(tz).date())
    by_date = "segments.date" in selected
    if by_date and days is None:
        raise _QueryError("EXPECTED_FILTERS_ON_DATE_RANGE", "A date range is required when segmenting by date.")

    campaigns = _campaigns(customer)
    start, end = (local_day(zone, days[0])[0], local_day(zone, days[1])[1]) if days else (None, None)
    # (campaign, date) → [value and count by conversion date, value and count by click date]
    totals: dict[tuple[int, str], list[Decimal]] = {}

    def add(key: tuple[int, str], slot: int, value: Decimal, weight: Decimal) -> None:
        bucket = totals.setdefault(key, [Decimal(0)] * 4)
        bucket[slot] += value
        bucket[slot + 1] += weight

    # A click-date window also sees conversions after it whose click fell inside it.
    later = end + MAX_CLICK_LAG if end else None
    for event in events_between("google_ads", customer, PROFILE, start, later, now):
        campaign = _campaign_of(event, len(campaigns) - 1)  # the last campaign never converts
        index = campaign if resource == "campaign" else 0
        weight = Decimal("0.5") if event.kind == "half_conversion" else Decimal(1)
        value = major(event.minor, event.currency) * weight
        if start is None or end is None or start <= event.at < end:
            add((index, event.at.astimezone(tz).date().isoformat() if by_date else ""), 0, value, weight)
        clicked = click_time(event)
        if start is None or end is None or start <= clicked < end:
            add((index, clicked.astimezone(tz).date().isoformat() if by_date else ""), 2, value, weight)
    segmented = any(name.startswith("segments.") for name in selected)
    if segmented:  # Google leaves out segmented rows whose selected metrics are all zero
        keys = sorted(totals)
    elif resource == "campaign":
        keys = [(i, "") for i in range(len(campaigns))]
    else:
        keys = [(0, "")]
    rows = [_row(customer, zone, campaigns, resource, selected, k, totals.get(k)) for k in keys]
    if segmented:
        rows = [r for r in rows if r.get("metrics") or not any(n.startswith("metrics.") for n in selected)]
    limit = match["limit"]
    return selected, rows[: int(limit)] if limit else rows


# Asked for every event of every page and window: each event's touch is drawn once.
@functools.lru_cache(maxsize=65_536)
def click_time(event: Event) -> datetime:
    """When the click that led to a conversion happened: within hours for half of them,
    one to six days before for the rest (inside every conversion action's window)."""
    r = event.random("click")
    if r.random() < 0.5:
        return event.at - timedelta(seconds=r.randint(60, 6 * 3600))
    return event.at - timedelta(days=r.randint(1, 6), seconds=r.randrange(86_400))


def _date_range(where: str, today: date) -> tuple[date, date] | None:
    during = _DURING.search(where)
    if during:
        literal = during[1].upper()
        spans = {"TODAY": (today, today), "YESTERDAY": (today - timedelta(days=1),) * 2}
        for n in (7, 14, 30):
            spans[f"LAST_{n}_DAYS"] = (today - timedelta(days=n), today - timedelta(days=1))
        if literal not in spans:
            raise _QueryError("INVALID_VALUE_WITH_DURING_OPERATOR", f"Invalid date literal for DURING: {literal}.")
        return spans[literal]
    try:
        between = _BETWEEN.search(where)
        if between:
            return date.fromisoformat(between[1]), date.fromisoformat(between[2])
        equals = _EQUALS.search(where)
        if equals:
            day = date.fromisoformat(equals[1])
            return day, day
    except ValueError:
        raise _QueryError("INVALID_DATE", "Invalid date in the query.") from None
    return None


def _campaigns(customer: str) -> list[dict[str, str]]:
    count = 6 + rng("google_ads", customer, "campaigns").randrange(4)
    names = ("Search - Brand", "Search - Generic", "Performance Max", "Shopping", "Display", "Video", "Demand Gen")
    return [
        {
            "id": str(20_000_000_000 + int(hashlib.sha256(f"{customer}/{i}".encode()).hexdigest()[:8], 16)),
            "name": names[i % len(names)] + ("" if i < len(names) else f" {i}"),
        }
        for i in range(count)
    ]


def _campaign_of(event: Event, converting: int) -> int:
    return event.random("campaign").randrange(converting)


def _row(
    customer: str,
    zone: str,
    campaigns: list[dict[str, str]],
    resource: str,
    selected: list[str],
    key: tuple[int, str],
    totals: list[Decimal] | None,
) -> dict[str, Any]:
    campaign = campaigns[key[0]]
    value, count, click_value, click_count = totals or [Decimal(0)] * 4
    full: dict[str, dict[str, Any]] = {
        "customer": {
            "resourceName": f"customers/{customer}",
            "id": customer,
            "currencyCode": account_currency(customer),
            "descriptiveName": f"Simulated customer {customer}",
            "timeZone": zone,
        },
        "campaign": {
            "resourceName": f"customers/{customer}/campaigns/{campaign['id']}",
            "id": campaign["id"],
            "name": campaign["name"],
            "status": "ENABLED",
        },
        "metrics": {
            "conversionsValue": click_value,
            "conversions": click_count,
            "allConversionsValue": click_value,
            "allConversions": click_count,
            "conversionsValueByConversionDate": value,
            "conversionsByConversionDate": count,
            "allConversionsValueByConversionDate": value,
            "allConversionsByConversionDate": count,
        },
        "segments": {"date": key[1]},
    }
    row: dict[str, Any] = {resource: {"resourceName": full[resource]["resourceName"]}}
    for name in selected:
        group, field = FIELDS[name].split(".")
        value_here = full[group][field]
        part = row.setdefault(group, {})
        if group == "metrics" and not value_here:
            continue  # proto3 JSON leaves zero values out
        if group != "metrics" and group != "segments":
            part.setdefault("resourceName", full[group]["resourceName"])
        part[field] = value_here
    return row


def _client_credentials(request: Request) -> tuple[str | None, str | None]:
    basic = request.basic()
    if basic:
        return basic
    form = request.form()
    return form.get("client_id"), form.get("client_secret")


def _unauthenticated(version: str, reason: str) -> Response:
    """Google's 401 for a missing, invalid, expired or revoked OAuth access token."""
    return _ads_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential.",
        version,
        ("authenticationError", reason, "Oauth token is invalid or expired."),
    )


def _ads_error(
    status: int,
    code_name: str,
    message: str,
    version: str,
    detail: tuple[str, str, str] | None,
    *,
    retry_delay: str | None = None,
) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": code_name}
    if detail:
        kind, code, text = detail
        failure: dict[str, Any] = {"errorCode": {kind: code}, "message": text}
        if retry_delay:
            failure["details"] = {
                "quotaErrorDetails": {
                    "rateScope": "ACCOUNT",
                    "rateName": "Number of operations for basic access",
                    "retryDelay": retry_delay,
                }
            }
        error["details"] = [
            {"@type": _FAILURE.format(version=version), "errors": [failure], "requestId": uuid.uuid4().hex[:22]}
        ]
    return Response.json(status, {"error": error})


def _oauth_error(status: int, error: str, description: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response.json(status, {"error": error, "error_description": description}, headers or [])


def _token_fault(kind: str, retry_after: int | None) -> Response:
    if kind == "401":
        return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
    if kind == "403":
        return _oauth_error(403, "access_denied", "The client is not authorized to request a token.")
    if kind in ("429", "429_date", "throttled"):
        headers = [] if kind == "throttled" else [("Retry-After", retry_after_header(kind, retry_after, default=30))]
        return _oauth_error(429, "rate_limit_exceeded", "Rate limit exceeded.", headers)
    headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
    return _oauth_error(int(kind), "internal_failure", "Backend Error", headers)
