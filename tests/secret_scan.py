"""Suite-wide scans for the fixtures' secrets: in log output and in every HTTP response.

`SecretScanHandler` sits first on the root logger for the whole session, so it sees every
record as it was logged (before any handler's filter rewrites it): it keeps the raw text
(message with its arguments, extra fields, traceback) and the line the production
pipeline writes (skeldir.logging's filters and JSON formatter). At the end of the session
both are searched for every token, key and password the tests use (`fixture_secrets`).

`ResponseScan` wraps Django's request handling for the whole session, so every response
the service gives in the test process (the test clients' API calls and admin pages, the
live server's answers) is searched as it leaves: its headers and body for the same
secrets, and for what no response may ever hold whoever minted it (a private key, a
signed JWT such as the bearer token the request came with). Tests that run the service in
another process hand it that process's answers and output (`check_http`, `search`).
"""

from __future__ import annotations

import html
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import requests
from django.conf import settings

from skeldir.logging import ContextFilter, JsonFormatter, RedactSecretsFilter, extra_fields

TESTS = Path(__file__).resolve().parent
# A secret shorter than this would match ordinary words; the short literals of the suite
# ("sk_1", "late") are covered by the longer ones that share their code paths.
MIN_LENGTH = 6
_ASSIGNED = re.compile(r"^\s*[A-Z_]*(?:TOKEN|SECRET|KEY)[A-Z_]*\s*=\s*\"([^\"]+)\"", re.M)
_KEYWORD = re.compile(r"\b(?:access_token|refresh_token)\b[^=\n(]*=\s*\"([^\"]+)\"")
_PASSWORD = re.compile(r"\b(?:[A-Z_]*PASSWORD[A-Z_]*|password)\s*=\s*\"([^\"]+)\"")
_TUPLE = re.compile(r"^([A-Z_]+(?:,\s*[A-Z_]+)+)\s*=\s*\(\s*\n?((?:\s*\"[^\"]*\",?\s*\n?)+)\)", re.M)


def fixture_secrets() -> set[str]:
    """Tokens, keys and passwords of the test suite: its settings' secrets, the factories'
    default token, and every such literal of the test modules (constants named *TOKEN*,
    *SECRET*, *KEY*, *PASSWORD*, and access/refresh token and password arguments)."""
    secrets = {settings.SECRET_KEY, *settings.CREDENTIAL_ENCRYPTION_KEYS["keys"].values()}
    google = settings.REVENUE_PROVIDERS["google_ads"]["OPTIONS"]
    secrets.update((google["client_secret"], google["developer_token"]))
    for path in TESTS.rglob("*.py"):
        text = path.read_text()
        secrets.update(_ASSIGNED.findall(text))
        secrets.update(_KEYWORD.findall(text))
        secrets.update(_PASSWORD.findall(text))
        for names, values in _TUPLE.findall(text):
            if any(word in names for word in ("TOKEN", "SECRET")):
                secrets.update(re.findall(r"\"([^\"]+)\"", values))
    return {s for s in secrets if len(s) >= MIN_LENGTH and not s.startswith(("http://", "https://"))}


class SecretScanHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.raw: list[str] = []
        self.written: list[str] = []
        self._pipeline = (ContextFilter(), RedactSecretsFilter())
        self._formatter = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            raw = [record.getMessage(), repr(extra_fields(record))]
        except Exception:  # noqa: BLE001 - a record that cannot format is scanned as it is
            raw = [repr(record.msg), repr(record.args)]
        if record.exc_info:
            raw.append(logging.Formatter().formatException(record.exc_info))
        self.raw.append(f"{record.name}: " + "\n".join(raw))
        copy = logging.makeLogRecord(dict(vars(record)))
        for step in self._pipeline:
            step.filter(copy)
        self.written.append(self._formatter.format(copy))

    def leaks(self, secrets: set[str]) -> list[str]:
        found = []
        for kind, texts in (("logged", self.raw), ("written", self.written)):
            for text in texts:
                for secret in secrets:
                    if secret in text:
                        shown = text.replace(secret, "<SECRET>")[:300]
                        found.append(f"{kind}: a secret starting {secret[:4]!r} in {shown!r}")
        return found


# Never in a response, whatever the fixtures: the service issues no JWT and shows no key.
_NEVER_IN_A_RESPONSE = {
    "a private key": re.compile(r"PRIVATE KEY-----"),
    "a signed JWT": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{16,}"),
}


class ResponseScan:
    """Searches each response as the handler returns it; keeps only what it finds (the
    session's responses themselves would be hundreds of megabytes of admin pages)."""

    def __init__(self, secrets: set[str]) -> None:
        self._secrets = secrets
        self._lock = threading.Lock()
        self.scanned = 0  # responses, of this process or another's
        self.leaks: list[str] = []

    def wrap(self, get_response: Callable) -> Callable:
        scan = self

        def get_response_scanned(handler, request):  # noqa: ANN001, ANN202 - BaseHandler's signature
            response = get_response(handler, request)
            scan.check(f"{request.method} {request.path}", response)
            return response

        return get_response_scanned

    def check(self, where: str, response) -> list[str]:  # noqa: ANN001 - any HttpResponseBase
        parts = {"headers": _header_lines(response.headers), "cookies": response.cookies.output()}
        if not response.streaming:
            body = response.content.decode("utf-8", errors="replace")
            parts["body"] = html.unescape(body) if "html" in response.get("Content-Type", "") else body
        return self._count(self.search(where, parts))

    def check_http(self, where: str, response: requests.Response) -> list[str]:
        """A response of the service running in another process, as a client received it."""
        return self._count(self.search(where, {"headers": _header_lines(response.headers), "body": response.text}))

    def search(self, where: str, parts: dict[str, str]) -> list[str]:
        """Search the named parts of one answer, or of what the service gave in another
        process (a server's log, a command's output)."""
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" (", 1)[0]
        found = []
        for part, text in parts.items():
            for secret in self._secrets:
                if secret in text:
                    found.append(f"{test}: a secret starting {secret[:4]!r} in the {part} of {where}")
            for what, pattern in _NEVER_IN_A_RESPONSE.items():
                if pattern.search(text):
                    found.append(f"{test}: {what} in the {part} of {where}")
        with self._lock:
            self.leaks.extend(found)
        return found

    def _count(self, found: list[str]) -> list[str]:
        with self._lock:
            self.scanned += 1
        return found


def _header_lines(headers: Mapping[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())
