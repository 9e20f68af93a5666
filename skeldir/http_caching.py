"""HTTP caching rules of the tenant-private API responses (DESIGN.md §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.http import parse_etags

from skeldir.problems import ApiProblem


def require_correlation_id(request: Any) -> None:
    problem = getattr(request, "correlation_id_problem", None)
    if problem == "missing":
        raise ApiProblem(400, "correlation_id_missing", "The X-Correlation-ID header (a UUID) is required.")
    if problem == "malformed":
        raise ApiProblem(400, "correlation_id_malformed", "The X-Correlation-ID header must be a UUID.")


def cache_headers(entry: Any, now: datetime, *, stale: bool = False) -> dict[str, str]:
    """Private to the token's tenant, fresh until the entry expires; `Vary` because the
    same URL answers differently per bearer token. A stale answer (the last good snapshot
    served while refreshes fail) is already expired, `max-age=0`, and has its own validator
    (`response_etag`): its body says `stale: true`, so it is another representation."""
    max_age = 0 if stale else entry.seconds_to_expiry(now)
    return {
        "ETag": response_etag(entry.etag, stale=stale),
        "Cache-Control": f"private, max-age={max_age}",
        "Vary": "Authorization",
    }


def response_etag(etag: str, *, stale: bool) -> str:
    """The entry's strong ETag, or for a stale answer the same with a `-stale` suffix."""
    return f'{etag[:-1]}-stale"' if stale else etag


def not_modified(request: Any, etag: str | None) -> bool:
    """If-None-Match with `*`, a list, or weak validators (weak comparison, RFC 9110 §13.1.2)."""
    header = request.headers.get("If-None-Match")
    if not header or not etag:
        return False
    tags = parse_etags(header)
    if tags == ["*"]:
        return True
    return _opaque(etag) in {_opaque(tag) for tag in tags}


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag
