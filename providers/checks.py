"""System checks for REVENUE_PROVIDERS: a bad entry fails `manage.py check` and startup,
not the first refresh. Ids are stable: providers.E001–E006."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from providers.base import RevenueProvider
from providers.outbound import parse_destination


@register("providers")
def check_revenue_providers(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    providers = getattr(settings, "REVENUE_PROVIDERS", None)
    if not isinstance(providers, dict):
        return [Error("REVENUE_PROVIDERS must be a dict of platform key to {CLASS, OPTIONS}.", id="providers.E001")]
    for key, conf in providers.items():
        where = f"REVENUE_PROVIDERS[{key!r}]"
        if not isinstance(conf, dict) or not isinstance(conf.get("CLASS"), str):
            errors.append(Error(f"{where} must be a dict with a CLASS dotted path.", id="providers.E001"))
            continue
        if not isinstance(conf.get("OPTIONS", {}), dict):
            errors.append(Error(f"{where}['OPTIONS'] must be a dict.", id="providers.E001"))
            continue
        try:
            cls = import_string(conf["CLASS"])
        except ImportError:
            errors.append(Error(f"{where}: cannot import {conf['CLASS']!r}.", id="providers.E002"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, RevenueProvider)):
            errors.append(Error(f"{where}: {conf['CLASS']!r} is not a RevenueProvider.", id="providers.E003"))
            continue
        if getattr(cls, "key", None) != key:
            errors.append(
                Error(f"{where}: {conf['CLASS']!r} has key {getattr(cls, 'key', None)!r}.", id="providers.E004")
            )
            continue
        try:
            cls(**conf.get("OPTIONS", {}))
        except (TypeError, ValueError) as exc:
            errors.append(Error(f"{where}: OPTIONS rejected: {exc}", id="providers.E005"))
    return errors


@register("providers")
def check_outbound_allowed(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    entries = getattr(settings, "PROVIDER_OUTBOUND_ALLOWED", [])
    if not isinstance(entries, list | tuple):
        return [Error("PROVIDER_OUTBOUND_ALLOWED must be a list of host:port entries.", id="providers.E006")]
    errors: list[Error] = []
    for entry in entries:
        try:
            parse_destination(entry)
        except ValueError as exc:
            errors.append(Error(f"PROVIDER_OUTBOUND_ALLOWED: {exc}.", id="providers.E006"))
    return errors
