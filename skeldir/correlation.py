"""Correlation ids: one per request, echoed on every response, carried into log records
and to the platforms.

A request's `X-Correlation-ID` is used when it is a UUID; otherwise a fresh one is
generated and the problem is recorded on the request, so the endpoints that require the
header (the revenue API) can refuse it with a 400 while every response still carries an
id the client can quote. A malformed value is never echoed back.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Correlation-ID"
_META_KEY = "HTTP_X_CORRELATION_ID"

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
tenant_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant_id", default=None)


def parse_correlation_id(raw: str | None) -> tuple[str, str | None]:
    """(the id to use, None or "missing"/"malformed")."""
    if raw is None or not raw.strip():
        return str(uuid.uuid4()), "missing"
    if len(raw) > 64:
        return str(uuid.uuid4()), "malformed"
    try:
        return str(uuid.UUID(raw.strip())), None
    except ValueError:
        return str(uuid.uuid4()), "malformed"


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id, problem = parse_correlation_id(request.META.get(_META_KEY))
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        request.correlation_id_problem = problem  # type: ignore[attr-defined]
        token = correlation_id_var.set(correlation_id)
        tenant_token = tenant_id_var.set(None)
        try:
            response = self.get_response(request)
        finally:
            correlation_id_var.reset(token)
            tenant_id_var.reset(tenant_token)
        response[HEADER] = correlation_id
        return response


def request_correlation_id(request: HttpRequest) -> str:
    return getattr(request, "correlation_id", None) or correlation_id_var.get() or str(uuid.uuid4())
