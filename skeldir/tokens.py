"""Minting bearer tokens (RS256) for `manage.py issue_token`, the demo and the tests.

The claims are the ones skeldir.auth requires: tenant_id, jti (a fresh uuid4), iat, exp,
plus sub, scopes (a list) and iss/aud when JWT_ISSUER/JWT_AUDIENCE are set. Signed with
JWT_SIGNING_KEY (a private key PEM) under JWT_SIGNING_KID.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Iterable

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from skeldir.auth import SCOPES
from skeldir.tenancy import InvalidTenant, parse_tenant_id

MAX_TTL_SECONDS = 86_400


class TokenRequestInvalid(ValueError):
    """Bad input: tenant, scopes, lifetime."""


class SigningKeyUnavailable(Exception):
    """No usable signing key configured. The message never contains the key."""


def token_issue(
    *,
    tenant_id: uuid.UUID | str,
    scopes: str | Iterable[str] = ("viewer",),
    ttl_seconds: int = 3600,
    subject: str | None = None,
    role: str | None = None,
) -> str:
    """A signed token for `tenant_id`; `scopes` is a list or one comma/space separated string,
    granting exactly those. With `role` the token carries a `role` claim instead, which
    implies the lower roles (admin ⊇ manager ⊇ viewer)."""
    try:
        tenant = parse_tenant_id(tenant_id)
    except InvalidTenant as exc:
        raise TokenRequestInvalid(str(exc)) from None
    if role is not None and role.strip().lower() not in SCOPES:
        raise TokenRequestInvalid(f"{role!r} is not a role ({', '.join(SCOPES)})")
    names = scopes_parse(scopes)
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise TokenRequestInvalid(f"the token lifetime must be 1 to {MAX_TTL_SECONDS} seconds, not {ttl_seconds}")
    key, kid = _signing_key()
    now = int(time.time())
    claims: dict[str, object] = {
        "tenant_id": str(tenant),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if role is not None:
        claims["role"] = role.strip().lower()
    else:
        claims["scopes"] = names
    if subject:
        claims["sub"] = subject
    if settings.JWT_ISSUER:
        claims["iss"] = settings.JWT_ISSUER
    if settings.JWT_AUDIENCE:
        claims["aud"] = settings.JWT_AUDIENCE
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def scopes_parse(scopes: str | Iterable[str]) -> list[str]:
    raw = re.split(r"[\s,]+", scopes) if isinstance(scopes, str) else list(scopes)
    names: list[str] = []
    for name in (str(n).strip().lower() for n in raw):
        if not name or name in names:
            continue
        if name not in SCOPES:
            raise TokenRequestInvalid(f"{name!r} is not a scope ({', '.join(SCOPES)})")
        names.append(name)
    return names


def _signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    pem, kid = settings.JWT_SIGNING_KEY, settings.JWT_SIGNING_KID
    if not pem or not kid:
        raise SigningKeyUnavailable("No signing key configured: set JWT_SIGNING_KEY and JWT_SIGNING_KID.")
    return _private_key(pem), kid


@functools.lru_cache(maxsize=4)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    """The key of a PEM, parsed once: loading checks the RSA key's consistency, ~50 ms here,
    longer than signing. Keyed by the PEM itself, so a new JWT_SIGNING_KEY takes effect at
    once; a PEM that does not load raises every time (exceptions are not cached)."""
    try:
        key = serialization.load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SigningKeyUnavailable("JWT_SIGNING_KEY is not an unencrypted PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningKeyUnavailable("JWT_SIGNING_KEY must be an RSA private key (tokens are signed with RS256).")
    return key
