"""Load-balancer probes: /healthz (the process answers) and /readyz (the database
answers through the runtime role and every migration is applied).

/readyz answers 503 with an RFC 9457 problem body when it is not ready, so a load
balancer takes the instance out and an operator reads why in one line.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from skeldir.problems import problem_response

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    try:
        connection = connections["default"]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        # The driver's message names host and port, never a password; the class is enough here.
        logger.warning(
            "not_ready", extra={"event": "not_ready", "outcome": "database_unreachable", "error": type(exc).__name__}
        )
        return problem_response(request, 503, "database_unreachable", "The database does not answer the runtime role.")
    if pending:
        logger.warning(
            "not_ready", extra={"event": "not_ready", "outcome": "migrations_pending", "pending": len(pending)}
        )
        return problem_response(
            request, 503, "migrations_pending", f"{len(pending)} database migrations are not applied yet."
        )
    return JsonResponse({"status": "ok"})
