"""RFC 9457 problem details for every error under /api/.

One DRF exception handler (everything raised inside an API view, including unexpected
exceptions, which are logged and answered as a plain 500 problem) plus Django-level
handlers for what never reaches DRF (unknown URLs, errors in middleware). Bodies never
carry a traceback, SQL or a secret: `detail` is written by us.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from skeldir.correlation import request_correlation_id

logger = logging.getLogger("skeldir.problems")

CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad Request",
    401: "Authentication Failed",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ApiProblem(exceptions.APIException):
    """An API error with an explicit status, code and optional response headers."""

    def __init__(self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.problem_code = code
        self.extra_headers = headers or {}


def problem_body(request: HttpRequest, status_code: int, code: str, detail: str) -> dict[str, Any]:
    correlation_id = request_correlation_id(request)
    return {
        "type": f"{settings.PROBLEM_TYPE_BASE}{code.replace('_', '-')}",
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "instance": f"urn:uuid:{correlation_id}",
        "correlation_id": correlation_id,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code": code,
    }


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context["request"]
    headers: dict[str, str] = {}
    if isinstance(exc, ApiProblem):
        status_code, code, detail = exc.status_code, exc.problem_code, str(exc.detail)
        headers.update(exc.extra_headers)
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        code = _code(exc)
        detail = _detail(exc)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            status_code = status.HTTP_401_UNAUTHORIZED
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable (or the connection broke): a temporary condition,
        # not a bug. The driver's message may name hosts and roles: it is logged, not sent.
        logger.error("database_unavailable", extra={"event": "database_unavailable", "path": request.path})
        status_code, code = 503, "database_unavailable"
        detail = "The service cannot reach its database; retry shortly."
        headers["Retry-After"] = "1"
    else:
        logger.error(
            "unhandled_api_error",
            exc_info=exc,
            extra={"event": "unhandled_api_error", "path": request.path},
        )
        status_code, code, detail = 500, "internal_error", "An unexpected error occurred; quote the correlation id."
    headers.update(_www_authenticate(request, exc, status_code))
    if status_code >= 500 or status_code == 503:
        headers.setdefault("Cache-Control", "no-store")
    response = Response(problem_body(request, status_code, code, detail), status=status_code, headers=headers)
    response.content_type = CONTENT_TYPE
    return response


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def _detail(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, (list, dict)):
        return str(exc.default_detail)
    return str(detail)


def _www_authenticate(request: Any, exc: Exception, status_code: int) -> dict[str, str]:
    if status_code not in (401, 403):
        return {}
    try:
        from skeldir.auth import www_authenticate
    except ImportError:  # pragma: no cover - auth is always installed
        return {}
    value = www_authenticate(request, exc)
    return {"WWW-Authenticate": value} if value else {}


def problem_response(request: HttpRequest, status_code: int, code: str, detail: str) -> HttpResponse:
    """A problem+json response outside DRF (probes, Django-level handlers)."""
    response = JsonResponse(problem_body(request, status_code, code, detail), status=status_code)
    response["Content-Type"] = CONTENT_TYPE
    if status_code >= 500:
        response["Cache-Control"] = "no-store"
    return response


_django_problem = problem_response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _django_problem(request, 404, "not_found", "No API resource at this path.")
    from django.views import defaults

    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _django_problem(
            request, 500, "internal_error", "An unexpected error occurred; quote the correlation id."
        )
    from django.views import defaults

    return defaults.server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _django_problem(request, 400, "bad_request", "The request could not be understood.")
    from django.views import defaults

    return defaults.bad_request(request, exception)  # type: ignore[arg-type]
