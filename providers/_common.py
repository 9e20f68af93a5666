"""Small helpers the adapters share: the status → error-taxonomy table every platform
starts from, a safe way to quote a platform's own error text, and UTC formatting.

Each adapter reads its platform's error body first (error codes that mean something
more specific than the status) and falls back to `error_for_status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    redact,
)
from providers.http import HttpResponse, retry_after_seconds

# Backoff when a platform throttles without saying for how long.
DEFAULT_RETRY_AFTER = 30
# Longest platform text quoted in one of our messages.
QUOTE_LIMIT = 200
# Pages one fetch may follow: a platform looping on the same cursor must not hang a refresh.
MAX_PAGES = 1000


def quote(text: object, secrets: Iterable[str | None] = ()) -> str:
    """A platform's own error text fit for our messages: secrets removed first, then
    whitespace collapsed and cut to QUOTE_LIMIT characters. Non-strings give ""."""
    if not isinstance(text, str):
        return ""
    text = " ".join(redact(text, secrets).split())
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


def error_for_status(
    response: HttpResponse,
    *,
    detail: str = "",
    retry_after: int | None = None,
) -> ProviderError:
    """The taxonomy error for a non-2xx `response`.

    401/403 → auth; 429 → rate limited, waiting for `Retry-After` (seconds or HTTP-date),
    else the platform's own hint `retry_after`, else DEFAULT_RETRY_AFTER; 5xx (what is
    left after the session's retries) → upstream; any other status → upstream, naming it.
    `detail` is already-quoted platform text (see `quote`).
    """
    status = response.status
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        return ProviderAuthError(
            f"HTTP {status}, credentials refused{suffix}", platform=response.platform, status=status
        )
    if status == 429:
        return rate_limited(response, detail=detail, retry_after=retry_after)
    if status >= 500:
        return ProviderUnavailable(
            f"HTTP {status} from the platform{suffix}", platform=response.platform, status=status
        )
    return ProviderUnavailable(f"unexpected HTTP {status}{suffix}", platform=response.platform, status=status)


def rate_limited(response: HttpResponse, *, detail: str = "", retry_after: int | None = None) -> ProviderRateLimited:
    """A throttle signal (a 429, or a platform's own code in a body with another status):
    `Retry-After` wins, then the platform's hint, then DEFAULT_RETRY_AFTER."""
    wait = retry_after_seconds(response.headers) or retry_after or DEFAULT_RETRY_AFTER
    suffix = f": {detail}" if detail else ""
    return ProviderRateLimited(
        f"HTTP {response.status}, rate limited{suffix}",
        platform=response.platform,
        status=response.status,
        retry_after=wait,
    )


def error_body(response: HttpResponse) -> dict[str, Any]:
    """The JSON object of an error response, or {} when there is none (an HTML error page
    from a proxy must not turn a 502 into a bad response)."""
    try:
        body = response.json()
    except ProviderBadResponse:
        return {}
    return body if isinstance(body, dict) else {}


def iso_utc(moment: datetime) -> str:
    """RFC 3339 in UTC to the second: `2024-05-01T22:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def platform_time_zone(name: object, where: str) -> ZoneInfo:
    """An IANA time zone a platform names (an ad account's own zone), exactly as sent: a
    name the tz database does not know, or that is not a string, is a bad response, never
    a silent UTC."""
    if not isinstance(name, str) or not name:
        raise ProviderBadResponse(f"response field {where} is not a time zone name")
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError, OSError):  # unknown key, a path, a file that is not TZif
        raise ProviderBadResponse(f"response field {where} names an unknown time zone {quote(name)!r}") from None
