"""Google OAuth 2.0 for the Google Ads API: offline access (a refresh token), PKCE S256.

Authorize  GET https://accounts.google.com/o/oauth2/v2/auth?client_id&redirect_uri
           &response_type=code&scope=https://www.googleapis.com/auth/adwords
           &access_type=offline&prompt=consent&include_granted_scopes=true&state
           &code_challenge&code_challenge_method=S256. `prompt=consent` makes Google issue
           a refresh token even when the user approved the app before.
Token      POST https://oauth2.googleapis.com/token, form grant_type=authorization_code,
           code, redirect_uri, client_id, client_secret, code_verifier → {access_token,
           expires_in, refresh_token, scope, token_type}. No refresh token is a bad
           response (the connection could not outlive the hour). Errors: invalid_grant
           (bad, used or expired code; "Invalid code verifier." for a PKCE mismatch),
           redirect_uri_mismatch, invalid_client.
Identity   the revenue adapter's customers:listAccessibleCustomers (one connection per
           customer id).
Revoke     POST https://oauth2.googleapis.com/revoke, form token=<refresh token> (revokes
           the whole grant); 400 invalid_token means it is revoked already.
The same app credentials (GOOGLE_OAUTH_CLIENT_ID / SECRET) refresh the tokens later.
"""

from __future__ import annotations

from typing import Any

from connections.oauth.base import OAuthFlow, OAuthGrant
from providers.errors import ProviderBadResponse

AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"


class GoogleAdsOAuth(OAuthFlow):
    platform = "google_ads"
    name = "Google"
    default_scope = ADWORDS_SCOPE
    pkce = True
    supports_revoke = True

    def __init__(
        self,
        *,
        authorize_url: str = AUTHORIZE_URL,
        token_url: str = TOKEN_URL,
        revoke_url: str = REVOKE_URL,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.authorize_endpoint = authorize_url or AUTHORIZE_URL
        self.token_url = token_url or TOKEN_URL
        self.revoke_url = revoke_url or REVOKE_URL

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str | None, shop: str | None) -> str:
        return self._url(
            self.authorize_endpoint,
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": self.scope,
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256" if code_challenge else None,
            },
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, shop: str | None, correlation_id: str
    ) -> OAuthGrant:
        secrets = (self._client_secret, code, code_verifier)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        response = self.http.request("POST", self.token_url, correlation_id=correlation_id, data=form, secrets=secrets)
        grant = self._grant(self._json(response, "authorization code", secrets))
        if not grant.refresh_token:
            raise ProviderBadResponse("Google issued no refresh token (offline access)", platform=self.platform)
        return grant

    def revoke(self, *, access_token: str, refresh_token: str | None, account_id: str, correlation_id: str) -> None:
        token = refresh_token or access_token
        response = self.http.request(
            "POST",
            self.revoke_url,
            correlation_id=correlation_id,
            data={"token": token},
            secrets=(access_token, refresh_token),
        )
        if response.status == 400 and b"invalid_token" in response.body:
            return  # expired or revoked already
        self._json(response, "revocation", (access_token, refresh_token))
