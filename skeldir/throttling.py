"""Rate limits on the API calls that make us call a platform (connecting keys, starting an
OAuth install): per tenant and per user, counted in the shared cache (`CACHES`, the database
by default) so every worker on every machine counts against one budget.

A refusal is DRF's `Throttled`, answered by skeldir.problems as `429` problem+json with
`Retry-After`. The rates are read from settings on every request (`THROTTLE_TENANT_RATE`,
`THROTTLE_USER_RATE`, DRF's "N/second|minute|hour|day"; empty turns a limit off); reads are
never throttled here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _PrincipalWriteThrottle(SimpleRateThrottle):
    rate_setting: str

    def get_rate(self) -> str | None:  # from settings each time DRF builds the throttle (per request)
        return getattr(settings, self.rate_setting, None) or None

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        principal = getattr(request, "user", None)
        tenant_id = getattr(principal, "tenant_id", None)
        if request.method not in WRITES or tenant_id is None:
            return None
        scope = getattr(view, "throttle_scope", None) or type(view).__name__
        return f"throttle:{scope}:{self.who(principal)}"

    def who(self, principal: Any) -> str:
        raise NotImplementedError


class TenantWriteThrottle(_PrincipalWriteThrottle):
    """All of a tenant's users together."""

    rate_setting = "THROTTLE_TENANT_RATE"

    def who(self, principal: Any) -> str:
        return f"tenant:{principal.tenant_id}"


class UserWriteThrottle(_PrincipalWriteThrottle):
    """One user (the token's `sub`, within its tenant)."""

    rate_setting = "THROTTLE_USER_RATE"

    def who(self, principal: Any) -> str:
        return f"user:{principal.tenant_id}:{principal.subject or '-'}"
