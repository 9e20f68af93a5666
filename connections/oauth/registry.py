"""OAuth flows declared in settings, like the revenue adapters:

CONNECTIONS_OAUTH = {"stripe": {"CLASS": "connections.oauth.stripe.StripeOAuth", "OPTIONS": {...}}}
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from connections.oauth.base import OAuthFlow


@functools.cache
def oauth_flows() -> dict[str, OAuthFlow]:
    return {key: _build(key, conf) for key, conf in getattr(settings, "CONNECTIONS_OAUTH", {}).items()}


def oauth_flow_get(platform: str) -> OAuthFlow | None:
    return oauth_flows().get(platform)


def oauth_platforms() -> list[str]:
    return sorted(getattr(settings, "CONNECTIONS_OAUTH", {}))


def _build(key: str, conf: dict[str, Any]) -> OAuthFlow:
    flow = import_string(conf["CLASS"])(**conf.get("OPTIONS", {}))
    if flow.platform != key:
        raise ValueError(f"CONNECTIONS_OAUTH[{key!r}] names {conf['CLASS']}, whose platform is {flow.platform!r}")
    return flow


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CONNECTIONS_OAUTH", "PROVIDER_HTTP"):
        oauth_flows.cache_clear()
