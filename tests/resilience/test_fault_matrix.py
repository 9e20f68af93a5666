"""Every platform adapter × every fault, through the real refresh path against the local
simulator: the right error kind, the cooldown the platform asked for, a message an
operator can read, the last good figures and data_as_of byte-for-byte intact (under the
source's new state), and no other tenant affected. A refused credential (401, 403) is no
cooldown but `reconnect_required` — except a 401 for a token that can be refreshed, which
is an `auth` failure until the next refresh has refreshed it (issue 24)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from connections.models import PlatformCredential
from connections.services import connection_upsert, credential_upsert
from revenue.realtime import revenue_refresh
from revenue.selectors import cache_entry_get
from skeldir.tenancy import tenant_context, tenant_create

CID = "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f"
EXPIRED = timezone.now() - timedelta(days=1)

# platform → (account of the target tenant, of the bystander), simulator account keys,
# access token, refresh token (PayPal: client credentials), metadata
ACCOUNTS = {
    "stripe": (
        ("acct_target", "acct_bystander"),
        ("acct_target", "acct_bystander"),
        "sk_test_fm",
        None,
        {"connect": True},
    ),
    "shopify": (
        ("target.myshopify.com", "bystander.myshopify.com"),
        ("target.myshopify.com", "bystander.myshopify.com"),
        "shpat_fm",
        None,
        None,
    ),
    "paypal": (
        ("MERCHANT-T", "MERCHANT-B"),
        ("client-target", "client-bystander"),
        "until-refreshed",
        "{client}:secret-fm",
        None,
    ),
    "woocommerce": (
        ("https://target.example.com", "https://bystander.example.com"),
        ("target.example.com", "bystander.example.com"),
        "ck_fm:cs_fm",
        None,
        None,
    ),
    "google_ads": (("111-222-3333", "444-555-6666"), ("1112223333", "4445556666"), "ya29.fm", None, None),
    "meta_ads": (("act_111", "act_222"), ("111", "222"), "EAAB-fm", None, None),
}

FAULTS = {
    "401": "auth",
    "403": "auth",
    "429": "rate_limited",
    "429_date": "rate_limited",
    "500": "upstream",
    "503": "upstream",
    "timeout": "network",
    "reset": "network",
    "malformed": "bad_response",
    "truncated": "bad_response",
    "html": "bad_response",
    "oversized": "bad_response",
}
FAULT_PARAMS = {"timeout": {"latency_ms": 1500}, "oversized": {"size_bytes": 2 * 1024 * 1024}}
DEFAULT_COOLDOWN = 3
PLATFORM_RETRY_AFTER = 7
REFRESHABLE = {platform for platform, conf in ACCOUNTS.items() if conf[3] is not None}  # PayPal here


def _tenant(platform: str, which: int):
    accounts, sim_accounts, token, refresh, metadata = ACCOUNTS[platform]
    tenant = tenant_create(name=f"{platform}-{which}-{uuid.uuid4().hex[:6]}")
    with tenant_context(tenant.id):
        row = connection_upsert(
            tenant_id=tenant.id, platform=platform, platform_account_id=accounts[which], metadata=metadata
        )
        credential_upsert(
            connection_row=row,
            access_token=token,
            refresh_token=refresh.format(client=sim_accounts[which]) if refresh else None,
            expires_at=EXPIRED if refresh else None,
        )
    return tenant, sim_accounts[which]


def _raw_entry(tenant_id) -> tuple[str, object, object]:
    with tenant_context(tenant_id), connection.cursor() as cursor:
        cursor.execute("SELECT payload::text, data_as_of, etag FROM revenue_cache_entries")
        return cursor.fetchone()


@pytest.mark.django_db
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("platform", sorted(ACCOUNTS))
def test_fault_matrix(simulated, frozen_clock, settings, platform, fault):
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = DEFAULT_COOLDOWN
    target, target_sim = _tenant(platform, 0)
    bystander, _ = _tenant(platform, 1)
    assert revenue_refresh(target.id, correlation_id=CID).outcome == "refreshed"
    assert revenue_refresh(bystander.id, correlation_id=CID).outcome == "refreshed"
    before, bystander_before = _raw_entry(target.id), _raw_entry(bystander.id)

    frozen_clock.advance(31)
    simulated.set_fault(
        platform, target_sim, fault, retry_after=PLATFORM_RETRY_AFTER, endpoint="data", **FAULT_PARAMS.get(fault, {})
    )
    result = revenue_refresh(target.id, correlation_id=CID)

    kind = FAULTS[fault]
    refused = kind == "auth" and not (fault == "401" and platform in REFRESHABLE)
    status = "reconnect_required" if refused else kind
    entry = cache_entry_get(target.id)
    after = _raw_entry(target.id)
    # The last good figures are untouched, byte for byte, under the source's new state.
    kept, good = json.loads(after[0]), json.loads(before[0])
    assert [source["figures"] for source in kept["sources"]] == [source["figures"] for source in good["sources"]]
    assert [source["status"] for source in kept["sources"]] == [status]
    if refused:  # a state the merchant acts on: no cooldown, the tenant answers
        assert result.outcome == "partial" and entry.error_cooldown_until is None
    else:
        assert result.outcome == "failed"
        assert (after[1], kept["data_as_of"]) == (before[1], good["data_as_of"])  # the last good refresh's
        # The cooldown is the platform's when it asked for one, else the default.
        cooldown = (entry.error_cooldown_until - frozen_clock()).total_seconds()
        if kind == "rate_limited":
            assert PLATFORM_RETRY_AFTER - 1 <= cooldown <= PLATFORM_RETRY_AFTER + 1, cooldown
        else:
            assert cooldown == DEFAULT_COOLDOWN
    # The credential: revoked (401), degraded (403), or a refreshable token's refresh due now.
    with tenant_context(target.id):
        credential = PlatformCredential.objects.get()
    assert credential.lifecycle_status == ({"401": "revoked", "403": "degraded"}[fault] if refused else "active")
    if kind == "auth" and not refused:
        assert (credential.last_failure_class, credential.next_refresh_due_at) == ("auth_token_refused", frozen_clock())
    # What an operator reads: which source, which kind, nothing secret.
    assert f"{platform} {ACCOUNTS[platform][0][0]}: {status}" in entry.last_error_message
    assert ACCOUNTS[platform][2] not in entry.last_error_message
    # The other tenant on the same platform is not affected.
    assert _raw_entry(bystander.id) == bystander_before
    assert cache_entry_get(bystander.id).error_cooldown_until is None
    assert revenue_refresh(bystander.id, correlation_id=CID).outcome == "refreshed"
