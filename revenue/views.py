"""The realtime revenue endpoints. Thin: the read-through lives in revenue.realtime,
the bodies in revenue.presenters, the HTTP caching rules in skeldir.http_caching."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from revenue import clock, schema
from revenue.observability import read_observed
from revenue.presenters import realtime_legacy, realtime_v1
from revenue.realtime import RevenueRead, RevenueUnavailable, TenantNotFound, revenue_get
from revenue.selectors import CacheEntryState
from revenue.snapshot import Snapshot
from skeldir.auth import RequireScope
from skeldir.correlation import tenant_id_var
from skeldir.http_caching import cache_headers, not_modified, require_correlation_id
from skeldir.memo import BoundedMemo
from skeldir.problems import ApiProblem


class _RealtimeRevenueBase(APIView):
    permission_classes = [RequireScope("viewer")]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        require_correlation_id(request)  # 400 before anything else, even authentication
        super().initial(request, *args, **kwargs)

    def get(self, request: Request) -> HttpResponse:
        tenant_id: uuid.UUID = request.user.tenant_id
        tenant_id_var.set(str(tenant_id))
        read = _read(request, tenant_id)
        now = clock.now()
        stale = read.outcome == "stale"
        headers = cache_headers(read.entry, now, stale=stale)
        if not_modified(request, headers["ETag"]):
            return HttpResponse(status=304, headers=headers)
        return HttpResponse(self.body(read.entry, now, stale=stale), content_type="application/json", headers=headers)

    def body(self, entry: CacheEntryState, now: datetime, *, stale: bool) -> bytes:
        """`stale`: the last good snapshot, served past its expiry while refreshes fail."""
        raise NotImplementedError


# Parsed snapshots and v1 bodies by ETag: a snapshot is parsed and rendered once per
# process, not once per request. Bounded, and forgotten when the entry expires.
_snapshots: BoundedMemo[Snapshot] = BoundedMemo(settings.REVENUE_MEMO_SIZE)
_v1_bodies: BoundedMemo[bytes] = BoundedMemo(settings.REVENUE_MEMO_SIZE)
_render = JSONRenderer().render


def _snapshot(entry: CacheEntryState, now: datetime) -> Snapshot:
    snapshot = _snapshots.get(entry.etag, now.timestamp())
    if snapshot is None:
        snapshot = Snapshot.from_payload(entry.payload)
        if entry.is_fresh(now):  # a stale one is not served often enough to keep
            _snapshots.put(entry.etag, snapshot, deadline=entry.expires_at.timestamp())
    return snapshot


def _read(request: Request, tenant_id: uuid.UUID) -> RevenueRead:
    try:
        read = revenue_get(tenant_id, correlation_id=request.correlation_id)  # type: ignore[attr-defined]
    except RevenueUnavailable as exc:
        read_observed(request, exc.reason)
        raise ApiProblem(
            503,
            "revenue_unavailable",
            _UNAVAILABLE.get(exc.reason, "Revenue is temporarily unavailable."),
            headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"},
        ) from None
    except TenantNotFound:
        raise ApiProblem(404, "tenant_not_found", "The token's tenant does not exist.") from None
    read_observed(request, read.outcome)
    return read


_UNAVAILABLE = {
    "error_cooldown": "The platforms failed recently; revenue is cooling down before the next attempt.",
    "refresh_timeout": "Another request is refreshing this revenue and did not finish in time.",
    "refresh_incomplete": "The refresh did not produce revenue; try again shortly.",
}


@schema.realtime_v1
class RealtimeRevenueView(_RealtimeRevenueBase):
    def body(self, entry: CacheEntryState, now: datetime, *, stale: bool) -> bytes:
        if stale:
            return _render(realtime_v1(_snapshot(entry, now), stale=True))
        body = _v1_bodies.get(entry.etag, now.timestamp())
        if body is None:
            body = _render(realtime_v1(_snapshot(entry, now), stale=False))
            _v1_bodies.put(entry.etag, body, deadline=entry.expires_at.timestamp())
        return body


@schema.realtime_legacy
class LegacyRealtimeRevenueView(_RealtimeRevenueBase):
    def body(self, entry: CacheEntryState, now: datetime, *, stale: bool) -> bytes:
        return _render(realtime_legacy(_snapshot(entry, now), now, stale=stale))  # its freshness counter moves
