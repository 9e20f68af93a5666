"""Prometheus metrics (DESIGN.md §9), exposed at /metrics.

Counters and histograms are updated where things happen (the request middleware, the
revenue views, the refresh). Under gunicorn several worker processes serve requests, so
prometheus-client runs in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set
(gunicorn.conf.py sets it up, cleans it at start and marks dead workers): each process
writes its samples to files in that directory and a scrape adds them up. Without it (tests,
`runserver`) the process's own registry is exposed.

Two gauges are computed at scrape time from the database, through the operator alias
(every tenant): tenants in cooldown and credentials by lifecycle status. They describe
the whole system, so any worker answers them the same way.

Access: with METRICS_TOKEN set, a scrape needs `Authorization: Bearer <METRICS_TOKEN>`;
without it, only clients on the loopback interface are answered (everyone else gets 404),
which suits a scraper or sidecar on the same host. See README.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from skeldir.operator import OPERATOR_DB, OperatorAccessDenied, operator_access

logger = logging.getLogger(__name__)

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "skeldir_http_requests",
    "HTTP requests served, by endpoint (URL name), method and status.",
    ["endpoint", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "skeldir_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint.",
    ["endpoint"],
    buckets=_FAST,
)
CACHE_LOOKUPS = Counter(
    "skeldir_revenue_cache_lookups",
    "Realtime revenue reads by what they found: hit (fresh), miss (missing or expired), "
    "stale (served within stale-if-error), cooldown (refused, cooling down).",
    ["result"],
)
CACHE_MISSES = Counter(
    "skeldir_revenue_cache_misses",
    "Reads that missed, by who refreshed: leader (this request) or follower (waited).",
    ["role"],
)
REFRESHES = Counter(
    "skeldir_revenue_refreshes",
    "Tenant refreshes by outcome: refreshed, partial, failed.",
    ["outcome"],
)
REFRESH_DURATION = Histogram(
    "skeldir_revenue_refresh_duration_seconds",
    "Time to refresh one tenant (every source), by outcome.",
    ["outcome"],
    buckets=_SLOW,
)
PLATFORM_FETCH_DURATION = Histogram(
    "skeldir_platform_fetch_duration_seconds",
    "Time one source's fetch took within a refresh, per platform.",
    ["platform"],
    buckets=_SLOW,
)
PLATFORM_ERRORS = Counter(
    "skeldir_platform_errors",
    "Failed source fetches by platform and error kind (auth, rate_limited, upstream, network, bad_response, …).",
    ["platform", "kind"],
)
CREDENTIAL_REFRESHES = Counter(
    "skeldir_credential_refreshes",
    "Platform token refreshes by platform and outcome: refreshed, failed, revoked.",
    ["platform", "outcome"],
)
COOLDOWNS_ENTERED = Counter("skeldir_revenue_cooldowns_entered", "Times a tenant's revenue entered an error cooldown.")


class OperatorStateCollector(Collector):
    """Whole-system gauges read at scrape time through the operator alias."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cooling = GaugeMetricFamily("skeldir_tenants_in_cooldown", "Tenants whose revenue is cooling down now.")
        credentials = GaugeMetricFamily(
            "skeldir_platform_credentials", "Platform credentials by lifecycle status.", labels=["lifecycle_status"]
        )
        up = GaugeMetricFamily("skeldir_operator_database_up", "1 when the scrape-time gauges could be read.")
        try:
            with operator_access(), connections[OPERATOR_DB].cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM revenue_cache_entries WHERE error_cooldown_until > %s", [timezone.now()]
                )
                cooling.add_metric([], cursor.fetchone()[0])
                cursor.execute(
                    "SELECT s.status, count(c.id) FROM unnest(ARRAY['active', 'degraded', 'revoked']) AS s(status)"
                    " LEFT JOIN platform_credentials c ON c.lifecycle_status = s.status GROUP BY s.status"
                )
                for status, count in cursor.fetchall():
                    credentials.add_metric([status], count)
        except (DatabaseError, OperatorAccessDenied):
            logger.warning(
                "metrics_operator_gauges_unavailable", extra={"event": "metrics_operator_gauges_unavailable"}
            )
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (cooling, credentials, up)


def _authorized(request: HttpRequest) -> bool | None:
    """True to answer, False for 401 (bad or missing token), None for 404 (not for this client)."""
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback or None
    except ValueError:
        return None


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(OperatorStateCollector())
    return counters + generate_latest(state)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = _authorized(request)
    if allowed is None:
        return HttpResponse(status=404)
    if not allowed:
        return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
