"""Bearer JWT authentication for the API (DESIGN.md §8).

A request's tenant comes only from a verified token, and verifying it never touches the
database. The signature is checked with a key chosen by the token's `kid`: from the key
ring JWT_PUBLIC_KEYS ({kid: public key PEM}, parsed once per process) or, for a kid not
in the ring, from JWT_JWKS_URL (fetched by PyJWKClient and cached for
JWT_JWKS_CACHE_SECONDS). The algorithms come from JWT_ALGORITHMS, never from the token,
and only asymmetric ones are ever used, so `alg: none` and HS256 (including the classic
confusion, an HMAC keyed with our RSA public key) are refused. Then `exp` (required),
`nbf` and `iat` with JWT_LEEWAY_SECONDS, `iss`/`aud` when JWT_ISSUER/JWT_AUDIENCE are
set, and the claims `tenant_id` (UUID), `jti`, `iat`, `exp`.

Every refusal is an `AuthenticationFailed` (a `TokenRefused`) with a secret-free detail and
one of these stable codes:

| code                  | when                                                                 |
|-----------------------|----------------------------------------------------------------------|
| `unsupported_scheme`  | Authorization is not `Bearer …` (e.g. Basic)                         |
| `token_malformed`     | empty or spaced bearer value, over 8 KiB, not a decodable JWT        |
| `token_invalid`       | bad signature, algorithm not accepted, wrong `iss` or `aud`          |
| `token_expired`       | `exp` passed (beyond the leeway)                                     |
| `token_not_yet_valid` | `nbf` or `iat` in the future (beyond the leeway)                     |
| `claims_missing`      | `tenant_id`, `jti`, `iat`, `exp` (or a configured `iss`/`aud`) absent |
| `claims_invalid`      | a claim of the wrong type: `tenant_id` not a UUID, `scopes` not a list…|
|                       | or a lifetime (`exp` − `iat`) over JWT_MAX_LIFETIME_SECONDS           |
| `unknown_key`         | no `kid`, or a `kid` neither the key ring nor the JWKS knows         |
| `token_unverifiable`  | no keys configured, a ring key that does not load, JWKS unreachable  |

No Authorization header at all is not a refusal: `authenticate` returns None and DRF
answers 401 `not_authenticated`. A principal lacking a scope gets 403 `insufficient_scope`
(`InsufficientScope`). `www_authenticate(request, exc)` builds the RFC 6750 §3 challenge
for either.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlparse

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from skeldir.memo import BoundedMemo

logger = logging.getLogger("skeldir.auth")

REALM = "skeldir-revenue"
MAX_TOKEN_BYTES = 8 * 1024
REQUIRED_CLAIMS = ("tenant_id", "jti", "iat", "exp")
# Ascending: each scope implies the ones before it when granted through `role`/`roles`.
SCOPES = ("viewer", "manager", "admin")
# A JWKS fetch happens inside a request: fail fast rather than hold a worker for 30 s.
JWKS_TIMEOUT_SECONDS = 5.0

VerifyingKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

# The only algorithms ever used to verify, each with the key types that can verify it.
# Anything else in JWT_ALGORITHMS (none, HS*) is ignored here and flagged by skeldir.E002.
_RSA = (rsa.RSAPublicKey,)
_EC = (ec.EllipticCurvePublicKey,)
ALGORITHM_KEY_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), _RSA),
    **dict.fromkeys(("ES256", "ES256K", "ES384", "ES512"), _EC),
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}


@dataclass(frozen=True)
class TokenPrincipal:
    """`request.user` of an authenticated API request: who the verified token speaks for."""

    tenant_id: uuid.UUID
    subject: str | None
    scopes: frozenset[str]
    jti: str
    expires_at: datetime

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    def has_scope(self, name: str) -> bool:
        return name.lower() in self.scopes


class TokenRefused(AuthenticationFailed):
    """A presented credential was refused. `bearer_error` is the RFC 6750 error code for
    the challenge: None when no bearer token was presented at all (another scheme)."""

    def __init__(self, detail: str, code: str, *, bearer_error: str | None = "invalid_token") -> None:
        super().__init__(detail, code)
        self.code = code
        self.bearer_error = bearer_error


class InsufficientScope(PermissionDenied):
    default_code = "insufficient_scope"
    default_detail = "The token lacks the scope this operation requires."

    def __init__(self, scope: str) -> None:
        super().__init__(f"The token lacks the '{scope}' scope this operation requires.")
        self.scope = scope


# --- Authentication -------------------------------------------------------------------


class JWTAuthentication(BaseAuthentication):
    """`Authorization: Bearer <JWT>` → (TokenPrincipal, the verified claims, read-only).

    The raw token is not kept: `request.auth` is the claims mapping, not the bearer string.
    """

    def authenticate(self, request: Request) -> tuple[TokenPrincipal, Mapping[str, Any]] | None:
        header = get_authorization_header(request)
        if not header.strip():
            return None
        try:
            return principal_from_authorization(header)
        except TokenRefused as exc:
            # authenticate_header() and www_authenticate() build the challenge from these.
            request._auth_error_code = exc.code  # type: ignore[attr-defined]
            request._auth_challenge = _challenge(exc.bearer_error, str(exc.detail))  # type: ignore[attr-defined]
            logger.info("token_refused code=%s", exc.code, extra={"event": "token_refused", "code": exc.code})
            raise

    def authenticate_header(self, request: Request) -> str:
        return getattr(request, "_auth_challenge", None) or _challenge(None)


def principal_from_authorization(header: bytes) -> tuple[TokenPrincipal, Mapping[str, Any]]:
    """Verify an Authorization header value; raise TokenRefused for anything short of valid."""
    scheme, _, rest = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        raise TokenRefused(
            "Use the Bearer scheme: Authorization: Bearer <token>.", "unsupported_scheme", bearer_error=None
        )
    raw = rest.strip()
    if not raw:
        raise TokenRefused("The bearer token is empty.", "token_malformed", bearer_error="invalid_request")
    if len(raw.split()) > 1:
        raise TokenRefused("The bearer token contains spaces.", "token_malformed", bearer_error="invalid_request")
    if len(raw) > MAX_TOKEN_BYTES:
        raise TokenRefused(f"The bearer token is longer than {MAX_TOKEN_BYTES} bytes.", "token_malformed")
    try:
        token = raw.decode("ascii")
    except UnicodeDecodeError:
        raise TokenRefused("The bearer token is not a well-formed JWT.", "token_malformed") from None
    now = time.time()
    known = _verified_tokens.get(token, now)
    if known is not None:
        return known
    claims = _verified_claims(token)
    verified = (_principal(claims), MappingProxyType(claims))
    # A dashboard polls with the same token: remember it until it expires (the leeway
    # included, as PyJWT would accept it), so the signature is verified once per process.
    _verified_tokens.put(token, verified, deadline=float(claims["exp"]) + settings.JWT_LEEWAY_SECONDS)
    return verified


# Tokens that verified, by their text; bounded in number and by each token's own expiry.
_verified_tokens: BoundedMemo[tuple[TokenPrincipal, Mapping[str, Any]]] = BoundedMemo(
    settings.JWT_VERIFIED_TOKENS_MEMO_SIZE
)


def _verified_claims(token: str) -> dict[str, Any]:
    if not settings.JWT_PUBLIC_KEYS and not settings.JWT_JWKS_URL:
        raise TokenRefused("This server has no token verification keys configured.", "token_unverifiable")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRefused("The bearer token is not a well-formed JWT.", "token_malformed") from None
    accepted = accepted_algorithms()
    # Before any key lookup, so `none` or HS256 never cost a JWKS fetch.
    if header.get("alg") not in accepted:
        only = f" ({', '.join(accepted)} only)" if accepted else ""
        raise TokenRefused(f"The token's signing algorithm is not accepted{only}.", "token_invalid")
    kid = header.get("kid")
    if not kid:
        raise TokenRefused("The token header names no signing key (kid).", "unknown_key")
    key = _verification_key(kid)
    if isinstance(key, jwt.PyJWK):
        algorithms = accepted  # PyJWT also holds the token to the JWK's own algorithm
    else:
        algorithms = [alg for alg in accepted if isinstance(key, ALGORITHM_KEY_TYPES[alg])]
    audience, issuer = settings.JWT_AUDIENCE, settings.JWT_ISSUER
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience or None,
            issuer=issuer or None,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_aud": bool(audience)},
        )
    except jwt.PyJWTError as exc:
        raise _refusal(exc) from None


def _refusal(exc: jwt.PyJWTError) -> TokenRefused:
    """One place that classifies PyJWT's errors (subclasses before their bases)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return TokenRefused("The token has expired.", "token_expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return TokenRefused("The token is not valid yet (nbf or iat is in the future).", "token_not_yet_valid")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return TokenRefused(f"The token lacks the required claim '{exc.claim}'.", "claims_missing")
    if isinstance(exc, jwt.InvalidIssuerError):
        return TokenRefused("The token's issuer (iss) is not accepted.", "token_invalid")
    if isinstance(exc, jwt.InvalidAudienceError):
        return TokenRefused("The token's audience (aud) is not accepted.", "token_invalid")
    if isinstance(exc, jwt.InvalidSignatureError):
        return TokenRefused("The token's signature does not verify.", "token_invalid")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return TokenRefused("The token's signing algorithm is not accepted for its key.", "token_invalid")
    wrong_type = {
        jwt.InvalidIssuedAtError: "iat",
        jwt.exceptions.InvalidSubjectError: "sub",
        jwt.exceptions.InvalidJTIError: "jti",
    }
    for cls, claim in wrong_type.items():
        if isinstance(exc, cls):
            return TokenRefused(f"The token's claim '{claim}' has the wrong type.", "claims_invalid")
    if isinstance(exc, jwt.DecodeError):
        # PyJWT tells a mistyped exp/nbf from a broken token only in its message.
        for claim in ("exp", "nbf"):
            if f"({claim})" in str(exc):
                return TokenRefused(f"The token's claim '{claim}' must be an integer.", "claims_invalid")
        return TokenRefused("The bearer token is not a well-formed JWT.", "token_malformed")
    return TokenRefused("The token is invalid.", "token_invalid")


