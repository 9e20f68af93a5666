"""System checks for the revenue cache's timings: a follower that would give up before the
leader it waits for fails `manage.py check` and startup, not a busy minute. Ids are stable:
revenue.E001–E002."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register("revenue")
def check_revenue_timings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    wait, deadline = settings.REVENUE_SINGLEFLIGHT_WAIT_SECONDS, settings.REVENUE_TENANT_DEADLINE_SECONDS
    if wait < deadline:
        messages.append(
            Error(
                f"REVENUE_SINGLEFLIGHT_WAIT_SECONDS ({wait:g}) is shorter than REVENUE_TENANT_DEADLINE_SECONDS "
                f"({deadline:g}): requests waiting for a refresh would give up while it may still succeed.",
                hint="Leave REVENUE_SINGLEFLIGHT_WAIT_SECONDS unset (the deadline plus 5 s) or raise it.",
                id="revenue.E001",
            )
        )
    if settings.REVENUE_STALE_IF_ERROR_SECONDS < 0:
        messages.append(
            Error("REVENUE_STALE_IF_ERROR_SECONDS must be 0 (off) or a number of seconds.", id="revenue.E002")
        )
    return messages
