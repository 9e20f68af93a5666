"""Adapters declared in settings, the way Django declares cache backends:

    REVENUE_PROVIDERS = {"stripe": {"CLASS": "providers.stripe.StripeProvider", "OPTIONS": {...}}}

Adding a platform is adding a module and a settings entry; nothing registers itself on import.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.base import RevenueProvider


class UnknownProvider(LookupError):
    pass


@functools.cache
def provider_registry() -> dict[str, RevenueProvider]:
    """Instantiate every adapter named in settings.REVENUE_PROVIDERS, keyed by platform."""
    return {key: _build(key, conf) for key, conf in settings.REVENUE_PROVIDERS.items()}


# A forked process builds its own adapters: their connection pools' sockets stay with the parent.
os.register_at_fork(after_in_child=provider_registry.cache_clear)


def provider_get(key: str) -> RevenueProvider:
    try:
        return provider_registry()[key]
    except KeyError:
        raise UnknownProvider(f"no revenue provider is configured for platform {key!r}") from None


def provider_keys() -> list[str]:
    return sorted(settings.REVENUE_PROVIDERS)


def _build(key: str, conf: dict[str, Any]) -> RevenueProvider:
    cls = import_string(conf["CLASS"])
    provider = cls(**conf.get("OPTIONS", {}))
    if provider.key != key:
        raise ValueError(f"REVENUE_PROVIDERS[{key!r}] names {conf['CLASS']}, whose key is {provider.key!r}")
    return provider


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("REVENUE_PROVIDERS", "PROVIDER_HTTP"):
        provider_registry.cache_clear()
