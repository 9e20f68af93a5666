"""`verify_credentials`: one cheap read each adapter makes to prove credentials before
they are stored (and to name the accounts an OAuth grant reaches), against the simulator."""

from __future__ import annotations

import uuid

import pytest
import responses

from providers.base import CredentialCheckContext, RevenueProvider
from providers.errors import ProviderAuthError, ProviderTokenRevoked, ProviderUnavailable
from providers.google_ads import GoogleAdsProvider
from providers.meta_ads import MetaAdsProvider
from providers.paypal import PayPalProvider
from providers.shopify import ShopifyProvider
from providers.stripe import StripeProvider
from providers.woocommerce import WooCommerceProvider


def _ctx(
    account: str = "", access: str | None = None, refresh: str | None = None, **metadata
) -> CredentialCheckContext:
    return CredentialCheckContext(
        platform_account_id=account,
        connection_metadata=metadata,
        access_token=access,
        refresh_token=refresh,
        correlation_id=str(uuid.uuid4()),
    )


def _refused(call, secret: str) -> ProviderAuthError:
    with pytest.raises(ProviderAuthError) as info:
        call()
    assert secret not in str(info.value) and secret not in repr(info.value)
    return info.value


def test_stripe_checks_the_key_with_one_read_of_each_list_the_fetch_needs(sandbox):
    provider = StripeProvider(base_url=sandbox.url)
    assert provider.verify_credentials(_ctx("acct_v", "rk_test_verify_key")).account_ids == ()
    assert sandbox.endpoint_calls("stripe") == {"data": 2}  # charges and disputes, one each
    sandbox.revoke("stripe", "rk_test_verify_key")
    error = _refused(lambda: provider.verify_credentials(_ctx("acct_v", "rk_test_verify_key")), "rk_test_verify_key")
    assert error.status == 401


def test_paypal_runs_the_client_credentials_grant_and_returns_its_token(sandbox):
    provider = PayPalProvider(base_url=sandbox.url)
    check = provider.verify_credentials(_ctx("M", refresh="client-v:secret-v"))
    assert check.token is not None and check.token.access_token.startswith("A21AAsbx.")
    assert check.token.expires_at is not None
    sandbox.revoke("paypal", "client-v")
    error = _refused(lambda: provider.verify_credentials(_ctx("M", refresh="client-v:secret-v")), "secret-v")
    assert isinstance(error, ProviderTokenRevoked) and "Client Authentication failed" in str(error)


def test_woocommerce_reads_one_order(sandbox):
    provider = WooCommerceProvider(base_url=sandbox.url)
    provider.verify_credentials(_ctx("https://v.example.com", "ck_v:cs_v"))
    assert sandbox.calls("woocommerce", "v.example.com") == 1
    sandbox.revoke("woocommerce", "ck_v")
    error = _refused(lambda: provider.verify_credentials(_ctx("https://v.example.com", "ck_v:cs_v")), "cs_v")
    assert "Consumer key is invalid" in str(error)


def test_shopify_names_the_shop(sandbox):
    provider = ShopifyProvider(base_url=sandbox.url)
    assert provider.verify_credentials(_ctx("verify", "shpat_verify")).account_ids == ("verify.myshopify.com",)
    sandbox.revoke("shopify", "shpat_verify")
    _refused(lambda: provider.verify_credentials(_ctx("verify", "shpat_verify")), "shpat_verify")


def test_google_lists_the_accessible_customers(sandbox):
    provider = GoogleAdsProvider(base_url=sandbox.url, developer_token="dev")
    check = provider.verify_credentials(_ctx(access="ya29.verify"))
    assert len(check.account_ids) == 1 and check.account_ids[0].isdigit()
    assert sandbox.endpoint_calls("google_ads") == {"identity": 1}
    sandbox.revoke("google_ads", "ya29.verify")
    _refused(lambda: provider.verify_credentials(_ctx(access="ya29.verify")), "ya29.verify")
    without = GoogleAdsProvider(base_url=sandbox.url, developer_token="")
    assert "developer token" in str(_refused(lambda: without.verify_credentials(_ctx(access="ya29.x")), "ya29.x"))


def test_meta_lists_the_ad_accounts(sandbox):
    provider = MetaAdsProvider(base_url=sandbox.url)
    assert provider.verify_credentials(_ctx(access="EAAB-verify")).account_ids == ()  # no grant behind it
    sandbox.revoke("meta_ads", "EAAB-verify")
    _refused(lambda: provider.verify_credentials(_ctx(access="EAAB-verify")), "EAAB-verify")


@responses.activate
def test_meta_follows_the_ad_account_pages():
    url = "https://graph.test/v27.0/me/adaccounts"
    responses.get(
        url,
        json={
            "data": [{"account_id": "1", "id": "act_1"}],
            "paging": {"cursors": {"after": "c1"}, "next": f"{url}?after=c1"},
        },
    )
    responses.get(url, json={"data": [{"account_id": "2", "id": "act_2"}, {"id": "act_1"}], "paging": {}})
    check = MetaAdsProvider(base_url="https://graph.test").verify_credentials(_ctx(access="EAAB-pages"))
    assert check.account_ids == ("act_1", "act_2")
    assert "after=c1" in responses.calls[1].request.url
    assert "EAAB-pages" not in responses.calls[0].request.url  # the token travels in a header only


def test_a_platform_error_is_not_an_auth_error(sandbox):
    sandbox.set_fault("stripe", "*", "503")
    with pytest.raises(ProviderUnavailable):
        StripeProvider(base_url=sandbox.url, retries=0).verify_credentials(_ctx("acct_x", "sk_test_down_key"))


def test_the_base_class_says_the_platform_cannot_check():
    class Plain(RevenueProvider):
        key = "plain"

    with pytest.raises(NotImplementedError, match="plain"):
        Plain().verify_credentials(_ctx())