def _principal(claims: dict[str, Any]) -> TokenPrincipal:
    raw_tenant = claims["tenant_id"]
    try:
        if not isinstance(raw_tenant, str):
            raise ValueError
        tenant_id = uuid.UUID(raw_tenant)
    except ValueError:
        raise TokenRefused("The token's claim 'tenant_id' is not a UUID.", "claims_invalid") from None
    if not claims["jti"]:
        raise TokenRefused("The token lacks the required claim 'jti'.", "claims_missing")
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise TokenRefused("The token's claim 'exp' is out of range.", "claims_invalid") from None
    if int(claims["exp"]) - int(claims["iat"]) > settings.JWT_MAX_LIFETIME_SECONDS:
        # A long-lived token cannot be taken back: refuse it however well it is signed.
        raise TokenRefused(
            f"The token's lifetime (exp - iat) is longer than {settings.JWT_MAX_LIFETIME_SECONDS} seconds.",
            "claims_invalid",
        )
    return TokenPrincipal(
        tenant_id=tenant_id,
        subject=claims.get("sub"),
        scopes=scopes_from_claims(claims),
        jti=claims["jti"],
        expires_at=expires_at,
    )


def scopes_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """`scopes` (a list, or one space-separated string) is authoritative when present:
    exactly the known scopes it names, no hierarchy. Without it, `role` (a string) and
    `roles` (a list) expand: admin ⊇ manager ⊇ viewer. Unknown names are dropped."""
    if claims.get("scopes") is not None:
        names = _names(claims["scopes"], "scopes")
        return frozenset(names) & frozenset(SCOPES)
    granted: set[str] = set()
    for claim in ("role", "roles"):
        if claims.get(claim) is None:
            continue
        for name in _names(claims[claim], claim):
            if name in SCOPES:
                granted.update(SCOPES[: SCOPES.index(name) + 1])
    return frozenset(granted)


