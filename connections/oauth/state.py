"""The `state` parameter, the confirmation code, and PKCE.

The callback is a browser redirect from the platform: no bearer token, so no tenant. The
state therefore names the tenant itself, next to a secret that proves it was ours:

    v1.<tenant id, 32 hex>.<handshake id, 32 hex>.<secret, 43 url-safe base64 chars (256 bits)>

Only SHA-256(secret) is stored. The callback opens the named tenant's context (RLS as
everywhere), reads the handshake by id and compares the hashes with `hmac.compare_digest`:
a forged, altered or other tenant's state finds no row or a different hash. Parsing is
strict and bounded, so anything else is simply "not our state".

The confirmation code the callback hands the consenting browser (see
connections.oauth.services) has the same shape under its own prefix, so one can never
pass for the other:

    c1.<tenant id, 32 hex>.<handshake id, 32 hex>.<secret, 43 url-safe base64 chars>

and is checked the same way (only its SHA-256 is stored, compared in constant time).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import secrets
import uuid

VERSION = "v1"
CONFIRMATION_VERSION = "c1"
_STATE = re.compile(r"^v1\.([0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
_CONFIRMATION = re.compile(r"^c1\.([0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
MAX_STATE_LENGTH = 200


@dataclasses.dataclass(frozen=True)
class State:
    tenant_id: uuid.UUID
    handshake_id: uuid.UUID
    secret: str = dataclasses.field(repr=False)

    def encode(self) -> str:
        return f"{VERSION}.{self.tenant_id.hex}.{self.handshake_id.hex}.{self.secret}"


def state_new(tenant_id: uuid.UUID) -> State:
    return State(tenant_id=tenant_id, handshake_id=uuid.uuid4(), secret=secrets.token_urlsafe(32))


def state_parse(raw: str | None) -> State | None:
    """The state's parts, or None for anything that is not one of ours in form."""
    match = _match(_STATE, raw)
    if not match:
        return None
    return State(tenant_id=uuid.UUID(match[1]), handshake_id=uuid.UUID(match[2]), secret=match[3])


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """The one-time code that confirms a pending install (handed to the consenting browser)."""

    tenant_id: uuid.UUID
    handshake_id: uuid.UUID
    secret: str = dataclasses.field(repr=False)

    def encode(self) -> str:
        return f"{CONFIRMATION_VERSION}.{self.tenant_id.hex}.{self.handshake_id.hex}.{self.secret}"


def confirmation_new(tenant_id: uuid.UUID, handshake_id: uuid.UUID) -> Confirmation:
    return Confirmation(tenant_id=tenant_id, handshake_id=handshake_id, secret=secrets.token_urlsafe(32))


def confirmation_parse(raw: object) -> Confirmation | None:
    """The code's parts, or None for anything that is not one of ours in form."""
    match = _match(_CONFIRMATION, raw)
    if not match:
        return None
    return Confirmation(tenant_id=uuid.UUID(match[1]), handshake_id=uuid.UUID(match[2]), secret=match[3])


def _match(pattern: re.Pattern[str], raw: object) -> re.Match[str] | None:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_STATE_LENGTH:
        return None
    return pattern.fullmatch(raw)  # fullmatch: `$` alone would let a trailing newline through


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(stored_hash: str, secret: str) -> bool:
    """Constant-time comparison of what was stored at `start` with what came back."""
    return hmac.compare_digest(stored_hash, secret_hash(secret))


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636: 64 unreserved characters."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
