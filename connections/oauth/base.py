"""The OAuth flow contract, and the errors the install flow reports.

A flow knows one platform's authorization server: how to send the merchant there, how to
check the callback when the platform signs it, how to exchange the code for tokens at
the platform's token endpoint, and how to revoke them. It never touches the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings

from providers._common import error_body, quote
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderError
from providers.http import HttpConfig, HttpResponse, ProviderHttp


@dataclasses.dataclass(frozen=True, kw_only=True)
class OAuthGrant:
    """What the token endpoint gave. `account_ids`: the accounts the grant is for when the
    token response names them (Stripe's stripe_user_id); otherwise found afterwards."""

    access_token: str = dataclasses.field(repr=False)
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    token_type: str | None = None
    account_ids: tuple[str, ...] = ()


class OAuthProblem(Exception):
    """An install that cannot go on, as the API reports it (status, stable code, a
    secret-free sentence). `state_valid`: the state was ours and is now spent, so the
    browser may be sent to the configured failure page instead of a problem document."""

    def __init__(self, status: int, code: str, detail: str, *, state_valid: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.state_valid = state_valid


class OAuthFlow:
    """Base class of the per-platform flows (settings `CONNECTIONS_OAUTH[<platform>]`).

    Subclasses set `platform`, `name`, `default_scope`, `pkce` (the platform supports
    S256 PKCE for this flow) and implement `authorize_url`, `exchange_code` and, where
    the platform offers it, `revoke` (`supports_revoke = True`).
    """

    platform: ClassVar[str]
    name: ClassVar[str]
    default_scope: ClassVar[str]
    pkce: ClassVar[bool] = False
    needs_shop: ClassVar[bool] = False
    supports_revoke: ClassVar[bool] = False

    def __init__(self, *, client_id: str = "", client_secret: str = "", scope: str = "", **http_options: Any) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope or self.default_scope
        unknown = set(http_options) - {f.name for f in dataclasses.fields(HttpConfig)}
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}")
        config = HttpConfig.from_options(getattr(settings, "PROVIDER_HTTP", None), **http_options)
        # Never retried: an authorization code is single use, so a resent exchange whose
        # first attempt went through would fail with invalid_grant.
        self.http = ProviderHttp(
            platform=self.platform, config=config, retry_methods=("GET",), public_only=self.tenant_chosen_hosts
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} platform={self.platform!r}>"

    @property
    def tenant_chosen_hosts(self) -> bool:
        """True when a tenant chooses the host the flow calls (a Shopify shop): its HTTP
        then reaches public https hosts only (providers.outbound)."""
        return False

    @property
    def configured(self) -> bool:
        """App credentials are set (without them no install can start)."""
        return bool(self.client_id and self._client_secret)

    def normalise_shop(self, shop: str | None) -> str | None:
        return None

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str | None, shop: str | None) -> str:
        """Where to send the merchant's browser."""
        raise NotImplementedError

    def check_callback(self, params: Mapping[str, str], *, shop: str | None) -> None:
        """Verify what the platform signs in the callback (Shopify's HMAC); raise OAuthProblem."""

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, shop: str | None, correlation_id: str
    ) -> OAuthGrant:
        """Exchange the code at the platform's token endpoint. A refusal (bad, used or
        expired code, PKCE mismatch, wrong client) raises ProviderAuthError naming what
        the platform said; transport and platform failures raise the other ProviderErrors."""
        raise NotImplementedError

    def revoke(
        self,
        *,
        access_token: str,
        refresh_token: str | None,
        account_id: str,
        correlation_id: str,
    ) -> None:
        """Revoke the grant at the platform. Returns when it is revoked (or was already
        invalid); raises ProviderError when the platform could not be told."""
        raise NotImplementedError(f"{self.platform} offers no revocation")

    # --- helpers for subclasses --------------------------------------------------------
    def _url(self, base: str, params: Mapping[str, str | None]) -> str:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{base}{'&' if '?' in base else '?'}{query}"

    def _refused(self, response: HttpResponse, what: str, secrets: tuple[str | None, ...]) -> ProviderError:
        """The error for a non-2xx answer of a token or revocation endpoint: OAuth's
        {"error", "error_description"} (or Graph's {"error": {...}}) quoted, secrets removed."""
        body = error_body(response)
        error = body.get("error")
        if isinstance(error, dict):  # Graph API: {"error": {"message", "type", "code"}}
            label = f"{error.get('type') or 'error'} {error.get('code') or ''}".strip()
            detail = f"{label}: {quote(error.get('message'), secrets)}"
        else:
            detail = ": ".join(filter(None, (quote(error, secrets), quote(body.get("error_description"), secrets))))
            if not detail and isinstance(body.get("errors"), str):
                detail = quote(body["errors"], secrets)
        message = f"{self.name} refused the {what} (HTTP {response.status}{': ' + detail if detail else ''})"
        if 400 <= response.status < 500 and response.status != 429:
            return ProviderAuthError(message, platform=self.platform, status=response.status)
        return ProviderError(message, platform=self.platform, status=response.status)

    def _json(self, response: HttpResponse, what: str, secrets: tuple[str | None, ...]) -> dict[str, Any]:
        if not response.ok:
            raise self._refused(response, what, secrets)
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderBadResponse(f"the {what} answer is not a JSON object", platform=self.platform)
        return body

    def _grant(self, body: dict[str, Any], **extra: Any) -> OAuthGrant:
        """An OAuthGrant from a token response ({access_token, expires_in, refresh_token,
        scope, token_type}); a missing access token or a malformed expiry is a bad response."""
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderBadResponse("the token response has no access_token", platform=self.platform)
        expires_in = body.get("expires_in")
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
            raise ProviderBadResponse("the token response's expires_in is not an integer", platform=self.platform)
        refresh = body.get("refresh_token")
        fields: dict[str, Any] = {
            "access_token": token,
            "refresh_token": refresh if isinstance(refresh, str) and refresh else None,
            "expires_at": datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in is not None else None,
            "scope": body.get("scope") if isinstance(body.get("scope"), str) else self.scope,
            "token_type": body.get("token_type") if isinstance(body.get("token_type"), str) else None,
        }
        fields.update(extra)
        return OAuthGrant(**fields)
