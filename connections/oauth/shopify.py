"""Shopify OAuth (authorization code grant, offline access token).

Everything happens on the merchant's own shop domain, so `start` needs the shop.
Authorize  GET https://{shop}/admin/oauth/authorize?client_id&scope=read_orders
           &redirect_uri&state (no `grant_options[]=per-user`: an offline token, which does
           not expire and is not tied to the staff member who installed). No PKCE.
Callback   ?code&hmac&host&shop&state&timestamp. The HMAC-SHA256 (hex) of the other
           parameters — sorted, `k=v` joined with `&`, `%` and `&` escaped (and `=` in
           keys) — with the app secret must equal `hmac` (compared in constant time), and
           `shop` must be the shop the install was started for; anything else is refused
           before the code is used.
Token      POST https://{shop}/admin/oauth/access_token {client_id, client_secret, code} →
           {"access_token": "shpat_…", "scope"}. The identity is the shop domain, confirmed
           with the adapter's `{ shop { myshopifyDomain } }`.
Revoke     DELETE https://{shop}/admin/api_permissions/current.json with the token
           (uninstalls the app); 401 means it is gone already.
With OPTIONS base_url (SHOPIFY_OAUTH_BASE_URL, the local simulator) the requests go to
`{base_url}/admin/oauth/…` with `shop=` on the authorize URL and `X-Skeldir-Shop` on the
server-to-server calls, as the revenue adapter does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from connections.oauth.base import OAuthFlow, OAuthGrant, OAuthProblem

_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")


class ShopifyOAuth(OAuthFlow):
    platform = "shopify"
    name = "Shopify"
    default_scope = "read_orders"
    needs_shop = True
    supports_revoke = True

    def __init__(self, *, base_url: str = "", **options: Any) -> None:
        self.base_url = (base_url or "").rstrip("/")
        super().__init__(**options)

    @property
    def tenant_chosen_hosts(self) -> bool:
        # Without an override the token exchange goes to the shop the merchant named.
        return not self.base_url

    def normalise_shop(self, shop: str | None) -> str | None:
        """`acme`, `acme.myshopify.com`, `https://acme.myshopify.com/` → `acme.myshopify.com`;
        anything else is None (only myshopify.com hosts are ever contacted)."""
        value = (shop or "").strip().lower()
        value = re.sub(r"^https?://", "", value).split("/", 1)[0]
        if value and "." not in value:
            value = f"{value}.myshopify.com"
        return value if _SHOP.match(value) else None

    def _base(self, shop: str) -> str:
        return self.base_url or f"https://{shop}"

    def _headers(self, shop: str) -> dict[str, str]:
        return {"X-Skeldir-Shop": shop} if self.base_url else {}

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str | None, shop: str | None) -> str:
        assert shop is not None
        return self._url(
            f"{self._base(shop)}/admin/oauth/authorize",
            {
                "client_id": self.client_id,
                "scope": self.scope,
                "redirect_uri": redirect_uri,
                "state": state,
                "shop": shop if self.base_url else None,
            },
        )

    def check_callback(self, params: Mapping[str, str], *, shop: str | None) -> None:
        received = params.get("hmac") or ""
        expected = callback_hmac(params, self._client_secret)
        if not received or not hmac.compare_digest(expected, received.lower()):
            raise OAuthProblem(
                400, "oauth_signature_invalid", "The callback's Shopify signature (hmac) does not verify."
            )
        if shop is not None and self.normalise_shop(params.get("shop")) != shop:
            raise OAuthProblem(400, "oauth_signature_invalid", "The callback names another shop than the install.")

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, shop: str | None, correlation_id: str
    ) -> OAuthGrant:
        assert shop is not None
        secrets = (self._client_secret, code)
        response = self.http.request(
            "POST",
            f"{self._base(shop)}/admin/oauth/access_token",
            correlation_id=correlation_id,
            headers=self._headers(shop),
            json_body={"client_id": self.client_id, "client_secret": self._client_secret, "code": code},
            secrets=secrets,
        )
        return self._grant(self._json(response, "authorization code", secrets))

    def revoke(self, *, access_token: str, refresh_token: str | None, account_id: str, correlation_id: str) -> None:
        shop = self.normalise_shop(account_id) or account_id
        response = self.http.request(
            "DELETE",
            f"{self._base(shop)}/admin/api_permissions/current.json",
            correlation_id=correlation_id,
            headers={"X-Shopify-Access-Token": access_token, **self._headers(shop)},
            secrets=(access_token,),
        )
        if response.status == 401:
            return  # uninstalled already
        self._json(response, "uninstall", (access_token,))


def callback_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's signature of a callback query (every parameter but `hmac` and `signature`)."""
    message = "&".join(
        f"{_escape(key, is_key=True)}={_escape(value)}"
        for key, value in sorted(params.items())
        if key not in ("hmac", "signature")
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _escape(text: str, *, is_key: bool = False) -> str:
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if is_key else text
