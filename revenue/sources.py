"""Fetching every active source of one tenant: credentials first (refreshed when due,
under a per-credential lock), then every adapter concurrently under a per-tenant deadline.

No database transaction is open while a platform is called: credentials are read and
written in short tenant-scoped transactions before and after the network calls, and
adapter threads never touch the database.

A platform that refuses the credential itself (401, `ProviderAuthError`) makes it
`revoked`; one that refuses a permission (403) makes it `degraded`. Either way the source
is `reconnect_required`: a standing state the merchant acts on, reported with the source's
last good figures, never a refresh failure that cools the tenant down. A revoked
credential is not used again until it changes (`credential_upsert`: a reconnect or new
keys); a refused permission is asked again after REVENUE_FORBIDDEN_RECHECK_SECONDS, or at
once when the credential changes. One exception: a 401 for the access token of a credential
that can be refreshed (Google, PayPal) and was not refreshed in this pass is an `auth`
failure of this refresh, with the token's refresh made due: the next refresh refreshes it
first, and revokes the credential if the platform refuses the refresh or the new token.
Rate limits and upstream errors keep their cooldowns.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import dataclasses
import functools
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError

from connections.crypto import CredentialKeyError
from connections.models import LifecycleStatus, PlatformConnection
from connections.selectors import ConnectionCredential, CredentialTokens, credential_get
from connections.services import (
    CredentialInvalid,
    credential_mark_refresh_failed,
    credential_mark_refreshed,
    credential_mark_refused,
    credential_mark_revoked,
)
from providers.base import ProviderContext, RevenueProvider, RevenueResult, TokenRefreshContext
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderError, ProviderTokenRevoked
from providers.registry import UnknownProvider, provider_get
from revenue.locks import advisory_key, lock_release, lock_try, lock_wait_released
from revenue.observability import credential_observed, credential_refused_observed, source_observed
from revenue.snapshot import STATUS_CREDENTIAL, STATUS_OK, STATUS_RECONNECT, SourceState
from skeldir.correlation import correlation_id_var, tenant_id_var
from skeldir.tenancy import tenant_context

logger = logging.getLogger(__name__)

STATUS_UNSUPPORTED = "unsupported"  # no adapter configured for the connection's platform
STATUS_INTERNAL = "internal_error"  # an adapter bug; logged with its traceback
CREDENTIAL_LOCK_WAIT_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class SourceOutcome:
    connection_id: str
    platform: str
    account: str
    kind: str
    status: str  # STATUS_OK or a failure kind
    result: RevenueResult | None = None
    error: str | None = None
    retry_after: int | None = None
    carried: SourceState | None = None  # not attempted (platform back-off): keep this state
    # The platform refused the call: "credential" (401: revoke) or "permission" (403).
    refusal: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def counts_as_failure(self) -> bool:
        """A failure of this refresh (cools the tenant down if nothing else worked).
        A revoked credential is a standing state, not a refresh failure."""
        return not self.ok and self.carried is None and self.status not in (STATUS_RECONNECT, STATUS_UNSUPPORTED)


@functools.cache
def _executor() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=settings.REVENUE_FETCH_WORKERS, thread_name_prefix="revenue-fetch"
    )


# A forked process (a split refresh cycle) inherits the pool but none of its threads.
os.register_at_fork(after_in_child=_executor.cache_clear)


def sources_fetch(
    *,
    tenant_id: uuid.UUID,
    connections: list[ConnectionCredential],
    previous: dict[str, SourceState],
    window: tuple[datetime, datetime],
    correlation_id: str,
    now: datetime,
) -> list[SourceOutcome]:
    """Every source's outcome, in the order of `connections` (each with the credential
    read along with it)."""
    deadline = time.monotonic() + settings.REVENUE_TENANT_DEADLINE_SECONDS
    outcomes: dict[str, SourceOutcome] = {}
    calls: list[tuple[PlatformConnection, RevenueProvider, CredentialTokens, str]] = []
    tokens = {str(conn.id): _usable_credential(conn, stored) for conn, stored in connections}
    connections_only = [conn for conn, _ in connections]
    for conn in connections_only:
        key = str(conn.id)
        try:
            provider = provider_get(conn.platform)
        except UnknownProvider as exc:
            outcomes[key] = _outcome(conn, "sales", STATUS_UNSUPPORTED, error=str(exc))
            continue
        earlier = previous.get(key)
        credential = tokens.get(key)
        if (
            earlier
            and earlier.retry_not_before
            and earlier.retry_not_before > now
            and _backing_off(earlier, credential)
        ):
            outcomes[key] = _outcome(conn, provider.kind, earlier.status, carried=earlier)
            continue
        if isinstance(credential, SourceOutcome):
            outcomes[key] = dataclasses.replace(credential, kind=str(provider.kind))
            continue
        access = _access_token(tenant_id, conn, provider, credential, correlation_id, now)
        if isinstance(access, SourceOutcome):
            outcomes[key] = access
            continue
        calls.append((conn, provider, credential, access))

    durations: dict[str, float] = {}
    started = time.monotonic()
    futures = {
        _executor().submit(
            _log_context(tenant_id, correlation_id).run,
            _timed,
            durations,
            str(conn.id),
            provider.fetch_revenue,
            ProviderContext(
                tenant_id=tenant_id,
                connection_id=conn.id,
                platform_account_id=conn.platform_account_id,
                connection_metadata=conn.connection_metadata or {},
                access_token=access,
                window_start=window[0],
                window_end=window[1],
                correlation_id=correlation_id,
            ),
        ): (conn, provider, credential, access)
        for conn, provider, credential, access in calls
    }
    done, _ = concurrent.futures.wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    for future, (conn, provider, credential, access) in futures.items():
        outcome = _fetch_outcome(future, conn, provider, finished=future in done)
        durations.setdefault(str(conn.id), time.monotonic() - started)  # still running at the deadline
        if outcome.refusal:  # after every call has ended: no platform waits for this write
            outcome = _refused(tenant_id, conn, provider, credential, access, outcome, correlation_id, now)
        outcomes[str(conn.id)] = outcome
    for conn in connections_only:
        outcome = outcomes[str(conn.id)]
        if outcome.carried is None:  # a source left alone (platform back-off) reports nothing new
            source_observed(
                tenant_id=tenant_id,
                correlation_id=correlation_id,
                platform=conn.platform,
                account=conn.platform_account_id,
                status=outcome.status,
                duration_seconds=durations.get(str(conn.id)),
                error=outcome.error,
            )
    return [outcomes[str(conn.id)] for conn in connections_only]


def _log_context(tenant_id: uuid.UUID, correlation_id: str) -> contextvars.Context:
    """A context for one call in the fetch pool: its log lines name the tenant and the
    correlation id like the thread that asked (a pool thread has no context of its own).
    One per submission: a context cannot be entered by two threads at once."""
    context = contextvars.copy_context()
    context.run(tenant_id_var.set, str(tenant_id))
    context.run(correlation_id_var.set, correlation_id)
    return context


def _timed(
    durations: dict[str, float], key: str, fetch: Callable[[ProviderContext], RevenueResult], context: ProviderContext
) -> RevenueResult:
    started = time.monotonic()
    try:
        return fetch(context)
    finally:
        durations[key] = time.monotonic() - started


def _fetch_outcome(
    future: concurrent.futures.Future[RevenueResult],
    conn: PlatformConnection,
    provider: RevenueProvider,
    *,
    finished: bool,
) -> SourceOutcome:
    kind = str(provider.kind)
    if not finished:
        future.cancel()
        return _outcome(conn, kind, "network", error="no answer within the refresh deadline")
    try:
        return _outcome(conn, kind, STATUS_OK, result=future.result())
    except ProviderAuthError as exc:
        refusal = "permission" if exc.status == 403 and not isinstance(exc, ProviderTokenRevoked) else "credential"
        return _outcome(conn, kind, exc.kind, error=str(exc), refusal=refusal)
    except ProviderError as exc:
        return _outcome(conn, kind, exc.kind, error=str(exc), retry_after=exc.retry_after)
    except Exception:  # noqa: BLE001 - an adapter bug must not take the other sources down
        logger.exception(
            "provider_adapter_crashed", extra={"event": "provider_adapter_crashed", "platform": conn.platform}
        )
        return _outcome(conn, kind, STATUS_INTERNAL, error=f"{conn.platform} adapter failed unexpectedly")


def _backing_off(earlier: SourceState, credential: CredentialTokens | SourceOutcome | None) -> bool:
    """A source the platform asked us to leave alone until `retry_not_before` (checked by
    the caller) stays alone, except a refused permission whose credential has changed
    since (no longer degraded: reconnected, new keys, or a token refresh): asked at once."""
    if earlier.status != STATUS_RECONNECT:
        return True
    return isinstance(credential, CredentialTokens) and credential.lifecycle_status == LifecycleStatus.DEGRADED


def _refused(
    tenant_id: uuid.UUID,
    conn: PlatformConnection,
    provider: RevenueProvider,
    credential: CredentialTokens,
    access_token: str,
    outcome: SourceOutcome,
    correlation_id: str,
    now: datetime,
) -> SourceOutcome:
    """The platform refused the call: mark the credential (`credential_mark_refused`) and
    report the source as `reconnect_required`. Except a 401 for the access token of a
    credential that can be refreshed and was not refreshed in this pass: the token may
    only have ended early, so its refresh is made due and this refresh counts the source
    as an `auth` failure; the next one refreshes the token first and decides."""
    refusal = outcome.refusal or "credential"
    refreshed_now = access_token != credential.access_token
    if refusal == "credential" and provider.supports_token_refresh and credential.refresh_token and not refreshed_now:
        refusal = "token"
    try:
        with tenant_context(tenant_id):
            marked = credential_mark_refused(
                credential_id=credential.credential_id, access_token=access_token, refusal=refusal, now=now
            )
    except DatabaseError:
        # Not chained or logged with its text: the statement's parameters hold the token.
        # The source still says what it says; the next refresh tries the mark again.
        marked = False
        logger.warning(
            "credential_mark_failed",
            extra={"event": "credential_mark_failed", "tenant_id": str(tenant_id), "platform": conn.platform},
        )
    credential_refused_observed(
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        platform=conn.platform,
        account=conn.platform_account_id,
        outcome={"credential": "revoked", "permission": "degraded", "token": "refresh_due"}[refusal],
        marked=marked,
    )
    if refusal == "token":
        return dataclasses.replace(outcome, refusal=None)  # an auth failure of this refresh
    return dataclasses.replace(outcome, status=STATUS_RECONNECT)


def _outcome(conn: PlatformConnection, kind: str, status: str, **fields: object) -> SourceOutcome:
    return SourceOutcome(
        connection_id=str(conn.id),
        platform=conn.platform,
        account=conn.platform_account_id,
        kind=str(kind),
        status=status,
        **fields,  # type: ignore[arg-type]
    )


def _usable_credential(
    conn: PlatformConnection, stored: CredentialTokens | CredentialKeyError | None
) -> CredentialTokens | SourceOutcome:
    """The credential to call the platform with, or the outcome that replaces the call."""
    if isinstance(stored, CredentialKeyError):
        return _outcome(conn, "sales", STATUS_CREDENTIAL, error=str(stored))
    if stored is None or stored.lifecycle_status == LifecycleStatus.REVOKED:
        return _outcome(conn, "sales", STATUS_RECONNECT, error=f"{conn.platform} account must be reconnected")
    return stored


def _access_token(
    tenant_id: uuid.UUID,
    conn: PlatformConnection,
    provider: RevenueProvider,
    tokens: CredentialTokens,
    correlation_id: str,
    now: datetime,
) -> str | SourceOutcome:
    """The access token to use, refreshed first when it is due."""
    due = tokens.next_refresh_due_at is not None and tokens.next_refresh_due_at <= now
    if not (due and provider.supports_token_refresh and tokens.refresh_token):
        if tokens.expires_at is not None and tokens.expires_at <= now and not provider.supports_token_refresh:
            return _outcome(conn, provider.kind, STATUS_RECONNECT, error=f"{conn.platform} token expired")
        return tokens.access_token
    try:
        return credential_refresh(
            tenant_id=tenant_id, conn=conn, provider=provider, tokens=tokens, correlation_id=correlation_id, now=now
        ).access_token
    except ProviderTokenRevoked as exc:
        return _outcome(conn, provider.kind, STATUS_RECONNECT, error=str(exc))
    except ProviderError as exc:
        if tokens.expires_at is not None and tokens.expires_at > now:
            return tokens.access_token  # still valid: use it; the refresh is retried later
        return _outcome(conn, provider.kind, exc.kind, error=str(exc), retry_after=exc.retry_after)


def credential_refresh(
    *,
    tenant_id: uuid.UUID,
    conn: PlatformConnection,
    provider: RevenueProvider,
    tokens: CredentialTokens,
    correlation_id: str,
    now: datetime,
) -> CredentialTokens:
    """Refresh one credential under its own advisory lock, re-reading it after the lock
    so two processes never both spend a (rotating) refresh token. Lifecycle updates as in
    DESIGN.md §5; raises the provider's error after recording it."""
    key = advisory_key("credential-refresh", tokens.credential_id)
    if not lock_try(key):
        # Someone else is refreshing it: wait for them and use what they stored.
        lock_wait_released(key, CREDENTIAL_LOCK_WAIT_SECONDS)
        return _reread(tenant_id, conn, tokens)
    try:
        current = _reread(tenant_id, conn, tokens)
        if current.lifecycle_status == LifecycleStatus.REVOKED:
            raise ProviderTokenRevoked("the credential was revoked", platform=conn.platform)
        if current.next_refresh_due_at is None or current.next_refresh_due_at > now:
            return current  # refreshed by another process since we read it
        context = TokenRefreshContext(
            tenant_id=tenant_id,
            connection_id=conn.id,
            platform_account_id=conn.platform_account_id,
            connection_metadata=conn.connection_metadata or {},
            refresh_token=current.refresh_token or "",
            correlation_id=correlation_id,
        )
        try:
            refreshed = provider.refresh_token(context)
            try:  # the store checks the token and its expiry first and writes nothing if refused
                with tenant_context(tenant_id):
                    credential_mark_refreshed(
                        credential_id=current.credential_id,
                        key_id=current.key_id,
                        access_token=refreshed.access_token,
                        refresh_token=refreshed.refresh_token,
                        expires_at=refreshed.expires_at,
                        scope=refreshed.scope,
                        token_type=refreshed.token_type,
                        now=now,
                    )
            except CredentialInvalid as exc:  # recorded as the refresh's failure, like any bad answer
                raise ProviderBadResponse(
                    f"the refreshed token cannot be stored: {exc}", platform=conn.platform
                ) from None
        except ProviderTokenRevoked as exc:
            with tenant_context(tenant_id):
                credential_mark_revoked(
                    credential_id=current.credential_id, failure_class=f"{exc.kind}_revoked", now=now
                )
            credential_observed(
                tenant_id=tenant_id,
                correlation_id=correlation_id,
                platform=conn.platform,
                outcome="revoked",
                kind=exc.kind,
            )
            raise
        except ProviderError as exc:
            with tenant_context(tenant_id):
                credential_mark_refresh_failed(
                    credential_id=current.credential_id, failure_class=exc.kind, retry_after=exc.retry_after, now=now
                )
            credential_observed(
                tenant_id=tenant_id,
                correlation_id=correlation_id,
                platform=conn.platform,
                outcome="failed",
                kind=exc.kind,
            )
            raise
        credential_observed(
            tenant_id=tenant_id, correlation_id=correlation_id, platform=conn.platform, outcome="refreshed"
        )
        return _reread(tenant_id, conn, tokens)
    finally:
        lock_release(key)


def _reread(tenant_id: uuid.UUID, conn: PlatformConnection, tokens: CredentialTokens) -> CredentialTokens:
    with tenant_context(tenant_id):
        current = credential_get(connection_id=conn.id)
    if current is None:
        raise ProviderTokenRevoked("the credential was removed", platform=conn.platform)
    return current


def retry_not_before(outcome: SourceOutcome, now: datetime) -> datetime | None:
    """When the source may be called again: after the platform's rate-limit wait, or after
    the recheck interval of a refused permission (sooner if the credential changes)."""
    if outcome.status == "rate_limited" and outcome.retry_after:
        return now + timedelta(seconds=outcome.retry_after)
    if outcome.status == STATUS_RECONNECT and outcome.refusal == "permission":
        return now + timedelta(seconds=settings.REVENUE_FORBIDDEN_RECHECK_SECONDS)
    return None
