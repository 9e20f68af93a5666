"""What the simulated authorization servers share (Stripe Connect, Shopify, Google, Meta).

There is no browser, login page or consent screen: a GET to a platform's authorize
endpoint is the merchant arriving there, and the simulator answers at once with the
redirect the platform would send after the merchant clicked "Allow" (or "Deny", see
`Consent`), carrying a fresh authorization code and the `state` it was given.

- Apps: client ids with their secrets must be registered first (`Sandbox.register_app`,
  `POST /_sandbox/oauth/apps`, or `manage.py provider_sandbox`, which registers the apps
  configured in settings). An unknown client id gets the platform's error page and no
  redirect (RFC 6749 §4.1.2.1); a wrong secret at the token endpoint gets invalid_client.
- Authorization codes are random, single use, bound to the client, the redirect URI and
  the PKCE challenge (S256 or plain, where the platform supports PKCE), and expire after
  CODE_TTL of simulated time.
- A redeemed code becomes a `Grant`: the tokens minted from it carry its id (see
  `core.mint_token`), so the identity endpoints know which accounts the merchant granted
  and revoking the grant kills every token it minted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from providers.sandbox.core import AuthorizationCode, Call, Grant, Request, Response

CODE_TTL = timedelta(minutes=10)
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
GRANT_PREFIX = "grant:"


class AuthorizeRefused(Exception):
    """The authorize request cannot even be redirected back (unknown client, bad redirect
    URI): the platform shows an error page."""


def authorize_request(request: Request, call: Call, platform: str, *, pkce: bool) -> tuple[str, str, str | None]:
    """(client_id, redirect_uri, state) of a well-formed authorize request from a registered
    app; raises AuthorizeRefused otherwise."""
    client_id = request.arg("client_id") or ""
    if not call.state.app_secret(platform, client_id):
        raise AuthorizeRefused(f"The OAuth client {client_id!r} was not found.")
    redirect_uri = request.arg("redirect_uri") or ""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise AuthorizeRefused("The redirect_uri is missing or not an absolute http(s) URL.")
    method = request.arg("code_challenge_method")
    if request.arg("code_challenge") and not pkce:
        raise AuthorizeRefused("This platform does not support PKCE.")
    if method is not None and method not in ("S256", "plain"):
        raise AuthorizeRefused(f"Unsupported code_challenge_method {method!r}.")
    return client_id, redirect_uri, request.arg("state")


def issue_code(call: Call, *, prefix: str = "", **fields: Any) -> str:
    """A fresh code for an AuthorizationCode of these fields, expiring after CODE_TTL."""
    code = prefix + secrets.token_urlsafe(24)
    call.state.issue_code(code, AuthorizationCode(expires_at=call.now + CODE_TTL, **fields))
    return code


def redeem(call: Call, platform: str, code: str | None, client_id: str | None) -> tuple[AuthorizationCode | None, str]:
    """The code's record when it may be exchanged by `client_id` now, else (None, why)."""
    record = call.state.redeem_code(platform, code)
    if record is None:
        return None, "The authorization code does not exist."
    if record.used:
        return None, "The authorization code was already used."
    if record.expires_at <= call.now:
        return None, "The authorization code has expired."
    if record.client_id != client_id:
        return None, "The authorization code was issued to another client."
    return record, ""


def pkce_matches(record: AuthorizationCode, verifier: str | None) -> bool:
    """True when the code carries no challenge, or the verifier answers it (RFC 7636 §4.6)."""
    if not record.code_challenge:
        return True
    if not verifier or not _VERIFIER.match(verifier):
        return False
    if (record.code_challenge_method or "plain") == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        expected = verifier
    return hmac.compare_digest(expected, record.code_challenge)


def new_grant(call: Call, record: AuthorizationCode, *, refresh_token: str | None = None) -> Grant:
    grant = Grant(
        id=GRANT_PREFIX + secrets.token_hex(8),
        platform=record.platform,
        client_id=record.client_id,
        accounts=record.accounts,
        scope=record.scope,
        refresh_token=refresh_token,
    )
    call.state.add_grant(grant)
    return grant


def redirect(redirect_uri: str, params: Mapping[str, str | None]) -> Response:
    """302 to the redirect URI with `params` added to its query."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return Response(302, b"", [("Location", urlunsplit(parts._replace(query=urlencode(query))))])


def error_page(status: int, message: str) -> Response:
    """The page a platform shows instead of redirecting (no secret, no redirect)."""
    return Response.text(
        status,
        f"<!DOCTYPE html><html><head><title>Authorization error</title></head><body><h1>{status}</h1>"
        f"<p>{_escape(message)}</p></body></html>",
        "text/html; charset=utf-8",
    )


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """(client_id, client_secret) from HTTP Basic or the form, as token endpoints accept both."""
    basic = request.basic()
    if basic:
        return basic
    return form.get("client_id"), form.get("client_secret")


def secret_matches(call: Call, platform: str, client_id: str | None, client_secret: str | None) -> bool:
    expected = call.state.app_secret(platform, client_id)
    if not expected or not client_secret:
        return False
    return hmac.compare_digest(expected, client_secret)


def default_digits(platform: str, client_id: str, *, length: int = 10, suffix: str = "840") -> str:
    """A stable all-digit account id for an app's default consent; `840` (USD) last, so the
    data module reads it as a USD account."""
    number = int(hashlib.sha256(f"{platform}|{client_id}".encode()).hexdigest()[:12], 16)
    body = length - len(suffix)
    return f"{number % 10**body:0{body}d}{suffix}"


def shopify_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's callback signature: the other query parameters sorted and joined as
    `k=v&k=v` (with `%`, `&` and `=` escaped), HMAC-SHA256 hex with the app secret."""
    message = "&".join(f"{_escape_key(k)}={_escape_value(v)}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _escape_value(value: str) -> str:
    return value.replace("%", "%25").replace("&", "%26")


def _escape_key(key: str) -> str:
    return _escape_value(key).replace("=", "%3D")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def expired(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now
