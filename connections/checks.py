"""System checks for CONNECTIONS_OAUTH: a bad entry fails `manage.py check` and startup,
not the first install. Ids are stable: connections.E001–E004."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string

from connections.oauth.base import OAuthFlow


@register("connections")
def check_oauth_flows(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    flows = getattr(settings, "CONNECTIONS_OAUTH", {})
    if not isinstance(flows, dict):
        return [Error("CONNECTIONS_OAUTH must be a dict of platform key to {CLASS, OPTIONS}.", id="connections.E001")]
    messages: list[CheckMessage] = []
    for key, conf in flows.items():
        where = f"CONNECTIONS_OAUTH[{key!r}]"
        if not isinstance(conf, dict) or not isinstance(conf.get("CLASS"), str):
            messages.append(Error(f"{where} must be a dict with a CLASS dotted path.", id="connections.E001"))
            continue
        options = conf.get("OPTIONS", {})
        try:
            cls = import_string(conf["CLASS"])
        except ImportError:
            messages.append(Error(f"{where}: cannot import {conf['CLASS']!r}.", id="connections.E002"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, OAuthFlow)) or getattr(cls, "platform", None) != key:
            messages.append(
                Error(f"{where}: {conf['CLASS']!r} is not the OAuthFlow of platform {key!r}.", id="connections.E003")
            )
            continue
        try:
            cls(**options)
        except (TypeError, ValueError) as exc:
            messages.append(Error(f"{where}: OPTIONS rejected: {exc}", id="connections.E004"))
    return messages
