"""The install flow: `oauth_start`, `oauth_complete` (the callback) and `oauth_confirm`.

Why the install ends with a confirmation (issue 18). Whoever opens an authorize URL
consents with *their own* platform account, and the state binds the install to the tenant
and user who started it, not to the browser that comes back. So a manager of tenant B
could start an install, send the URL to a victim, and the victim's approval would connect
the victim's account to tenant B. The callback therefore never stores a connection: it
holds the grant *pending* (encrypted with the credential key ring, on the handshake row
under the tenant's row-level security, until `confirm_by` = callback + OAUTH_STATE_TTL_SECONDS)
and hands the browser that came back, and only it, a one-time confirmation code. The grant
becomes connections only when one request carries both that code and a bearer token of the
tenant and user (`sub`) that started the install:
- the starter (the attacker above) has the token but never sees the code: it went to the
  browser that consented;
- that browser's user has the code but not the starter's token; a confirmation with any
  other token (another tenant's, or another user's of the same tenant) is refused and the
  grant is withdrawn at the platform at once (`oauth_confirmation_forbidden`);
- a grant nobody confirms is withdrawn when it expires (`oauth_pending_expire`: at the
  tenant's next `start`, and by `manage.py expire_oauth_grants` from cron).
A cookie set by `start`'s response would bind the browser as well, but only when `start`
is called from the very browser that later consents, on the API's own site; the code and
the token work wherever `start` is called from (the dashboard, a backend, another origin).

Start: a handshake row (tenant, user, redirect URI, shop, encrypted PKCE verifier,
expiry) under the tenant's RLS, and the platform's authorize URL carrying the state. The
token must name its user (`sub`): the install is confirmed by that user.

Complete (the callback), in this order, storing nothing until the state is proven and spent:
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
5. the grant and its accounts are held pending on the handshake (encrypted) with the
   SHA-256 of a fresh confirmation code, which is returned (`OAuthPending`).
Confirm: the code's handshake, in the code's tenant, with a matching hash, for this
platform and still pending (else `oauth_confirmation_invalid` / `oauth_confirmation_used`);
the grant is taken off the row in a committed transaction whatever follows, then stored as
one connection per account with its encrypted credential when the token's tenant and `sub`
are the starter's and `confirm_by` has not passed; otherwise withdrawn at the platform
(`oauth_confirmation_forbidden`, `oauth_confirmation_expired`).
A grant issued in step 4 that is not stored (no accounts, a failure naming, holding or
storing them, refused or expired) is revoked at the platform where it offers that.
Rejections are logged with the reason code, platform and tenant; never a state, code,
confirmation, verifier or token.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connections.crypto import PGP_OPTIONS, CredentialKeyError, key_ring
from connections.models import OAuthHandshake, PendingGrantStatus, PlatformConnection
from connections.oauth.base import OAuthFlow, OAuthGrant, OAuthProblem
from connections.oauth.registry import oauth_flow_get
from connections.oauth.state import (
    Confirmation,
    State,
    confirmation_new,
    confirmation_parse,
    pkce_pair,
    secret_hash,
    secret_matches,
    state_new,
    state_parse,
)
from connections.services import CredentialInvalid, connection_upsert, credential_upsert
from providers.base import CredentialCheckContext
from providers.errors import ProviderAuthError, ProviderError
from providers.registry import provider_get
from skeldir.tenancy import tenant_context, tenant_exists, tenant_ids_iter

logger = logging.getLogger(__name__)

MAX_ACCOUNTS_PER_GRANT = 25
# Spent and expired handshakes are kept this long (a replay is then told "used", not
# "unknown"), then purged when the tenant starts another install; never while a grant is
# still pending on them (it is withdrawn first).
HANDSHAKE_RETENTION = timedelta(days=1)
# Expired pending grants taken off their rows per transaction by the sweep.
EXPIRY_BATCH = 50


@dataclasses.dataclass(frozen=True)
class OAuthStart:
    platform: str
    authorize_url: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class OAuthPending:
    """The callback's outcome: a grant held until the starter confirms it with `confirmation`
    (a one-time code for the browser that consented, never logged) before `expires_at`."""

    platform: str
    tenant_id: uuid.UUID
    confirmation: str = dataclasses.field(repr=False)
    expires_at: datetime
    accounts: int


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
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> OAuthStart:
    """Record a handshake for `subject` of `tenant_id` and answer the authorize URL. The
    tenant's expired pending grants are withdrawn and its old handshakes purged first."""
    flow = oauth_flow(platform)
    now = now or timezone.now()
    if not subject:
        raise OAuthProblem(
            403,
            "oauth_user_required",
            "Connecting by OAuth needs a token that names its user (`sub`): that user confirms the install.",
        )
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
    oauth_pending_expire(tenant_ids=[tenant_id], now=now, correlation_id=correlation_id)
    state = state_new(tenant_id)
    verifier, challenge = pkce_pair() if flow.pkce else (None, None)
    expires_at = now + timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS)
    ring = key_ring()
    with tenant_context(tenant_id), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM oauth_handshake_sessions WHERE expires_at < %s AND grant_status IS DISTINCT FROM %s",
            [now - HANDSHAKE_RETENTION, PendingGrantStatus.PENDING],
        )
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


