"""OpenAPI documentation of the connections API (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)

from connections import serializers as s
from skeldir.openapi import CORRELATION_ID, problem

OAUTH_PLATFORMS = ["stripe", "shopify", "google_ads", "meta_ads"]
_PROBLEM = "application/problem+json"

_STATUSES = [200, 201, 302, 400, 401, 403, 404, 405, 406, 415, 422, 429, 500, 502, 503]
HEADERS = [
    OpenApiParameter(
        "X-Correlation-ID",
        OpenApiTypes.UUID,
        OpenApiParameter.HEADER,
        required=True,
        response=_STATUSES,
        description="The request's correlation id (generated when it sent none).",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[401],
        description='`Bearer realm="skeldir-revenue"`, with `error="invalid_token"` for a refused token.',
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        required=True,
        response=[429],
        description="Seconds until the rate limit lets the next request through.",
    ),
]
CALLBACK_HEADERS = [
    HEADERS[0],
    OpenApiParameter(
        "Location",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[302],
        description="OAUTH_SUCCESS_URL with `status=confirmation_required`, the platform and the one-time "
        "`confirmation` code, or OAUTH_FAILURE_URL with the error code, in the query (never a token).",
    ),
]

_AUTH_ERRORS = {
    (400, _PROBLEM): problem("X-Correlation-ID missing or not a UUID, or an invalid body (`validation_error`)."),
    (401, _PROBLEM): problem("Missing, invalid or expired bearer token, or missing claims."),
    (404, _PROBLEM): problem("The token's tenant does not exist (or, by id, the connection: another tenant's is 404)."),
    (406, _PROBLEM): problem("The Accept header excludes application/json."),
    (500, _PROBLEM): problem("Unexpected error; no details are disclosed."),
    (503, _PROBLEM): problem("The database is unreachable, or (OAuth) the platform's app is not configured."),
}


def _errors(scope: str, extra: dict[int, str] | None = None) -> dict:
    errors = {**_AUTH_ERRORS, (403, _PROBLEM): problem(f"The token lacks the `{scope}` scope.")}
    if scope == "manager":  # the writes: each calls a platform, so each is rate limited
        errors[(429, _PROBLEM)] = problem(
            "Too many of these requests from the tenant or the user (`throttled`); `Retry-After` says when to retry."
        )
    for status, text in (extra or {}).items():
        errors[(status, _PROBLEM)] = problem(text)
    return errors


PLATFORM = OpenApiParameter(
    "platform", str, OpenApiParameter.PATH, enum=OAUTH_PLATFORMS, description="The platform to install on"
)

connection_list = extend_schema(
    operation_id="listConnections",
    summary="The tenant's connected platform accounts",
    description="Every connection with its credential's lifecycle; never a token or a secret.",
    tags=["Connections"],
    parameters=[CORRELATION_ID, *HEADERS],
    responses={200: s.ConnectionListSerializer, **_errors("viewer")},
)

connection_create = extend_schema(
    operation_id="createConnection",
    summary="Connect (or update) an account with keys",
    description=(
        "For platforms that use keys (Stripe restricted key, PayPal client id/secret, WooCommerce consumer "
        "key/secret). The keys are checked first with one cheap read at the platform; nothing is stored when "
        "the platform refuses them (422 `credentials_rejected`, naming what it said) or cannot be asked "
        "(502 `platform_unavailable`). 201 when the connection is new, 200 when it was updated."
    ),
    tags=["Connections"],
    parameters=[CORRELATION_ID, *HEADERS],
    request=PolymorphicProxySerializer(
        component_name="ConnectionKeys",
        serializers=s.KEY_SERIALIZERS,
        resource_type_field_name="platform",
    ),
    responses={
        200: s.ConnectionSerializer,
        201: s.ConnectionSerializer,
        **_errors(
            "manager",
            {
                415: "The body is not JSON.",
                422: "The platform refused the credentials (`credentials_rejected`); nothing was stored.",
                502: "The platform could not be asked (`platform_unavailable`); nothing was stored.",
            },
        ),
    },
)

connection_list_view = extend_schema_view(get=connection_list, post=connection_create)

_connection_delete = extend_schema(
    operation_id="disconnectConnection",
    summary="Disconnect an account",
    description=(
        "Revokes the authorization at the platform where it offers revocation (Stripe deauthorize, Shopify "
        "uninstall, Google revoke, Meta permissions delete), marks the credential revoked and the connection "
        "disabled; the revenue snapshot then reports the source as `reconnect_required`. Idempotent."
    ),
    tags=["Connections"],
    parameters=[CORRELATION_ID, *HEADERS],
    responses={200: s.DisconnectionSerializer, **_errors("manager")},
)

_oauth_start = extend_schema(
    operation_id="startOAuthConnection",
    summary="Start connecting an account by OAuth",
    description=(
        "Returns the platform's authorize URL carrying a one-time `state` (bound to the tenant, the user and "
        "the callback URL, expiring after OAUTH_STATE_TTL_SECONDS) and, where the platform supports it, a "
        "PKCE S256 challenge. The install completes only when the same user confirms it "
        "(`…/confirm`) with the code the callback gives the browser that consented. The token must name "
        "its user (`sub`; else 403 `oauth_user_required`)."
    ),
    tags=["Connections"],
    parameters=[PLATFORM, CORRELATION_ID, *HEADERS],
    request=s.OAuthStartRequestSerializer,
    responses={
        201: s.OAuthStartSerializer,
        **_errors("manager", {415: "The body is not JSON."}),
        (403, _PROBLEM): problem("The token lacks the `manager` scope, or names no user (`oauth_user_required`)."),
        (404, _PROBLEM): problem("No OAuth install for this platform, or the token's tenant does not exist."),
        (503, _PROBLEM): problem("`oauth_unavailable`: the platform's app credentials are not configured."),
    },
)

_oauth_confirm = extend_schema(
    operation_id="confirmOAuthConnection",
    summary="Confirm an OAuth install (the user who started it)",
    description=(
        "The callback holds the platform's grant pending and gives the browser that consented a one-time "
        "`confirmation` code. Posting it with a token of the tenant and user (`sub`) that started the install "
        "stores one connection per account with encrypted credentials. The same code with anyone else's token "
        "(403 `oauth_confirmation_forbidden`) or after OAUTH_STATE_TTL_SECONDS (400 `oauth_confirmation_expired`) "
        "withdraws the grant at the platform and stores nothing; a code used once is `oauth_confirmation_used`."
    ),
    tags=["Connections"],
    parameters=[PLATFORM, CORRELATION_ID, *HEADERS],
    request=s.OAuthConfirmRequestSerializer,
    responses={
        200: s.OAuthCompletedSerializer,
        **_errors(
            "manager",
            {
                415: "The body is not JSON.",
                502: "`oauth_platform_error`: the platform issued a token that cannot be stored (withdrawn).",
            },
        ),
        (400, _PROBLEM): problem(
            "`validation_error`, `oauth_confirmation_invalid` (unknown, forged, another platform's), "
            "`oauth_confirmation_used`, `oauth_confirmation_expired` (withdrawn at the platform)."
        ),
        (403, _PROBLEM): problem(
            "The token lacks the `manager` scope, or `oauth_confirmation_forbidden`: another tenant or user than "
            "the one who started the install (the grant is withdrawn at the platform)."
        ),
        (404, _PROBLEM): problem("No OAuth install for this platform."),
        (503, _PROBLEM): problem("`oauth_unavailable`, or the database is unreachable."),
    },
)

_CALLBACK_QUERY = [
    OpenApiParameter(name, str, OpenApiParameter.QUERY, required=False, description=text)
    for name, text in (
        ("state", "The state `start` put in the authorize URL"),
        ("code", "The authorization code"),
        ("error", "The platform's refusal (e.g. access_denied)"),
        ("error_description", "The platform's words about the refusal"),
        ("scope", "The scope granted"),
        ("shop", "Shopify: the shop"),
        ("hmac", "Shopify: the signature of the query"),
        ("host", "Shopify: the admin host (base64)"),
        ("timestamp", "Shopify: when the callback was signed"),
    )
]

_oauth_callback = extend_schema(
    operation_id="completeOAuthConnection",
    summary="The platform's redirect back (browser, no bearer token)",
    description=(
        "Validates the state (unknown, forged, expired, reused, another tenant's, or for another callback URL: "
        "400 problem, nothing stored), exchanges the code at the platform's token endpoint, names the accounts "
        "and holds the grant, encrypted, until the user who started the install confirms it "
        "(`…/confirm`) with the one-time `confirmation` code given here: nothing is connected by this "
        "request. Redirects to OAUTH_SUCCESS_URL / OAUTH_FAILURE_URL when configured, else answers itself."
    ),
    tags=["Connections"],
    auth=[],
    parameters=[PLATFORM, *_CALLBACK_QUERY, *CALLBACK_HEADERS],
    responses={
        200: s.OAuthPendingSerializer,
        302: OpenApiResponse(description="Sent on to the configured success (to confirm) or failure page."),
        (400, _PROBLEM): problem(
            "oauth_state_missing, oauth_state_invalid, oauth_state_expired, oauth_state_used, "
            "oauth_redirect_mismatch, oauth_signature_invalid, oauth_denied, oauth_code_missing, "
            "oauth_code_rejected (the platform refused the code: bad, used, expired, PKCE mismatch)."
        ),
        (404, _PROBLEM): problem("No OAuth install for this platform."),
        (406, _PROBLEM): problem("The Accept header excludes application/json."),
        (422, _PROBLEM): problem("`oauth_no_accounts`: the grant reaches no account."),
        (500, _PROBLEM): problem("Unexpected error; no details are disclosed."),
        (502, _PROBLEM): problem("`oauth_platform_error`: the platform failed during the exchange."),
        (503, _PROBLEM): problem(
            "`oauth_unavailable` (not configured, or the grant could not be held), or the database is unreachable."
        ),
    },
)

connection_delete = extend_schema_view(delete=_connection_delete)
oauth_start = extend_schema_view(post=_oauth_start)
oauth_callback = extend_schema_view(get=_oauth_callback)
oauth_confirm = extend_schema_view(post=_oauth_confirm)
