"""The connections API. Thin: the work is in connections.connect (keys, disconnect) and
connections.oauth.services (install flows); bodies in connections.presenters."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections import schema
from connections.connect import ConnectionNotFound, KeyCredentials, connection_connect_with_keys, connection_disconnect
from connections.oauth.base import OAuthProblem
from connections.oauth.services import oauth_complete, oauth_confirm, oauth_start
from connections.presenters import connection_body
from connections.selectors import connection_get_with_credential, connection_list_with_credentials
from connections.serializers import KEY_SERIALIZERS, OAuthConfirmRequestSerializer, OAuthStartRequestSerializer
from connections.services import CredentialInvalid
from providers._common import quote
from providers.errors import ProviderAuthError, ProviderDestinationRefused, ProviderError
from skeldir.auth import RequireScope
from skeldir.correlation import tenant_id_var
from skeldir.http_caching import require_correlation_id
from skeldir.models import Tenant
from skeldir.problems import ApiProblem
from skeldir.tenancy import tenant_context, tenant_exists
from skeldir.throttling import TenantWriteThrottle, UserWriteThrottle

NO_STORE = {"Cache-Control": "no-store"}
# The request field naming where the platform is, for a refused destination.
_ACCOUNT_FIELD = {"stripe": "account_id", "paypal": "account_id", "woocommerce": "store_url"}


class _TenantView(APIView):
    """Bearer token, X-Correlation-ID required (400 before anything else), the tenant from
    the token; `scopes` maps each method to the scope it needs."""

    scopes: dict[str, str] = {}
    # Writes that call a platform are rate limited per tenant and per user (reads are not).
    throttle_classes = [TenantWriteThrottle, UserWriteThrottle]

    def get_permissions(self) -> list[BasePermission]:
        scope = self.scopes.get(self.request.method or "", "manager")
        return [RequireScope(scope)()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        require_correlation_id(request)
        super().initial(request, *args, **kwargs)
        tenant_id_var.set(str(request.user.tenant_id))

    def tenant_id(self, request: Request) -> uuid.UUID:
        tenant_id: uuid.UUID = request.user.tenant_id
        if not tenant_exists(tenant_id):
            raise ApiProblem(404, "tenant_not_found", "The token's tenant does not exist.")
        return tenant_id


@schema.connection_list_view
class ConnectionsView(_TenantView):
    scopes = {"GET": "viewer", "POST": "manager"}

    def get(self, request: Request) -> Response:
        tenant_id = request.user.tenant_id
        with tenant_context(tenant_id):  # one transaction for the check and the list
            if not Tenant.objects.filter(id=tenant_id).exists():
                raise ApiProblem(404, "tenant_not_found", "The token's tenant does not exist.")
            items = connection_list_with_credentials()
        return Response({"connections": [connection_body(i) for i in items]}, headers=NO_STORE)

    def post(self, request: Request) -> Response:
        data = request.data
        platform = data.get("platform") if isinstance(data, dict) else None
        if not isinstance(platform, str) or platform not in KEY_SERIALIZERS:
            raise ApiProblem(
                400,
                "validation_error",
                f"platform: one of {', '.join(KEY_SERIALIZERS)} (the others connect by OAuth: "
                "POST /api/v1/connections/oauth/<platform>/start).",
            )
        serializer = KEY_SERIALIZERS[platform](data=data)
        if not serializer.is_valid():
            raise ApiProblem(400, "validation_error", _describe(serializer.errors))
        account_id, credentials = _keys(platform, serializer.validated_data)
        tenant_id = self.tenant_id(request)
        try:
            row, created = connection_connect_with_keys(
                tenant_id=tenant_id,
                platform=platform,
                account_id=account_id,
                credentials=credentials,
                correlation_id=request.correlation_id,  # type: ignore[attr-defined]
            )
        except CredentialInvalid as exc:
            raise ApiProblem(400, "validation_error", f"{exc}; nothing was stored.") from None
        except ProviderDestinationRefused as exc:
            # Before any connection: the same answer whatever is (or is not) listening there.
            raise ApiProblem(
                400, "validation_error", f"{_ACCOUNT_FIELD[platform]}: {exc.message}; nothing was stored."
            ) from None
        except ProviderAuthError as exc:
            raise ApiProblem(
                422,
                "credentials_rejected",
                f"{platform} refused the credentials; nothing was stored ({quote(exc.message)}).",
            ) from None
        except ProviderError as exc:
            raise ApiProblem(
                502,
                "platform_unavailable",
                f"{platform} could not check the credentials ({exc.kind}); nothing was stored ({quote(exc.message)}).",
            ) from None
        return Response(_body(tenant_id, row.id), status=201 if created else 200, headers=NO_STORE)


@schema.connection_delete
class ConnectionDetailView(_TenantView):
    scopes = {"DELETE": "manager"}

    def delete(self, request: Request, connection_id: uuid.UUID) -> Response:
        tenant_id: uuid.UUID = request.user.tenant_id
        try:
            result = connection_disconnect(
                tenant_id=tenant_id,
                connection_id=connection_id,
                correlation_id=request.correlation_id,  # type: ignore[attr-defined]
            )
        except ConnectionNotFound:
            raise ApiProblem(404, "connection_not_found", "No connection with this id.") from None
        body = {"connection": _body(tenant_id, result.connection.id), "revocation": result.revocation}
        return Response(body, headers=NO_STORE)


@schema.oauth_start
class OAuthStartView(_TenantView):
    scopes = {"POST": "manager"}

    def post(self, request: Request, platform: str) -> Response:
        serializer = OAuthStartRequestSerializer(data=request.data if isinstance(request.data, dict) else None)
        if not serializer.is_valid():
            raise ApiProblem(400, "validation_error", _describe(serializer.errors))
        try:
            started = oauth_start(
                tenant_id=request.user.tenant_id,
                subject=request.user.subject,
                platform=platform,
                redirect_uri=callback_url(request, platform),
                shop=serializer.validated_data.get("shop"),
                correlation_id=request.correlation_id,  # type: ignore[attr-defined]
            )
        except OAuthProblem as problem:
            raise ApiProblem(problem.status, problem.code, problem.detail) from None
        body = {
            "platform": started.platform,
            "authorize_url": started.authorize_url,
            "expires_at": _iso(started.expires_at),
        }
        return Response(body, status=201, headers=NO_STORE)


@schema.oauth_callback
class OAuthCallbackView(APIView):
    """The browser's return from the platform: no bearer token, no X-Correlation-ID. It
    connects nothing by itself: the grant is held and this browser gets the one-time code
    that, with the starting user's token, confirms it (OAuthConfirmView)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request, platform: str) -> Any:
        params = {key: request.query_params.get(key, "") for key in request.query_params}
        try:
            pending = oauth_complete(
                platform=platform,
                params=params,
                redirect_uri=callback_url(request, platform),
                correlation_id=request.correlation_id,  # type: ignore[attr-defined]
            )
        except OAuthProblem as problem:
            if problem.state_valid and settings.OAUTH_FAILURE_URL:
                return _redirect(settings.OAUTH_FAILURE_URL, status="error", platform=platform, error=problem.code)
            raise ApiProblem(problem.status, problem.code, problem.detail, headers=NO_STORE) from None
        tenant_id_var.set(str(pending.tenant_id))
        if settings.OAUTH_SUCCESS_URL:
            return _redirect(
                settings.OAUTH_SUCCESS_URL,
                status="confirmation_required",
                platform=platform,
                confirmation=pending.confirmation,
            )
        body = {
            "status": "confirmation_required",
            "platform": platform,
            "confirmation": pending.confirmation,
            "expires_at": _iso(pending.expires_at),
        }
        return Response(body, headers=NO_STORE)


