"""Every adapter over real HTTP against the local platform simulator: revenue from each
platform, a token refresh where the platform has one, and each platform's fault signals
arriving as the right error kind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from providers.base import ProviderContext, RevenueProvider, SourceKind, TokenRefreshContext
from providers.errors import ProviderError
from providers.google_ads import GoogleAdsProvider
from providers.meta_ads import MetaAdsProvider
from providers.paypal import PayPalProvider
from providers.shopify import ShopifyProvider
from providers.stripe import StripeProvider
from providers.woocommerce import WooCommerceProvider

NOW = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")

# platform → (adapter factory, account id, metadata, access token, the simulator's account key)
PLATFORMS = {
    "stripe": (
        lambda url, **o: StripeProvider(base_url=url, **o),
        "acct_e2e",
        {"connect": True},
        "sk_test_e2e",
        "acct_e2e",
    ),
    "shopify": (
        lambda url, **o: ShopifyProvider(base_url=url, **o),
        "e2e.myshopify.com",
        {},
        "shpat_e2e",
        "e2e.myshopify.com",
    ),
    "paypal": (lambda url, **o: PayPalProvider(base_url=url, **o), "MERCHANT-E2E", {}, None, "client-e2e"),
    "woocommerce": (
        lambda url, **o: WooCommerceProvider(base_url=url, **o),
        "https://e2e.example.com",
        {},
        "ck_e2e:cs_e2e",
        "e2e.example.com",
    ),
    "google_ads": (
        lambda url, **o: GoogleAdsProvider(
            base_url=url, token_url=f"{url}/token", developer_token="dev", client_id="cid-e2e", client_secret="cs", **o
        ),
        "123-456-7890",
        {},
        "ya29.e2e",
        "1234567890",
    ),
    "meta_ads": (lambda url, **o: MetaAdsProvider(base_url=url, **o), "act_246810", {}, "EAAB-e2e", "246810"),
}


def _context(account: str, metadata: dict, token: str, now: datetime = NOW) -> ProviderContext:
    end = now.astimezone(ZONE)
    return ProviderContext(
        tenant_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        platform_account_id=account,
        connection_metadata=metadata,
        access_token=token,
        window_start=end.replace(hour=0, minute=0, second=0, microsecond=0),
        window_end=end,
        correlation_id=str(uuid.uuid4()),
    )


def _token(platform: str, provider: RevenueProvider, token: str | None) -> str:
    if platform != "paypal":
        return token or ""
    # PayPal's access token comes from the client-credentials grant.
    refreshed = provider.refresh_token(
        TokenRefreshContext(
            tenant_id=uuid.uuid4(),
            connection_id=uuid.uuid4(),
            platform_account_id="MERCHANT-E2E",
            connection_metadata={},
            refresh_token="client-e2e:secret-e2e",
            correlation_id="c",
        )
    )
    return refreshed.access_token


@pytest.fixture
def simulator(sandbox):
    sandbox.set_now(NOW)
    return sandbox


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_adapter_reads_revenue_from_the_simulator_over_http(simulator, platform):
    factory, account, metadata, token, sim_account = PLATFORMS[platform]
    provider = factory(simulator.url)
    result = provider.fetch_revenue(_context(account, metadata, _token(platform, provider, token)))
    assert result.source_key == platform
    assert result.count > 0
    assert sum(result.amounts.values()) > 0
    assert all(isinstance(v, int) for v in result.amounts.values())
    assert result.kind == (SourceKind.CLAIMED if platform.endswith("_ads") else SourceKind.SALES)
    assert simulator.calls(platform, sim_account) >= 1
    again = provider.fetch_revenue(_context(account, metadata, _token(platform, provider, token)))
    assert again.amounts == result.amounts  # deterministic for the same moment


def test_google_refreshes_its_token_at_the_simulated_authorization_server(simulator):
    provider = PLATFORMS["google_ads"][0](simulator.url)
    refreshed = provider.refresh_token(
        TokenRefreshContext(
            tenant_id=uuid.uuid4(),
            connection_id=uuid.uuid4(),
            platform_account_id="1234567890",
            connection_metadata={},
            refresh_token="1//rt-e2e",
            correlation_id="c",
        )
    )
    assert refreshed.access_token and refreshed.expires_at > NOW
    result = provider.fetch_revenue(_context("123-456-7890", {}, refreshed.access_token))
    assert sum(result.amounts.values()) > 0


# 23:30 UTC on 3 June: already the 4th in Berlin (the tenant), still the 3rd in Los Angeles
# (Google customer 1...) and New York (Meta account 2...): see providers.sandbox.data.ACCOUNT_ZONES.
LATE = datetime(2026, 6, 3, 23, 30, tzinfo=UTC)
AD_ACCOUNT_ZONES = {"google_ads": "America/Los_Angeles", "meta_ads": "America/New_York"}


@pytest.mark.parametrize("platform", sorted(AD_ACCOUNT_ZONES))
def test_ad_platforms_report_the_ad_accounts_day_in_its_own_zone(simulator, platform):
    simulator.set_now(LATE)
    factory, account, metadata, token, _ = PLATFORMS[platform]
    provider = factory(simulator.url)
    ctx = _context(account, metadata, token or "", now=LATE)
    result = provider.fetch_revenue(ctx)
    assert ctx.window_start.date().isoformat() == "2026-06-04"
    assert result.basis is not None
    assert result.basis.time_zone == AD_ACCOUNT_ZONES[platform]
    assert result.basis.date.isoformat() == "2026-06-03"
    assert sum(result.amounts.values()) > 0 and result.count > 0


def test_google_counts_the_simulators_value_by_conversion_date_not_by_click_date(simulator):
    simulator.set_now(LATE)
    factory, account, metadata, token, customer = PLATFORMS["google_ads"]
    result = factory(simulator.url).fetch_revenue(_context(account, metadata, token or "", now=LATE))
    query = (
        "SELECT metrics.conversions_value, metrics.conversions_value_by_conversion_date, segments.date "
        "FROM customer WHERE segments.date DURING TODAY"
    )
    headers = {"Authorization": f"Bearer {token}", "developer-token": "dev"}
    url = f"{simulator.url}/v26/customers/{customer}/googleAds:search"
    metrics = requests.post(url, json={"query": query}, headers=headers, timeout=10).json()["results"][0]["metrics"]
    by_conversion = round(Decimal(str(metrics["conversionsValueByConversionDate"])) * 100)
    by_click = round(Decimal(str(metrics.get("conversionsValue", 0))) * 100)
    assert by_click != by_conversion
    assert result.amounts == {"USD": by_conversion}


def test_meta_counts_the_pinned_attribution_and_report_time(simulator):
    simulator.set_now(LATE)
    factory, account, metadata, token, _ = PLATFORMS["meta_ads"]
    result = factory(simulator.url).fetch_revenue(_context(account, metadata, token or "", now=LATE))

    def omni(**params: str) -> int:
        base = {"level": "account", "date_preset": "today", "fields": "action_values"}
        url = f"{simulator.url}/v27.0/{account}/insights"
        rows = requests.get(url, params={**base, **params}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        entries = [a for r in rows.json()["data"] for a in r.get("action_values", [])]
        return sum(round(Decimal(a.get("value", "0")) * 100) for a in entries if a["action_type"] == "omni_purchase")

    assert result.amounts == {"USD": omni(action_report_time="conversion")}
    assert omni(action_report_time="conversion") != omni(action_report_time="impression")


FAULTS = {
    "401": ("auth", None),
    "403": ("auth", None),
    "429": ("rate_limited", 7),
    "429_date": ("rate_limited", None),
    "500": ("upstream", None),
    "503": ("upstream", None),
    "throttled": ("rate_limited", None),
    "malformed": ("bad_response", None),
    "truncated": ("bad_response", None),
    "html": ("bad_response", None),  # a 200 with a captcha page instead of JSON
    "reset": ("network", None),
    "oversized": ("bad_response", None),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_fault_arrives_as_its_error_kind(simulator, platform, fault):
    factory, account, metadata, token, sim_account = PLATFORMS[platform]
    provider = factory(simulator.url, retries=0)
    access = _token(platform, provider, token)
    simulator.set_fault(platform, sim_account, fault, retry_after=7, endpoint="data")
    with pytest.raises(ProviderError) as info:
        provider.fetch_revenue(_context(account, metadata, access))
    kind, retry_after = FAULTS[fault]
    assert info.value.kind == kind, str(info.value)
    if retry_after is not None:
        assert info.value.retry_after == retry_after
    if info.value.kind == "rate_limited":
        assert info.value.retry_after and info.value.retry_after >= 1
    assert access not in str(info.value) and access not in repr(info.value)
