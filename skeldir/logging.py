"""Structured logs (DESIGN.md §9): JSON lines in production, readable lines in development.

Every record handled by the console handler goes through two filters, in this order:

- `ContextFilter` adds the correlation id and tenant id of the current request or
  refresh (from `skeldir.correlation`'s context variables) when the call did not pass
  them, and makes sure `event`, `platform`, `duration_ms` and `outcome` exist;
- `RedactSecretsFilter` rewrites the record so no token or key value survives in it:
  the message is formatted with its arguments and redacted, every extra field is
  redacted (objects become redacted strings; fields named like a secret go whole), an
  exception becomes a redacted traceback text (`exc_text`) while the exception object
  itself is dropped, so no formatter can print a repr carrying request headers, and
  Django's request object becomes its method and path.

Redaction knows the configured secrets by value (the credential key ring, SECRET_KEY,
the JWT signing key, the Google OAuth client secret and developer token, the OAuth apps'
client secrets, METRICS_TOKEN, database passwords) and the shapes of tokens and where they travel: `Bearer …`,
Authorization-like headers, `access_token=` style parameters and JSON fields, JWTs,
PEM private keys, and the platforms' token prefixes (`sk_live_`, `sk_test_`, `rk_…`,
`shpat_`, `EAA…`, `ya29.`, Google's `1//` refresh tokens).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from skeldir.correlation import correlation_id_var, tenant_id_var

REDACTED = "[REDACTED]"
# Shown first, in this order, by both formatters.
CORE_FIELDS = ("event", "correlation_id", "tenant_id", "platform", "duration_ms", "outcome")
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
# Extras never printed (runserver's timestamp repeats ours).
_DROPPED = frozenset({"server_time"})
_MIN_SECRET_LENGTH = 8

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), REDACTED),
    # Authorization-like headers, in HTTP, dict reprs or JSON.
    (
        re.compile(
            r"\b(authorization|proxy-authorization|x-shopify-access-token|x-api-key|x-goog-api-key|"
            r"developer-token|cookie|set-cookie)(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+",
            re.I,
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*", re.I), rf"\1 {REDACTED}"),
    # Secrets as form/query parameters and JSON or repr fields.
    (
        re.compile(
            r"\b(access_token|refresh_token|id_token|client_secret|consumer_secret|password|api_key|secret)"
            r"=[^&\s'\"]+",
            re.I,
        ),
        rf"\1={REDACTED}",
    ),
    (
        re.compile(
            r"(['\"](?:access_token|refresh_token|id_token|client_secret|consumer_secret|password|api_key)"
            r"['\"]\s*:\s*['\"])[^'\"]*",
            re.I,
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9_]+"), REDACTED),
    (re.compile(r"\bshp(?:at|ca|pa|ss)_[A-Za-z0-9]+"), REDACTED),
    (re.compile(r"\bEAA[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"\bya29\.[A-Za-z0-9_\-.]+"), REDACTED),
    (re.compile(r"(?<![\w/])1//[A-Za-z0-9_\-]{6,}"), REDACTED),
]


def _scoped(pattern: re.Pattern[str]) -> str:
    flags = ("i" if pattern.flags & re.I else "") + ("s" if pattern.flags & re.S else "")
    return f"(?{flags}:{pattern.pattern})" if flags else f"(?:{pattern.pattern})"


# One pass finds whether any pattern is there at all: most strings (ids, events, numbers
# as text) have none and are left after it.
_ANY_PATTERN = re.compile("|".join(_scoped(pattern) for pattern, _ in _PATTERNS))


@functools.cache
def known_secrets() -> tuple[str, ...]:
    """The configured secret values, longest first (so a secret containing another goes whole)."""
    values: set[str] = set()
    ring = getattr(settings, "CREDENTIAL_ENCRYPTION_KEYS", None) or {}
    values.update(v for v in ring.get("keys", {}).values() if isinstance(v, str))
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "METRICS_TOKEN"):
        values.add(str(getattr(settings, name, "") or ""))
    google = getattr(settings, "REVENUE_PROVIDERS", {}).get("google_ads", {}).get("OPTIONS", {})
    values.update(str(google.get(name) or "") for name in ("client_secret", "developer_token"))
    # The OAuth apps' client secrets (Stripe's is the platform's secret key).
    for app in (getattr(settings, "CONNECTIONS_OAUTH", None) or {}).values():
        values.add(str(app.get("OPTIONS", {}).get("client_secret") or ""))
    values.update(str(db.get("PASSWORD") or "") for db in settings.DATABASES.values())
    return tuple(sorted((v for v in values if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True))


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in (
        "CREDENTIAL_ENCRYPTION_KEYS",
        "SECRET_KEY",
        "JWT_SIGNING_KEY",
        "METRICS_TOKEN",
        "REVENUE_PROVIDERS",
        "CONNECTIONS_OAUTH",
        "DATABASES",
    ):
        known_secrets.cache_clear()


def redact(text: str) -> str:
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    if _ANY_PATTERN.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_SECRET_NAME = re.compile(r"(?i)(token|secret|password|passwd|authorization|cookie|api[_-]?key)")


@functools.lru_cache(maxsize=1024)
def _secret_name(name: str) -> bool:
    """A field or header whose value is a secret by its name (never `*_id`, `*_count`…)."""
    return bool(_SECRET_NAME.search(name)) and not name.lower().endswith(("_id", "_count", "_at", "_status"))


def _redact_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): REDACTED if _secret_name(str(k)) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(v) for v in value]
    return redact(str(value))  # never a repr: str() of an exception or object, redacted


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and k not in _DROPPED}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            # Django's request logger writes after the middleware has left: its record
            # carries the request, which carries the id.
            request = getattr(record, "request", None)
            record.correlation_id = correlation_id_var.get() or getattr(request, "correlation_id", None)
        if getattr(record, "tenant_id", None) is None:
            record.tenant_id = tenant_id_var.get()
        for name in ("event", "platform", "duration_ms", "outcome"):
            if not hasattr(record, name):
                setattr(record, name, None)
        return True


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # the exception object (and whatever its repr carries) goes
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            # Django's request loggers attach the request itself, headers and all: keep
            # only what it was (method and path, no query string).
            record.request = redact(f"{getattr(request, 'method', '')} {getattr(request, 'path', '')}".strip())
        for name, value in extra_fields(record).items():
            setattr(record, name, REDACTED if value is not None and _secret_name(name) else _redact_value(value))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record as one flat mapping: timestamp, level, logger, the core fields, the
    message when it says more than the event, then the other extras."""
    message = record.getMessage()
    extras = extra_fields(record)
    fields: dict[str, Any] = {"timestamp": _timestamp(record), "level": record.levelname, "logger": record.name}
    for name in CORE_FIELDS:
        fields[name] = extras.pop(name, None)
    if not fields["event"]:
        fields["event"] = message
    elif message != fields["event"]:
        fields["message"] = message
    request = extras.get("request")
    if request is not None and not isinstance(request, str):  # never the object: it carries the headers
        extras["request"] = f"{getattr(request, 'method', '')} {getattr(request, 'path', '')}".strip()
    fields.update(sorted(extras.items()))
    if record.exc_text:
        fields["exception"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`2026-01-01T12:00:00.000Z INFO revenue.realtime refresh_finished tenant_id=… outcome=refreshed`"""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        head = f"{fields.pop('timestamp')} {fields.pop('level')} {fields.pop('logger')} {fields.pop('event')}"
        exception = fields.pop("exception", None)
        stack = fields.pop("stack", None)
        tail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        line = f"{head} {tail}" if tail else head
        return "\n".join(part for part in (line, exception, stack) if part)
