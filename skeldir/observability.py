"""Per-request metrics and the `request_served` log line.

The middleware sits just inside CorrelationIdMiddleware, so the correlation id and the
tenant the view set are still in context when it logs. Views say what happened in
domain terms with `note_outcome` (e.g. hit, leader, cooldown); the middleware adds the
endpoint, status and duration. Load-balancer probes, /metrics and static files are
counted but not logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from skeldir import metrics
from skeldir.problems import problem_response

logger = logging.getLogger("skeldir.requests")

_OUTCOME_ATTR = "skeldir_outcome"
_QUIET = frozenset({"healthz", "readyz", "metrics", "static"})
# The methods the service answers; any other is a 405, counted and logged as "other", so a
# client inventing methods cannot add label values (metric series) without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def method_label(method: str | None) -> str:
    return method if method in KNOWN_METHODS else "other"


def note_outcome(request: Any, outcome: str) -> None:
    """Record the domain outcome of a request (a DRF request or a Django one)."""
    setattr(getattr(request, "_request", request), _OUTCOME_ATTR, outcome)


def endpoint_label(request: HttpRequest) -> str:
    """A bounded label: the URL name, `admin` for the whole admin, `static`, or `unmatched`."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        if match.namespace == "admin" or "admin" in match.namespaces:
            return "admin"
        return match.url_name or match.route or "unnamed"
    if settings.STATIC_URL and request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        if request.method in KNOWN_METHODS:
            response = self.get_response(request)
        else:
            # Before CSRF and the views: nothing further inspects (or logs about) the request.
            response = problem_response(
                request, 405, "method_not_allowed", "The service answers GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE."
            )
            response["Allow"] = ", ".join(sorted(KNOWN_METHODS))
        duration = time.perf_counter() - started
        endpoint = endpoint_label(request)
        method = method_label(request.method)
        metrics.HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
        metrics.HTTP_REQUEST_DURATION.labels(endpoint).observe(duration)
        if endpoint not in _QUIET:
            level = logging.ERROR if response.status_code >= 500 and response.status_code != 503 else logging.INFO
            logger.log(
                level,
                "request_served",
                extra={
                    "event": "request_served",
                    "endpoint": endpoint,
                    "method": method,
                    "status": response.status_code,
                    "outcome": getattr(request, _OUTCOME_ATTR, None),
                    "duration_ms": round(duration * 1000, 2),
                },
            )
        return response
