"""A suite-wide scan of log output for the fixtures' secrets.

`SecretScanHandler` sits first on the root logger for the whole session, so it sees every
record as it was logged (before any handler's filter rewrites it): it keeps the raw text
(message with its arguments, extra fields, traceback) and the line the production
pipeline writes (skeldir.logging's filters and JSON formatter). At the end of the session
both are searched for every token and key the tests use (`fixture_secrets`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from django.conf import settings

from skeldir.logging import ContextFilter, JsonFormatter, RedactSecretsFilter, extra_fields

TESTS = Path(__file__).resolve().parent
# A secret shorter than this would match ordinary words; the short literals of the suite
# ("sk_1", "late") are covered by the longer ones that share their code paths.
MIN_LENGTH = 6
_ASSIGNED = re.compile(r"^\s*[A-Z_]*(?:TOKEN|SECRET|KEY)[A-Z_]*\s*=\s*\"([^\"]+)\"", re.M)
_KEYWORD = re.compile(r"\b(?:access_token|refresh_token)\b[^=\n(]*=\s*\"([^\"]+)\"")
_TUPLE = re.compile(r"^([A-Z_]+(?:,\s*[A-Z_]+)+)\s*=\s*\(\s*\n?((?:\s*\"[^\"]*\",?\s*\n?)+)\)", re.M)


def fixture_secrets() -> set[str]:
    """Tokens and keys of the test suite: its settings' secrets, the factories' default
    token, and every token-like literal of the test modules (constants named *TOKEN*,
    *SECRET*, *KEY*, and access/refresh token arguments)."""
    secrets = {settings.SECRET_KEY, *settings.CREDENTIAL_ENCRYPTION_KEYS["keys"].values()}
    google = settings.REVENUE_PROVIDERS["google_ads"]["OPTIONS"]
    secrets.update((google["client_secret"], google["developer_token"]))
    for path in TESTS.rglob("*.py"):
        text = path.read_text()
        secrets.update(_ASSIGNED.findall(text))
        secrets.update(_KEYWORD.findall(text))
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