@schema.oauth_confirm
class OAuthConfirmView(_TenantView):
    """The starting user's dashboard confirms the install with the code its browser got."""

    scopes = {"POST": "manager"}

    def post(self, request: Request, platform: str) -> Response:
        serializer = OAuthConfirmRequestSerializer(data=request.data if isinstance(request.data, dict) else None)
        if not serializer.is_valid():
            raise ApiProblem(400, "validation_error", _describe(serializer.errors))
        try:
            done = oauth_confirm(
                tenant_id=request.user.tenant_id,
                subject=request.user.subject,
                platform=platform,
                confirmation=serializer.validated_data["confirmation"],
                correlation_id=request.correlation_id,  # type: ignore[attr-defined]
            )
        except OAuthProblem as problem:
            raise ApiProblem(problem.status, problem.code, problem.detail, headers=NO_STORE) from None
        connections = [_body(done.tenant_id, row.id) for row in done.connections]
        return Response({"status": "connected", "platform": platform, "connections": connections}, headers=NO_STORE)


def _body(tenant_id: uuid.UUID, connection_id: uuid.UUID) -> dict[str, Any]:
    """A connection's body, read back in the tenant's context after a write."""
    with tenant_context(tenant_id):
        item = connection_get_with_credential(connection_id=connection_id)
    if item is None:  # removed meanwhile (the tenant deleted)
        raise ApiProblem(404, "connection_not_found", "No connection with this id.")
    return connection_body(item)


def callback_url(request: Request, platform: str) -> str:
    """The redirect URI registered with the platform: OAUTH_REDIRECT_BASE_URL + path.

    Never taken from the request in production: Host and X-Forwarded-* are the client's
    to choose, and a callback URL that follows them would send codes where the client says
    (settings refuse to start without the base when an OAuth app is configured). Only with
    DJANGO_DEBUG does an unset base fall back to the address the request came to."""
    path = reverse("connections-oauth-callback", kwargs={"platform": platform})
    base = settings.OAUTH_REDIRECT_BASE_URL.rstrip("/")
    if base:
        return f"{base}{path}"
    if settings.DEBUG:
        return request.build_absolute_uri(path)
    raise OAuthProblem(
        503, "oauth_unavailable", "Connecting by OAuth is not available: OAUTH_REDIRECT_BASE_URL is not set."
    )


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def _redirect(url: str, **params: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(f"{url}{'&' if '?' in url else '?'}{urlencode(params)}")
    response["Cache-Control"] = "no-store"
    return response


def _keys(platform: str, data: dict[str, Any]) -> tuple[str, KeyCredentials]:
    if platform == "stripe":
        return data["account_id"], KeyCredentials(access_token=data["api_key"])
    if platform == "paypal":
        pair = f"{data['client_id']}:{data['client_secret']}"
        return data.get("account_id") or data["client_id"], KeyCredentials(refresh_token=pair)
    store = data["store_url"].rstrip("/")
    return store, KeyCredentials(access_token=f"{data['consumer_key']}:{data['consumer_secret']}")


def _describe(errors: Any) -> str:
    """`field: message; field: message` from a serializer's errors (values never echoed)."""
    if isinstance(errors, dict):
        parts = []
        for field, messages in errors.items():
            first = messages[0] if isinstance(messages, list) and messages else messages
            if isinstance(first, dict):
                first = _describe(first)
            parts.append(f"{field}: {first}")
        return "; ".join(parts) or "The body is not valid."
    return "The body is not valid."