# --- complete (the callback) --------------------------------------------------------------


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
) -> OAuthPending:
    """Validate the callback, exchange the code and hold the grant for confirmation (see
    the module docstring); every refusal is an OAuthProblem, logged once here."""
    tenant: uuid.UUID | None = None
    now = now or timezone.now()
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
        claimed = _claim(state, platform, redirect_uri, now)
        flow.check_callback(params, shop=claimed.shop)
        return _finish(flow, state.tenant_id, claimed, params, redirect_uri, correlation_id, now)
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
        return _decrypt("encrypted_code_verifier", handshake_id, key_id)
    except (CredentialKeyError, DatabaseError):
        raise OAuthProblem(
            400, "oauth_state_invalid", "The authorization can no longer be completed; start again."
        ) from None


def _decrypt(column: str, handshake_id: uuid.UUID, key_id: str) -> str:
    """One encrypted column of a handshake of the current tenant. A key removed from the
    ring meanwhile raises CredentialKeyError; pgcrypto's refusal a DatabaseError, which
    callers never chain (the driver's error can carry the statement's parameters)."""
    secret = key_ring().secret(key_id)
    with transaction.atomic(), connection.cursor() as cursor:
        # `column` is one of ours (never input), so it may be formatted into the statement.
        cursor.execute(
            f"SELECT pgp_sym_decrypt({column}, %s) FROM oauth_handshake_sessions WHERE id = %s",
            [secret, handshake_id],
        )
        found = cursor.fetchone()
    if found is None or found[0] is None:
        raise CredentialKeyError("the handshake holds nothing to decrypt")
    return str(found[0])


def _finish(
    flow: OAuthFlow,
    tenant_id: uuid.UUID,
    claimed: _Claimed,
    params: Mapping[str, str],
    redirect_uri: str,
    correlation_id: str,
    now: datetime,
) -> OAuthPending:
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
        confirmation, confirm_by = _pending_hold(tenant_id, claimed.handshake_id, grant, accounts, now)
    except Exception:
        # Nothing here will ever use or revoke this grant: withdraw it at the platform
        # rather than leave a live authorization behind.
        _grant_withdraw(flow, grant, claimed.shop, correlation_id)
        raise
    logger.info(
        "oauth_grant_pending",
        extra={
            "event": "oauth_grant_pending",
            "platform": flow.platform,
            "tenant_id": str(tenant_id),
            "handshake_id": str(claimed.handshake_id),
            "accounts": len(accounts),
            "correlation_id": correlation_id,
        },
    )
    return OAuthPending(
        platform=flow.platform,
        tenant_id=tenant_id,
        confirmation=confirmation.encode(),
        expires_at=confirm_by,
        accounts=len(accounts),
    )


