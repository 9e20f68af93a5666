"""The settings-driven registry (REVENUE_PROVIDERS, like Django's CACHES) and its system
checks, which fail startup for a bad entry instead of the first refresh."""

from __future__ import annotations

import copy

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from providers.checks import check_revenue_providers
from providers.registry import UnknownProvider, provider_get, provider_keys, provider_registry
from providers.stripe import StripeProvider


def test_every_configured_platform_has_its_adapter():
    registry = provider_registry()
    assert (
        sorted(registry) == provider_keys() == ["google_ads", "meta_ads", "paypal", "shopify", "stripe", "woocommerce"]
    )
    assert all(adapter.key == key for key, adapter in registry.items())
    assert provider_get("stripe") is registry["stripe"]  # built once, cached
    with pytest.raises(UnknownProvider, match="no revenue provider is configured for platform 'myspace'"):
        provider_get("myspace")


def test_the_registry_is_rebuilt_when_the_setting_changes(settings):
    before = provider_get("stripe")
    providers = copy.deepcopy(settings.REVENUE_PROVIDERS)
    providers["stripe"]["OPTIONS"]["base_url"] = "http://127.0.0.1:9"
    settings.REVENUE_PROVIDERS = providers
    after = provider_get("stripe")
    assert after is not before and isinstance(after, StripeProvider)
    assert after.base_url == "http://127.0.0.1:9"


def test_the_shipped_settings_pass_the_checks():
    assert check_revenue_providers() == []


@pytest.mark.parametrize(
    ("entry", "check_id", "text"),
    [
        ("not a dict", "providers.E001", "must be a dict with a CLASS dotted path"),
        ({"OPTIONS": {}}, "providers.E001", "must be a dict with a CLASS dotted path"),
        ({"CLASS": "providers.stripe.StripeProvider", "OPTIONS": []}, "providers.E001", "['OPTIONS'] must be a dict"),
        ({"CLASS": "providers.nowhere.Provider"}, "providers.E002", "cannot import 'providers.nowhere.Provider'"),
        ({"CLASS": "collections.OrderedDict"}, "providers.E003", "is not a RevenueProvider"),
        ({"CLASS": "providers.paypal.PayPalProvider"}, "providers.E004", "has key 'paypal'"),
        (
            {"CLASS": "providers.stripe.StripeProvider", "OPTIONS": {"nonsense": 1}},
            "providers.E005",
            "OPTIONS rejected",
        ),
    ],
)
def test_a_bad_entry_fails_the_system_check_with_a_stable_id(settings, entry, check_id, text):
    settings.REVENUE_PROVIDERS = {**settings.REVENUE_PROVIDERS, "stripe": entry}
    errors = check_revenue_providers()
    assert [e.id for e in errors] == [check_id]
    assert text in errors[0].msg and "REVENUE_PROVIDERS['stripe']" in errors[0].msg


def test_a_bad_entry_stops_manage_py_check(settings):
    settings.REVENUE_PROVIDERS = {**settings.REVENUE_PROVIDERS, "stripe": {"CLASS": "providers.nowhere.X"}}
    with pytest.raises(SystemCheckError, match="providers.E002"):
        call_command("check")


def test_a_setting_that_is_not_a_dict_is_reported(settings):
    settings.REVENUE_PROVIDERS = ["stripe"]
    assert [e.id for e in check_revenue_providers()] == ["providers.E001"]