def _names(value: object, claim: str) -> list[str]:
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise TokenRefused(
            f"The token's claim '{claim}' must be a list of strings or a space-separated string.", "claims_invalid"
        )
    return [name.strip().lower() for name in names]


# --- Keys -----------------------------------------------------------------------------


def accepted_algorithms() -> list[str]:
    return [alg for alg in settings.JWT_ALGORITHMS if alg in ALGORITHM_KEY_TYPES]


def key_ring_load(raw: object) -> tuple[dict[str, VerifyingKey | None], list[str]]:
    """Parse a JWT_PUBLIC_KEYS value ({kid: public key PEM}). Returns the keys (None for a
    PEM that does not load) and one sentence per problem, for the system checks."""
    if not isinstance(raw, dict):
        return {}, ["JWT_PUBLIC_KEYS must be a JSON object of kid to public key PEM."]
    keys: dict[str, VerifyingKey | None] = {}
    problems: list[str] = []
    for kid, pem in raw.items():
        key: VerifyingKey | None = None
        if isinstance(pem, str):
            try:
                # Tolerate PEMs whose newlines arrived escaped (`\n`) through an env file.
                loaded = serialization.load_pem_public_key(pem.replace("\\n", "\n").encode())
            except (ValueError, TypeError, UnsupportedAlgorithm):
                loaded = None
            if isinstance(loaded, VerifyingKey):
                key = loaded
        if key is None:
            problems.append(f"JWT_PUBLIC_KEYS[{kid!r}] is not an RSA, EC or EdDSA public key in PEM.")
        keys[str(kid)] = key
    return keys, problems


@functools.cache
def _key_ring() -> dict[str, VerifyingKey | None]:
    keys, problems = key_ring_load(settings.JWT_PUBLIC_KEYS)
    for problem in problems:
        logger.error("jwt_key_ring_invalid: %s", problem)
    return keys


