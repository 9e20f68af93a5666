"""Facebook Login for the Marketing API: `ads_read`, PKCE S256, a long-lived user token.

Authorize  GET https://www.facebook.com/v27.0/dialog/oauth?client_id&redirect_uri&state
           &scope=ads_read&response_type=code&code_challenge&code_challenge_method=S256.
Token      POST https://graph.facebook.com/v27.0/oauth/access_token (form; Graph accepts
           POST, which keeps the app secret out of URLs) client_id, client_secret,
           redirect_uri, code, code_verifier → a short-lived user token {access_token,
           token_type, expires_in}; then the same endpoint with
           grant_type=fb_exchange_token&fb_exchange_token=<short-lived> → the long-lived
           token (about 60 days; Meta issues no refresh token, so the connection must be
           renewed by reconnecting before it expires). Errors: OAuthException code 100
           (bad code, redirect URI or verifier), 190 (bad token), 1 (bad client secret).
Identity   the revenue adapter's /me/adaccounts (one connection per ad account).
Revoke     DELETE https://graph.facebook.com/v27.0/me/permissions with the token (the user
           removes the app); code 190 means the token is invalid already.
"""

from __future__ import annotations

from typing import Any

from connections.oauth.base import OAuthFlow, OAuthGrant
from providers.meta_ads import API_VERSION

AUTHORIZE_URL = f"https://www.facebook.com/{API_VERSION}/dialog/oauth"
GRAPH_URL = "https://graph.facebook.com"


class MetaAdsOAuth(OAuthFlow):
    platform = "meta_ads"
    name = "Meta"
    default_scope = "ads_read"
    pkce = True
    supports_revoke = True

    def __init__(self, *, authorize_url: str = AUTHORIZE_URL, base_url: str = GRAPH_URL, **options: Any) -> None:
        super().__init__(**options)
        self.authorize_endpoint = authorize_url or AUTHORIZE_URL
        self.graph = (base_url or GRAPH_URL).rstrip("/")

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str | None, shop: str | None) -> str:
        return self._url(
            self.authorize_endpoint,
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": self.scope,
                "response_type": "code",
                "code_challenge": code_challenge,
                "code_challenge_method": "S256" if code_challenge else None,
            },
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, shop: str | None, correlation_id: str
    ) -> OAuthGrant:
        url = f"{self.graph}/{API_VERSION}/oauth/access_token"
        secrets: tuple[str | None, ...] = (self._client_secret, code, code_verifier)
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        response = self.http.request("POST", url, correlation_id=correlation_id, data=form, secrets=secrets)
        short = self._grant(self._json(response, "authorization code", secrets))
        secrets += (short.access_token,)
        response = self.http.request(
            "POST",
            url,
            correlation_id=correlation_id,
            data={
                "grant_type": "fb_exchange_token",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "fb_exchange_token": short.access_token,
            },
            secrets=secrets,
        )
        return self._grant(self._json(response, "long-lived token exchange", secrets))

    def revoke(self, *, access_token: str, refresh_token: str | None, account_id: str, correlation_id: str) -> None:
        response = self.http.request(
            "DELETE",
            f"{self.graph}/{API_VERSION}/me/permissions",
            correlation_id=correlation_id,
            headers={"Authorization": f"Bearer {access_token}"},
            secrets=(access_token,),
        )
        if response.status in (400, 401) and b'"code":190' in response.body.replace(b" ", b""):
            return  # the token is invalid already: nothing left to revoke
        self._json(response, "permission removal", (access_token,))
