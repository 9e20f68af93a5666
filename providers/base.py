"""The provider contract: what an adapter receives, what it returns, and the optional
credential-refresh hook.

Adapters are plain classes configured from `settings.REVENUE_PROVIDERS` (see
`providers.registry`). They talk HTTP to their platform and never touch the database:
the revenue engine hands them a context and stores what they return.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID


class SourceKind(StrEnum):
    SALES = "sales"  # payments and commerce platforms: money that moved
    CLAIMED = "claimed"  # ad platforms: revenue they claim to have driven


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderContext:
    """Everything an adapter may know for one fetch. Only the access token is passed;
    the refresh token never reaches a revenue fetch."""

    tenant_id: UUID
    connection_id: UUID
    platform_account_id: str
    connection_metadata: Mapping[str, Any]
    access_token: str = dataclasses.field(repr=False)
    window_start: datetime  # aware, in the tenant's time zone
    window_end: datetime  # aware, in the tenant's time zone
    correlation_id: str

    def __post_init__(self) -> None:
        if self.window_start.tzinfo is None or self.window_end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Basis:
    """What a source's figure means, so a merchant can reconcile it with the platform's own
    dashboard. Shown per source in the API's breakdown.

    `measure`: a stable identifier of what is counted (e.g. `captured_minus_refunded`,
    `conversions_value_by_conversion_date`); the README's table spells each out.
    `time_zone` and `date`: whose day the figure covers — the tenant's for sales sources
    (records created since the tenant's midnight), the ad account's own for ad platforms
    ("today" at the platform). `attribution`: the attribution setting an ad platform's
    figure is reported under. `complete_until`: the platform documents a reporting lag, and
    its figures are complete only up to this moment (later records may still appear).
    """

    measure: str
    time_zone: str
    date: date
    attribution: str | None = None
    complete_until: datetime | None = None

    @classmethod
    def of_window(cls, ctx: ProviderContext, measure: str, **extra: Any) -> Basis:
        """A sales source's basis: the tenant's day, as the context's window states it."""
        zone = ctx.window_start.tzinfo
        return cls(measure=measure, time_zone=str(getattr(zone, "key", zone)), date=ctx.window_start.date(), **extra)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RevenueResult:
    """One source's revenue for the window. `amounts` maps an ISO 4217 code to an
    integer in that currency's minor unit; currencies are never summed into each other.
    `basis` says what the figure means (see `Basis`)."""

    source_key: str
    kind: SourceKind
    amounts: Mapping[str, int]
    count: int
    as_of: datetime
    basis: Basis | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenRefreshContext:
    """What the refresh hook receives. `refresh_token` holds the platform's refresh
    token (Google) or the stored client credentials (PayPal, `client_id:client_secret`)."""

    tenant_id: UUID
    connection_id: UUID
    platform_account_id: str
    connection_metadata: Mapping[str, Any]
    refresh_token: str = dataclasses.field(repr=False)
    correlation_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RefreshedToken:
    access_token: str = dataclasses.field(repr=False)
    # None: the platform did not rotate the refresh token; keep the stored one.
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    token_type: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CredentialCheckContext:
    """What `verify_credentials` receives: the credentials a connection would store, before
    anything is stored. `access_token` is what a revenue fetch would use (an API key,
    `consumer_key:consumer_secret`, an OAuth access token); `refresh_token` what a refresh
    would use (PayPal's `client_id:client_secret`)."""

    platform_account_id: str
    connection_metadata: Mapping[str, Any]
    access_token: str | None = dataclasses.field(default=None, repr=False)
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    correlation_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CredentialCheck:
    """What a successful check learnt. `account_ids`: the accounts these credentials reach,
    when the platform names them (Google's accessible customers, Meta's ad accounts, the
    Shopify shop); empty when it does not. `token`: an access token the check obtained and
    that may be stored with the credentials (PayPal's client-credentials grant)."""

    account_ids: tuple[str, ...] = ()
    token: RefreshedToken | None = None


class RevenueProvider:
    """Base class of every platform adapter.

    Subclasses set `key` (the settings key and `platform_connections.platform` value),
    `name` and `kind`, accept their OPTIONS as keyword arguments, and implement
    `fetch_revenue`. Platforms whose access tokens expire also implement `refresh_token`
    and set `supports_token_refresh = True`.
    """

    key: ClassVar[str]
    name: ClassVar[str]
    kind: ClassVar[SourceKind]
    supports_token_refresh: ClassVar[bool] = False

    def fetch_revenue(self, ctx: ProviderContext) -> RevenueResult:
        """Return the revenue for `ctx.window_start`..`ctx.window_end`, following every page.

        Must raise only `providers.errors.ProviderError` subclasses. Must not log or raise
        anything containing `ctx.access_token`.
        """
        raise NotImplementedError

    def result(
        self, *, amounts: Mapping[str, int], count: int, basis: Basis, as_of: datetime | None = None
    ) -> RevenueResult:
        """This adapter's result for a fetch (as of now unless the platform said otherwise)."""
        return RevenueResult(
            source_key=self.key,
            kind=self.kind,
            amounts=amounts,
            count=count,
            as_of=as_of or datetime.now(UTC),
            basis=basis,
        )

    def refresh_token(self, ctx: TokenRefreshContext) -> RefreshedToken:
        """Obtain a new access token. A refusal that only reconnecting can fix raises
        `ProviderTokenRevoked`; transient failures raise the other `ProviderError`s."""
        raise NotImplementedError(f"{self.key} tokens do not expire")

    def verify_credentials(self, ctx: CredentialCheckContext) -> CredentialCheck:
        """Prove the credentials work with one cheap, read-only call to the platform, before
        anything is stored (connecting an account by keys, or naming the accounts an OAuth
        grant reaches).

        Raises `ProviderAuthError` (or `ProviderTokenRevoked`) when the platform refuses
        them, with a message that says what the platform said; the other `ProviderError`s
        when the platform could not tell (unreachable, throttled, broken answer). Must not
        log or raise anything containing the credentials.
        """
        raise NotImplementedError(f"{self.key} credentials cannot be checked")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key={self.key!r}>"
