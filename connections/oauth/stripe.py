"""Stripe Connect OAuth (Standard accounts), read-only.

Authorize  GET https://connect.stripe.com/oauth/authorize?response_type=code&client_id=ca_…
           &scope=read_only&redirect_uri&state. No PKCE: Stripe Connect has none; `state`
           is the protection.
Token      POST https://connect.stripe.com/oauth/token, HTTP Basic with the platform's
           secret key (OPTIONS client_secret), form grant_type=authorization_code&code →
           {access_token, refresh_token, token_type, scope, stripe_user_id, livemode,
           stripe_publishable_key}. The identity is `stripe_user_id` (acct_…); the access
           token is a key of the connected account (it does not expire), which the revenue
           adapter uses as-is. Errors: {"error": "invalid_grant" | "invalid_client", …}.
Revoke     POST https://connect.stripe.com/oauth/deauthorize, Basic secret key, form
           client_id&stripe_user_id → {"stripe_user_id"}. A 401 saying the account is not
           connected means it is already revoked.
"""

from __future__ import annotations

from typing import Any

from connections.oauth.base import OAuthFlow, OAuthGrant
from providers.errors import ProviderBadResponse

AUTHORIZE_URL = "https://connect.stripe.com/oauth/authorize"
TOKEN_URL = "https://connect.stripe.com/oauth/token"
DEAUTHORIZE_URL = "https://connect.stripe.com/oauth/deauthorize"


class StripeOAuth(OAuthFlow):
    platform = "stripe"
    name = "Stripe"
    default_scope = "read_only"
    supports_revoke = True

    def __init__(
        self,
        *,
        authorize_url: str = AUTHORIZE_URL,
        token_url: str = TOKEN_URL,
        revoke_url: str = DEAUTHORIZE_URL,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.authorize_endpoint = authorize_url or AUTHORIZE_URL
        self.token_url = token_url or TOKEN_URL
        self.revoke_url = revoke_url or DEAUTHORIZE_URL

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str | None, shop: str | None) -> str:
        return self._url(
            self.authorize_endpoint,
            {
                "response_type": "code",
                "client_id": self.client_id,
                "scope": self.scope,
                "redirect_uri": redirect_uri,
                "state": state,
            },
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, shop: str | None, correlation_id: str
    ) -> OAuthGrant:
        secrets = (self._client_secret, code)
        response = self.http.request(
            "POST",
            self.token_url,
            correlation_id=correlation_id,
            data={"grant_type": "authorization_code", "code": code},
            auth=(self._client_secret, ""),
            secrets=secrets,
        )
        body = self._json(response, "authorization code", secrets)
        account = body.get("stripe_user_id")
        if not isinstance(account, str) or not account.startswith("acct_"):
            raise ProviderBadResponse("the token response has no stripe_user_id", platform=self.platform)
        return self._grant(body, account_ids=(account,))

    def revoke(self, *, access_token: str, refresh_token: str | None, account_id: str, correlation_id: str) -> None:
        secrets = (self._client_secret, access_token, refresh_token)
        response = self.http.request(
            "POST",
            self.revoke_url,
            correlation_id=correlation_id,
            data={"client_id": self.client_id, "stripe_user_id": account_id},
            auth=(self._client_secret, ""),
            secrets=secrets,
        )
        if response.status == 401 and "not connected" in response.body.decode("utf-8", "replace"):
            return  # deauthorized already (by us earlier, or by the merchant in their dashboard)
        self._json(response, "deauthorization", secrets)
