"""The install flow: `oauth_start` and `oauth_complete` (DB + platform calls).

Start: a handshake row (tenant, user, redirect URI, shop, encrypted PKCE verifier,
expiry) under the tenant's RLS, and the platform's authorize URL carrying the state.

Complete, in this order, storing nothing until the state is proven and spent:
1. the state parses (else `oauth_state_missing` / `oauth_state_invalid`), and for
   Shopify the callback's HMAC verifies (`oauth_signature_invalid`) — no database yet;
2. in the state's tenant, the handshake with the state's id exists and its stored hash
   equals the secret's (constant time), for this platform (else `oauth_state_invalid`:
   forged, altered, another tenant's); it was not used (`oauth_state_used`), has not
   expired (`oauth_state_expired`), and was started for this very callback URL
   (`oauth_redirect_mismatch`). A state that matched is consumed in the same committed
   transaction, whatever follows, so it can never be replayed;
3. the platform's own answer: `error=` (`oauth_denied`), no code (`oauth_code_missing`);
4. outside any transaction, the code is exchanged at the platform's token endpoint
   (`oauth_code_rejected` when the platform refuses it — a PKCE mismatch among others —,
   `oauth_platform_error` when it fails) and the accounts are named (token response or the
   adapter's `verify_credentials`; `oauth_no_accounts` when there are none);
5. only then, in the tenant's context, one connection per account and its encrypted
   credential are upserted. A grant issued in step 4 that is not stored (no accounts, a
   failure naming them or storing them) is revoked at the platform where it offers that.
Rejections are logged with the reason code, platform and tenant; never a state, code,
verifier or token.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connections.crypto import PGP_OPTIONS, CredentialKeyError, key_ring
from connections.models import OAuthHandshake, PlatformConnection
from connections.oauth.base import OAuthFlow, OAuthGrant, OAuthProblem
from connections.oauth.registry import oauth_flow_get
from connections.oauth.state import State, pkce_pair, secret_hash, secret_matches, state_new, state_parse
from connections.services import CredentialInvalid, connection_upsert, credential_upsert
from providers.base import CredentialCheckContext
from providers.errors import ProviderAuthError, ProviderError
from providers.registry import provider_get
from skeldir.tenancy import tenant_context, tenant_exists

logger = logging.getLogger(__name__)

MAX_ACCOUNTS_PER_GRANT = 25
# Spent and expired handshakes are kept this long (a replay is then told "used", not
# "unknown"), then purged when the tenant starts another install.
HANDSHAKE_RETENTION = timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class OAuthStart:
    platform: str
    authorize_url: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class OAuthCompletion:
    platform: str
    tenant_id: uuid.UUID
    connections: tuple[PlatformConnection, ...]


def oauth_flow(platform: str) -> OAuthFlow:
    """The configured flow, or an OAuthProblem: 404 for a platform without OAuth install,
    503 `oauth_unavailable` when its app credentials are not configured."""
    flow = oauth_flow_get(platform)
    if flow is None:
        raise OAuthProblem(404, "oauth_platform_unknown", f"No OAuth install exists for platform {platform!r}.")
    if not flow.configured:
        raise OAuthProblem(
            503,
            "oauth_unavailable",
            f"Connecting {flow.name} by OAuth is not available: the app credentials are not configured.",
        )
    return flow


# --- start --------------------------------------------------------------------------------


def oauth_start(
    *,
    tenant_id: uuid.UUID,
    subject: str | None,
    platform: str,
    redirect_uri: str,
    shop: str | None = None,
    now: datetime | None = None,
) -> OAuthStart:
    flow = oauth_flow(platform)
    now = now or timezone.now()
    if flow.needs_shop:
        shop = flow.normalise_shop(shop)
        if shop is None:
            raise OAuthProblem(
                400, "validation_error", "shop: the shop's myshopify.com domain is required (e.g. acme.myshopify.com)."
            )
    else:
        shop = None
    if not tenant_exists(tenant_id):
        raise OAuthProblem(404, "tenant_not_found", "The token's tenant does not exist.")
    state = state_new(tenant_id)
    verifier, challenge = pkce_pair() if flow.pkce else (None, None)
    expires_at = now + timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS)
    ring = key_ring()
    with tenant_context(tenant_id), connection.cursor() as cursor:
        cursor.execute("DELETE FROM oauth_handshake_sessions WHERE expires_at < %s", [now - HANDSHAKE_RETENTION])
        cursor.execute(
            """
            INSERT INTO oauth_handshake_sessions (
                id, tenant_id, platform, state_hash, subject, redirect_uri, shop,
                encrypted_code_verifier, key_id, expires_at, consumed_at, created_at
            ) VALUES (
                %(id)s, %(tenant)s, %(platform)s, %(hash)s, %(subject)s, %(redirect)s, %(shop)s,
                CASE WHEN %(verifier)s::text IS NULL THEN NULL
                    ELSE pgp_sym_encrypt(%(verifier)s::text, %(key)s, %(pgp)s) END,
                CASE WHEN %(verifier)s::text IS NULL THEN NULL ELSE %(key_id)s END,
                %(expires)s, NULL, %(now)s
            )
            """,
            {
                "id": state.handshake_id,
                "tenant": tenant_id,
                "platform": platform,
                "hash": secret_hash(state.secret),
                "subject": subject,
                "redirect": redirect_uri,
                "shop": shop,
                "verifier": verifier,
                "key": ring.current_secret,
                "pgp": PGP_OPTIONS,
                "key_id": ring.current_id,
                "expires": expires_at,
                "now": now,
            },
        )
    logger.info(
        "oauth_started",
        extra={
            "event": "oauth_started",
            "platform": platform,
            "tenant_id": str(tenant_id),
            "handshake_id": str(state.handshake_id),
        },
    )
    url = flow.authorize_url(state=state.encode(), redirect_uri=redirect_uri, code_challenge=challenge, shop=shop)
    return OAuthStart(platform=platform, authorize_url=url, expires_at=expires_at)


# --- complete -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Claimed:
    handshake_id: uuid.UUID
    shop: str | None
    code_verifier: str | None = dataclasses.field(repr=False)


def oauth_complete(
    *,
    platform: str,
    params: Mapping[str, str],
    redirect_uri: str,
    correlation_id: str,
    now: datetime | None = None,
) -> OAuthCompletion:
    """Validate the callback and connect the accounts (see the module docstring); every
    refusal is an OAuthProblem, logged once here."""
    tenant: uuid.UUID | None = None
    try:
        flow = oauth_flow(platform)
        raw_state = params.get("state")
        if not raw_state:
            raise OAuthProblem(400, "oauth_state_missing", "The callback carries no state: start the connection again.")
        state = state_parse(raw_state)
        if state is None:
            raise OAuthProblem(
                400, "oauth_state_invalid", "The callback's state is not valid: start the connection again."
            )
        tenant = state.tenant_id
        flow.check_callback(params, shop=None)  # the platform's signature, before any database work
        claimed = _claim(state, platform, redirect_uri, now or timezone.now())
        flow.check_callback(params, shop=claimed.shop)
        return _finish(flow, state.tenant_id, claimed, params, redirect_uri, correlation_id)
    except OAuthProblem as problem:
        logger.warning(
            "oauth_callback_rejected",
            extra={
                "event": "oauth_callback_rejected",
                "platform": platform,
                "tenant_id": str(tenant) if tenant else None,
                "reason": problem.code,
                "correlation_id": correlation_id,
            },
        )
        raise


def _claim(state: State, platform: str, redirect_uri: str, now: datetime) -> _Claimed:
    """Check the handshake behind `state` and spend it (committed even when a later check
    fails). The verdict is computed inside the transaction and raised after it."""
    problem: OAuthProblem | None = None
    claimed: _Claimed | None = None
    with tenant_context(state.tenant_id):
        row = (
            OAuthHandshake.objects.select_for_update()
            .filter(id=state.handshake_id)
            .values("id", "platform", "state_hash", "redirect_uri", "shop", "key_id", "expires_at", "consumed_at")
            .first()
        )
        if row is None or not secret_matches(row["state_hash"], state.secret) or row["platform"] != platform:
            # Unknown, forged, altered, another tenant's (RLS hides it) or another platform's.
            raise OAuthProblem(
                400, "oauth_state_invalid", "The callback's state is not valid: start the connection again."
            )
        if row["consumed_at"] is not None:
            raise OAuthProblem(
                400, "oauth_state_used", "This authorization was already completed or refused; start again."
            )
        OAuthHandshake.objects.filter(id=row["id"]).update(consumed_at=now)
        if row["expires_at"] <= now:
            problem = OAuthProblem(
                400, "oauth_state_expired", "The authorization took too long and expired; start again."
            )
        elif row["redirect_uri"] != redirect_uri:
            problem = OAuthProblem(
                400,
                "oauth_redirect_mismatch",
                "The callback did not arrive at the address the authorization was started for.",
            )
        else:
            try:
                verifier = _verifier(row["id"], row["key_id"])
            except OAuthProblem as undecryptable:
                problem = undecryptable
            else:
                claimed = _Claimed(handshake_id=row["id"], shop=row["shop"], code_verifier=verifier)
    if problem is not None:
        raise problem
    assert claimed is not None
    return claimed


def _verifier(handshake_id: uuid.UUID, key_id: str | None) -> str | None:
    if key_id is None:
        return None
    try:
        secret = key_ring().secret(key_id)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pgp_sym_decrypt(encrypted_code_verifier, %s) FROM oauth_handshake_sessions WHERE id = %s",
                [secret, handshake_id],
            )
            return cursor.fetchone()[0]
    except (CredentialKeyError, DatabaseError):
        # A key removed from the ring within the state's lifetime; the driver's error
        # would carry the statement's parameters, so it is not chained.
        raise OAuthProblem(
            400, "oauth_state_invalid", "The authorization can no longer be completed; start again."
        ) from None


def _finish(
    flow: OAuthFlow,
    tenant_id: uuid.UUID,
    claimed: _Claimed,
    params: Mapping[str, str],
    redirect_uri: str,
    correlation_id: str,
) -> OAuthCompletion:
    platform_error = params.get("error")
    if platform_error:
        reason = "".join(ch for ch in platform_error[:40] if ch.isalnum() or ch in "_-")
        raise OAuthProblem(
            400, "oauth_denied", f"{flow.name} did not grant access ({reason or 'refused'}).", state_valid=True
        )
    code = params.get("code")
    if not code:
        raise OAuthProblem(400, "oauth_code_missing", f"{flow.name} sent no authorization code.", state_valid=True)
    try:
        grant = flow.exchange_code(
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=claimed.code_verifier,
            shop=claimed.shop,
            correlation_id=correlation_id,
        )
    except ProviderAuthError as exc:  # the platform refused the code: used, expired, PKCE mismatch, …
        raise OAuthProblem(400, "oauth_code_rejected", str(exc.message), state_valid=True) from None
    except ProviderError as exc:
        raise OAuthProblem(
            502,
            "oauth_platform_error",
            f"{flow.name} could not complete the authorization ({exc.kind}): {exc.message}",
            state_valid=True,
        ) from None
    try:
        try:
            accounts = _accounts(flow, grant, claimed.shop, correlation_id)
        except ProviderError as exc:
            raise OAuthProblem(
                502,
                "oauth_platform_error",
                f"{flow.name} granted access but could not name the accounts ({exc.kind}): {exc.message}",
                state_valid=True,
            ) from None
        if not accounts:
            raise OAuthProblem(
                422,
                "oauth_no_accounts",
                f"The {flow.name} user granted access to no account this service can read.",
                state_valid=True,
            )
        try:
            rows = _connections_store(flow, tenant_id, accounts, grant)
        except CredentialInvalid as exc:  # e.g. an expiry centuries away: stored nowhere
            raise OAuthProblem(
                502,
                "oauth_platform_error",
                f"{flow.name} issued a token that cannot be stored: {exc}.",
                state_valid=True,
            ) from None
    except Exception:
        # Nothing here will ever use or revoke this grant: withdraw it at the platform
        # rather than leave a live authorization behind.
        _grant_withdraw(flow, grant, claimed.shop, correlation_id)
        raise
    logger.info(
        "oauth_connected",
        extra={
            "event": "oauth_connected",
            "platform": flow.platform,
            "tenant_id": str(tenant_id),
            "handshake_id": str(claimed.handshake_id),
            "accounts": len(rows),
            "correlation_id": correlation_id,
        },
    )
    return OAuthCompletion(platform=flow.platform, tenant_id=tenant_id, connections=tuple(rows))


def _connections_store(
    flow: OAuthFlow, tenant_id: uuid.UUID, accounts: list[str], grant: OAuthGrant
) -> list[PlatformConnection]:
    grant_id = secrets.token_hex(8)  # links the connections one authorization made (revocation)
    rows = []
    with tenant_context(tenant_id):
        for account in accounts:
            row = connection_upsert(
                tenant_id=tenant_id,
                platform=flow.platform,
                platform_account_id=account,
                metadata={"connected_via": "oauth", "oauth_grant": grant_id},
            )
            credential_upsert(
                connection_row=row,
                access_token=grant.access_token,
                refresh_token=grant.refresh_token,
                expires_at=grant.expires_at,
                scope=grant.scope,
                token_type=grant.token_type,
            )
            rows.append(row)
    return rows


def _grant_withdraw(flow: OAuthFlow, grant: OAuthGrant, shop: str | None, correlation_id: str) -> None:
    """Best effort: revoke a grant that was issued but will not be stored, and log how it went."""
    if not flow.supports_revoke:
        outcome = "not_offered"
    else:
        try:
            flow.revoke(
                access_token=grant.access_token,
                refresh_token=grant.refresh_token,
                account_id=shop or (grant.account_ids[0] if grant.account_ids else ""),
                correlation_id=correlation_id,
            )
            outcome = "revoked"
        except ProviderError as exc:
            outcome = exc.kind
    log = logger.info if outcome in ("revoked", "not_offered") else logger.warning
    log(
        "oauth_grant_withdrawn",
        extra={
            "event": "oauth_grant_withdrawn",
            "platform": flow.platform,
            "outcome": outcome,
            "correlation_id": correlation_id,
        },
    )


def _accounts(flow: OAuthFlow, grant: OAuthGrant, shop: str | None, correlation_id: str) -> list[str]:
    """The accounts the grant is for: from the token response, else the adapter's check."""
    if grant.account_ids:
        return list(grant.account_ids)[:MAX_ACCOUNTS_PER_GRANT]
    check = provider_get(flow.platform).verify_credentials(
        CredentialCheckContext(
            platform_account_id=shop or "",
            connection_metadata={},
            access_token=grant.access_token,
            correlation_id=correlation_id,
        )
    )
    accounts = list(check.account_ids)
    if shop is not None and accounts != [shop]:
        raise OAuthProblem(
            502, "oauth_platform_error", "Shopify answered for another shop than the install.", state_valid=True
        )
    return accounts[:MAX_ACCOUNTS_PER_GRANT]
