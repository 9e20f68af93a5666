"""The realtime revenue endpoints. Thin: the read-through lives in revenue.realtime,
the bodies in revenue.presenters, the HTTP caching rules in skeldir.http_caching."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from revenue import clock, schema
from revenue.presenters import realtime_legacy, realtime_v1
from revenue.realtime import RevenueRead, RevenueUnavailable, TenantNotFound, revenue_get
from revenue.snapshot import Snapshot
from skeldir.auth import RequireScope
from skeldir.correlation import tenant_id_var
from skeldir.http_caching import cache_headers, not_modified, require_correlation_id
from skeldir.problems import ApiProblem


class _RealtimeRevenueBase(APIView):
    permission_classes = [RequireScope("viewer")]
    present: Callable[[Snapshot], dict[str, Any]]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        require_correlation_id(request)  # 400 before anything else, even authentication
        super().initial(request, *args, **kwargs)

    def get(self, request: Request) -> Response:
        tenant_id: uuid.UUID = request.user.tenant_id
        tenant_id_var.set(str(tenant_id))
        read = _read(tenant_id, request.correlation_id)  # type: ignore[attr-defined]
        now = clock.now()
        headers = cache_headers(read.entry, now, stale=read.outcome == "stale")
        if not_modified(request, read.entry.etag):
            return Response(status=304, headers=headers)
        return Response(self.body(Snapshot.from_payload(read.entry.payload), now), headers=headers)

    def body(self, snapshot: Snapshot, now: Any) -> dict[str, Any]:
        raise NotImplementedError


def _read(tenant_id: uuid.UUID, correlation_id: str) -> RevenueRead:
    try:
        return revenue_get(tenant_id, correlation_id=correlation_id)
    except RevenueUnavailable as exc:
        raise ApiProblem(
            503,
            "revenue_unavailable",
            _UNAVAILABLE.get(exc.reason, "Revenue is temporarily unavailable."),
            headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"},
        ) from None
    except TenantNotFound:
        raise ApiProblem(404, "tenant_not_found", "The token's tenant does not exist.") from None


_UNAVAILABLE = {
    "error_cooldown": "The platforms failed recently; revenue is cooling down before the next attempt.",
    "refresh_timeout": "Another request is refreshing this revenue and did not finish in time.",
    "refresh_incomplete": "The refresh did not produce revenue; try again shortly.",
}


@schema.realtime_v1
class RealtimeRevenueView(_RealtimeRevenueBase):
    def body(self, snapshot: Snapshot, now: Any) -> dict[str, Any]:
        return realtime_v1(snapshot)


@schema.realtime_legacy
class LegacyRealtimeRevenueView(_RealtimeRevenueBase):
    def body(self, snapshot: Snapshot, now: Any) -> dict[str, Any]:
        return realtime_legacy(snapshot, now)