@functools.cache
def _jwks_client() -> jwt.PyJWKClient:
    lifespan = settings.JWT_JWKS_CACHE_SECONDS
    return jwt.PyJWKClient(
        settings.JWT_JWKS_URL,
        cache_jwk_set=lifespan > 0,
        lifespan=max(lifespan, 1),
        timeout=JWKS_TIMEOUT_SECONDS,
    )


@receiver(setting_changed)
def _reset_keys(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("JWT_"):
        _key_ring.cache_clear()
        _jwks_client.cache_clear()
        _verified_tokens.clear()
        _verified_tokens.maxsize = settings.JWT_VERIFIED_TOKENS_MEMO_SIZE


def _verification_key(kid: str) -> VerifyingKey | jwt.PyJWK:
    ring = _key_ring()
    if kid in ring:
        key = ring[kid]
        if key is None:
            raise TokenRefused("The server cannot load the key this token names.", "token_unverifiable")
        return key
    if not settings.JWT_JWKS_URL:
        raise TokenRefused("The token is signed with an unknown key.", "unknown_key")
    return _jwks_key(kid)


def _jwks_key(kid: str) -> jwt.PyJWK:
    unreachable = TokenRefused("The server cannot fetch the keys to verify this token right now.", "token_unverifiable")
    try:
        client = _jwks_client()
        jwk = client.match_kid(client.get_signing_keys(), kid)
    except (jwt.PyJWTError, ValueError, OSError) as exc:  # ValueError: a body that is not JSON
        logger.warning("jwks_unavailable error=%s", type(exc).__name__, extra={"event": "jwks_unavailable"})
        raise unreachable from None
    if jwk is not None:
        return jwk
    try:
        # Not in the cached set: PyJWKClient refetches once (rate-limited) for a rotated key.
        return client.get_signing_key(kid)
    except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ValueError, OSError) as exc:
        logger.warning("jwks_unavailable error=%s", type(exc).__name__, extra={"event": "jwks_unavailable"})
        raise unreachable from None
    except jwt.PyJWKClientError:
        raise TokenRefused("The token is signed with an unknown key.", "unknown_key") from None


def jwks_url_problem(url: str) -> str | None:
    if url and urlparse(url).scheme.lower() not in ("http", "https"):
        return "JWT_JWKS_URL must be an http(s) URL."
    return None


# --- Permissions and the challenge ----------------------------------------------------


class IsAuthenticatedPrincipal(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, TokenPrincipal)


class ScopePermission(BasePermission):
    """Base of the classes RequireScope() makes: an authenticated principal with `scope`.
    Without a principal DRF answers 401; without the scope, 403 `insufficient_scope`."""

    scope: ClassVar[str]

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, TokenPrincipal):
            return False
        if not principal.has_scope(self.scope):
            raise InsufficientScope(self.scope)
        return True


def RequireScope(scope: str) -> type[ScopePermission]:  # noqa: N802  (reads as a class in permission_classes)
    """`permission_classes = [RequireScope("viewer")]`. The same class for the same scope."""
    return _scope_permission(scope.lower())


@functools.cache
def _scope_permission(scope: str) -> type[ScopePermission]:
    if scope not in SCOPES:
        raise ValueError(f"{scope!r} is not a scope ({', '.join(SCOPES)})")
    return type(f"RequireScope_{scope}", (ScopePermission,), {"scope": scope, "__module__": __name__})


def www_authenticate(request: Any, exc: Exception) -> str | None:
    """The WWW-Authenticate value for an API error, or None when it needs none (RFC 6750 §3):
    the realm alone without credentials, `error="invalid_token"` (or `invalid_request`)
    with a description for a refused token, `error="insufficient_scope"` and the scope for
    a 403 for scope."""
    if isinstance(exc, InsufficientScope):
        return _challenge("insufficient_scope", str(exc.detail), scope=exc.scope)
    if isinstance(exc, TokenRefused):
        return _challenge(exc.bearer_error, str(exc.detail))
    if isinstance(exc, AuthenticationFailed):
        return getattr(request, "_auth_challenge", None) or _challenge("invalid_token", str(exc.detail))
    if isinstance(exc, NotAuthenticated):
        return _challenge(None)
    return None


def _challenge(error: str | None, description: str = "", *, scope: str | None = None) -> str:
    params = [f'realm="{REALM}"']
    if error:
        params.append(f'error="{error}"')
        if description:
            params.append(f'error_description="{_quotable(description)}"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params)


def _quotable(text: str) -> str:
    # RFC 6750 §3: error_description is printable ASCII without `"` and `\`.
    return "".join(ch for ch in text if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\')