def _pending_hold(
    tenant_id: uuid.UUID, handshake_id: uuid.UUID, grant: OAuthGrant, accounts: list[str], now: datetime
) -> tuple[Confirmation, datetime]:
    """Put the grant on its (spent) handshake, encrypted, with a fresh confirmation code's
    hash and a deadline; the code itself is only returned."""
    confirmation = confirmation_new(tenant_id, handshake_id)
    confirm_by = now + timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS)
    ring = key_ring()
    try:
        with tenant_context(tenant_id), connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE oauth_handshake_sessions SET
                    grant_status = %(pending)s,
                    encrypted_grant = pgp_sym_encrypt(%(grant)s::text, %(key)s, %(pgp)s),
                    grant_key_id = %(key_id)s,
                    confirmation_hash = %(hash)s,
                    confirm_by = %(by)s
                WHERE id = %(id)s AND grant_status IS NULL
                """,
                {
                    "pending": PendingGrantStatus.PENDING,
                    "grant": _grant_document(grant, accounts),
                    "key": ring.current_secret,
                    "pgp": PGP_OPTIONS,
                    "key_id": ring.current_id,
                    "hash": secret_hash(confirmation.secret),
                    "by": confirm_by,
                    "id": handshake_id,
                },
            )
            held = cursor.rowcount == 1
    except DatabaseError:
        held = False  # not chained: the statement's parameters hold the grant
    if not held:
        raise OAuthProblem(
            503,
            "oauth_unavailable",
            "The authorization could not be held for confirmation; start the connection again.",
            state_valid=True,
        )
    return confirmation, confirm_by


def _grant_document(grant: OAuthGrant, accounts: list[str]) -> str:
    return json.dumps(
        {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
            "scope": grant.scope,
            "token_type": grant.token_type,
            "account_ids": list(grant.account_ids),
            "accounts": accounts,
        }
    )


def _grant_from_document(text: str) -> tuple[OAuthGrant, list[str]]:
    doc: dict[str, Any] = json.loads(text)
    grant = OAuthGrant(
        access_token=doc["access_token"],
        refresh_token=doc["refresh_token"],
        expires_at=datetime.fromisoformat(doc["expires_at"]) if doc["expires_at"] else None,
        scope=doc["scope"],
        token_type=doc["token_type"],
        account_ids=tuple(doc["account_ids"]),
    )
    return grant, list(doc["accounts"])


# --- confirm ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Taken:
    """A pending grant taken off its handshake, with the verdict recorded on the row."""

    handshake_id: uuid.UUID
    platform: str
    shop: str | None
    verdict: str
    grant: OAuthGrant | None = dataclasses.field(repr=False)  # None: undecryptable
    accounts: list[str]


def oauth_confirm(
    *,
    tenant_id: uuid.UUID,
    subject: str | None,
    platform: str,
    confirmation: object,
    correlation_id: str,
    now: datetime | None = None,
) -> OAuthCompletion:
    """Store the pending grant behind `confirmation` as connections when the caller (the
    token's `tenant_id` and `subject`) is who started the install, before `confirm_by`;
    otherwise withdraw it at the platform. Every refusal is an OAuthProblem, logged here."""
    now = now or timezone.now()
    install_tenant: uuid.UUID | None = None
    try:
        flow = oauth_flow(platform)
        code = confirmation_parse(confirmation)
        if code is None:
            raise _confirmation_invalid()
        install_tenant = code.tenant_id
        taken = _pending_take(code, platform, now, caller=(tenant_id, subject))
        if taken.grant is None:
            _withdraw_logged(flow.platform, correlation_id, outcome="undecryptable")
            raise OAuthProblem(
                400, "oauth_confirmation_invalid", "The authorization can no longer be completed; start again."
            )
        if taken.verdict == PendingGrantStatus.EXPIRED:
            _grant_withdraw(flow, taken.grant, taken.shop, correlation_id)
            raise OAuthProblem(
                400,
                "oauth_confirmation_expired",
                f"The authorization was not confirmed in time and was withdrawn at {flow.name}; start again.",
            )
        if taken.verdict == PendingGrantStatus.REFUSED:
            _grant_withdraw(flow, taken.grant, taken.shop, correlation_id)
            raise OAuthProblem(
                403,
                "oauth_confirmation_forbidden",
                f"This connection was started by another user: nothing was connected, and the authorization was "
                f"withdrawn at {flow.name}. Start the connection yourself to connect an account.",
            )
        rows = _connections_store_or_withdraw(flow, code.tenant_id, taken, correlation_id)
    except OAuthProblem as problem:
        logger.warning(
            "oauth_confirmation_rejected",
            extra={
                "event": "oauth_confirmation_rejected",
                "platform": platform,
                "tenant_id": str(install_tenant) if install_tenant else None,
                "caller_tenant_id": str(tenant_id),
                "reason": problem.code,
                "correlation_id": correlation_id,
            },
        )
        raise
    logger.info(
        "oauth_connected",
        extra={
            "event": "oauth_connected",
            "platform": flow.platform,
            "tenant_id": str(code.tenant_id),
            "handshake_id": str(taken.handshake_id),
            "accounts": len(rows),
            "correlation_id": correlation_id,
        },
    )
    return OAuthCompletion(platform=flow.platform, tenant_id=code.tenant_id, connections=tuple(rows))


def _confirmation_invalid() -> OAuthProblem:
    return OAuthProblem(
        400, "oauth_confirmation_invalid", "The confirmation code is not valid: start the connection again."
    )


def _pending_take(code: Confirmation, platform: str, now: datetime, *, caller: tuple[uuid.UUID, str | None]) -> _Taken:
    """Find the pending grant behind `code` in the code's tenant, decide (connected,
    refused: another caller than the starter, expired), and take the grant off the row in
    one committed transaction, so it can be acted on once only."""
    with tenant_context(code.tenant_id):
        row = (
            OAuthHandshake.objects.select_for_update()
            .filter(id=code.handshake_id)
            .values(
                "id", "platform", "subject", "shop", "grant_status", "grant_key_id", "confirmation_hash", "confirm_by"
            )
            .first()
        )
        if (
            row is None
            or row["confirmation_hash"] is None
            or not secret_matches(row["confirmation_hash"], code.secret)
            or row["platform"] != platform
        ):
            # Unknown, forged, altered, another tenant's (RLS hides it), another platform's.
            raise _confirmation_invalid()
        if row["grant_status"] != PendingGrantStatus.PENDING:
            raise OAuthProblem(
                400, "oauth_confirmation_used", "This authorization was already confirmed or withdrawn; start again."
            )
        caller_tenant, caller_subject = caller
        if row["confirm_by"] <= now:
            verdict = PendingGrantStatus.EXPIRED
        elif caller_tenant != code.tenant_id or not caller_subject or caller_subject != row["subject"]:
            verdict = PendingGrantStatus.REFUSED
        else:
            verdict = PendingGrantStatus.CONNECTED
        grant, accounts = _grant_read(row["id"], row["grant_key_id"])
        OAuthHandshake.objects.filter(id=row["id"]).update(grant_status=verdict, encrypted_grant=None)
    return _Taken(
        handshake_id=row["id"],
        platform=row["platform"],
        shop=row["shop"],
        verdict=verdict,
        grant=grant,
        accounts=accounts,
    )


def _grant_read(handshake_id: uuid.UUID, key_id: str) -> tuple[OAuthGrant | None, list[str]]:
    try:
        return _grant_from_document(_decrypt("encrypted_grant", handshake_id, key_id))
    except (CredentialKeyError, DatabaseError, ValueError, KeyError, TypeError):
        return None, []


def _connections_store_or_withdraw(
    flow: OAuthFlow, tenant_id: uuid.UUID, taken: _Taken, correlation_id: str
) -> list[PlatformConnection]:
    assert taken.grant is not None
    try:
        try:
            return _connections_store(flow, tenant_id, taken.accounts, taken.grant)
        except CredentialInvalid as exc:  # e.g. an expiry centuries away: stored nowhere
            raise OAuthProblem(
                502, "oauth_platform_error", f"{flow.name} issued a token that cannot be stored: {exc}."
            ) from None
    except Exception:
        _grant_withdraw(flow, taken.grant, taken.shop, correlation_id)
        raise


# --- expiry -------------------------------------------------------------------------------


def oauth_pending_expire(
    *, tenant_ids: Iterable[uuid.UUID] | None = None, now: datetime | None = None, correlation_id: str | None = None
) -> int:
    """Withdraw at the platform every pending grant whose `confirm_by` has passed, tenant
    by tenant (through the RLS-bound role, like everything else; every tenant when
    `tenant_ids` is None), and mark it expired. Returns how many were taken; each
    withdrawal is logged (`oauth_grant_withdrawn`) with how it went."""
    now = now or timezone.now()
    correlation_id = correlation_id or str(uuid.uuid4())
    if tenant_ids is None:
        tenant_ids = tenant_ids_iter()  # row-level security hides other tenants: the narrow listing
    expired = 0
    for tenant_id in tenant_ids:
        while True:
            batch = _expired_take(tenant_id, now)
            for taken in batch:
                flow = oauth_flow_get(taken.platform)
                if flow is None or not flow.configured:
                    _withdraw_logged(taken.platform, correlation_id, outcome="unconfigured")
                elif taken.grant is None:
                    _withdraw_logged(flow.platform, correlation_id, outcome="undecryptable")
                else:
                    _grant_withdraw(flow, taken.grant, taken.shop, correlation_id)
            expired += len(batch)
            if len(batch) < EXPIRY_BATCH:
                break
    return expired


def _expired_take(tenant_id: uuid.UUID, now: datetime) -> list[_Taken]:
    with tenant_context(tenant_id):
        rows = list(
            OAuthHandshake.objects.select_for_update(skip_locked=True)
            .filter(grant_status=PendingGrantStatus.PENDING, confirm_by__lte=now)
            .order_by("confirm_by")
            .values("id", "platform", "shop", "grant_key_id")[:EXPIRY_BATCH]
        )
        taken = []
        for row in rows:
            grant, accounts = _grant_read(row["id"], row["grant_key_id"])
            taken.append(
                _Taken(
                    handshake_id=row["id"],
                    platform=row["platform"],
                    shop=row["shop"],
                    verdict=PendingGrantStatus.EXPIRED,
                    grant=grant,
                    accounts=accounts,
                )
            )
        OAuthHandshake.objects.filter(id__in=[row["id"] for row in rows]).update(
            grant_status=PendingGrantStatus.EXPIRED, encrypted_grant=None
        )
    return taken


# --- storing and withdrawing --------------------------------------------------------------


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
    _withdraw_logged(flow.platform, correlation_id, outcome=outcome)


def _withdraw_logged(platform: str, correlation_id: str, *, outcome: str) -> None:
    log = logger.info if outcome in ("revoked", "not_offered") else logger.warning
    log(
        "oauth_grant_withdrawn",
        extra={
            "event": "oauth_grant_withdrawn",
            "platform": platform,
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
