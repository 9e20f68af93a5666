"""Structured logs (skeldir.logging): the redaction filter leaves no token or key in a
record — message, arguments, extra fields, traceback — and the formatters write one JSON
object per line (production) or a readable line (development).

Records here are built and filtered directly, never emitted, so the secrets they carry
never reach a real handler."""

from __future__ import annotations

import json
import logging
import sys

import pytest
import requests

from skeldir.correlation import correlation_id_var, tenant_id_var
from skeldir.logging import REDACTED, ContextFilter, JsonFormatter, RedactSecretsFilter, TextFormatter, redact

RING_SECRET = "unit-ring-secret-0123456789abcdef"
SIGNING_SECRET = "unit-signing-secret-for-logs"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.CREDENTIAL_ENCRYPTION_KEYS = {"current": "k1", "keys": {"k1": RING_SECRET}}
    settings.METRICS_TOKEN = SIGNING_SECRET


def record(msg: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("test.logger", logging.WARNING, __file__, 1, msg, args or None, exc_info)  # type: ignore[arg-type]
    for name, value in extra.items():
        setattr(rec, name, value)
    return rec


def filtered(rec: logging.LogRecord) -> logging.LogRecord:
    ContextFilter().filter(rec)
    assert RedactSecretsFilter().filter(rec) is True
    return rec


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"),
        ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ('"X-Shopify-Access-Token": "shpca_0011aabb"', "shpca_0011aabb"),
        ("GET /insights?fields=x&access_token=EAAB0123456789xyz&limit=5", "EAAB0123456789xyz"),
        ("grant_type=refresh_token&refresh_token=opaque-refresh-value&client_secret=cs-value", "opaque-refresh-value"),
        ("grant_type=refresh_token&refresh_token=opaque-refresh-value&client_secret=cs-value", "cs-value"),
        ('{"access_token": "opaque-access-value", "expires_in": 3599}', "opaque-access-value"),
        ("token eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiJ4In0.c2lnbmF0dXJl seen", "eyJhbGciOiJSUzI1NiJ9"),
        ("stripe key sk_live_51Habcdefghijklmnop in text", "sk_live_51Habcdefghijklmnop"),
        ("stripe key sk_test_4eC39HqLyjWDarjtT1zdp7dc in text", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
        ("restricted rk_live_abcdef123456", "rk_live_abcdef123456"),
        ("shopify shpat_f0e1d2c3b4a5", "shpat_f0e1d2c3b4a5"),
        ("meta EAAGm0PX4ZCpsBOunitTestToken", "EAAGm0PX4ZCpsBOunitTestToken"),
        ("google ya29.a0AfB_unit-test.token", "ya29.a0AfB_unit-test.token"),
        ("google refresh 1//0gUnitTestRefresh-token", "1//0gUnitTestRefresh-token"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----", "MIIEvQIBADANBgkq"),
        (f"the ring key is {RING_SECRET}!", RING_SECRET),
        (f"metrics token {SIGNING_SECRET}", SIGNING_SECRET),
    ],
)
def test_tokens_and_keys_are_redacted(text, secret):
    assert secret not in redact(text)
    assert REDACTED in redact(text)


def test_ordinary_text_is_left_alone():
    text = "stripe acct_1: auth: stripe: HTTP 401, credentials refused; tenant 6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"
    assert redact(text) == text


def test_the_message_arguments_and_extra_fields_are_redacted():
    rec = filtered(
        record(
            "calling %s with %r",
            "https://graph.example/x?access_token=EAAB0123456789xyz",
            {"h": "Bearer tok-123"},
            event="unit",
            headers={"Authorization": "Bearer tok-456", "Accept": "application/json"},
            values=["sk_test_abcdefgh", 3],
            note=RING_SECRET,
            refresh_token="opaque-by-its-name",
        )
    )
    text = json.dumps(vars(rec), default=str)
    for secret in ("EAAB0123456789xyz", "tok-123", "tok-456", "sk_test_abcdefgh", RING_SECRET, "opaque-by-its-name"):
        assert secret not in text
    assert rec.args is None and rec.getMessage().startswith("calling https://graph.example/x?access_token=[REDACTED]")
    assert rec.headers == {"Authorization": REDACTED, "Accept": "application/json"}
    assert rec.values == [REDACTED, 3] and rec.refresh_token == REDACTED


def test_an_exception_becomes_redacted_text_and_its_object_is_dropped():
    class Leaky:
        def __str__(self) -> str:
            return "PreparedRequest headers={'Authorization': 'Bearer tok-789'}"

    try:
        raise requests.HTTPError("401 Client Error for url: https://x/v1?access_token=EAAB0123456789xyz")
    except requests.HTTPError:
        rec = filtered(record("platform call failed", exc_info=sys.exc_info(), request_repr=Leaky()))
    assert rec.exc_info is None
    assert "requests.exceptions.HTTPError" in rec.exc_text and "EAAB0123456789xyz" not in rec.exc_text
    assert "tok-789" not in rec.request_repr
    assert "EAAB0123456789xyz" not in JsonFormatter().format(rec)


def test_json_lines_carry_the_core_fields_and_the_context():
    cid, tenant = correlation_id_var.set("6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"), tenant_id_var.set("t-1")
    try:
        rec = filtered(
            record(
                "source_fetched",
                event="source_fetched",
                platform="stripe",
                outcome="auth",
                duration_ms=12.5,
                account="acct_1",
            )
        )
    finally:
        correlation_id_var.reset(cid)
        tenant_id_var.reset(tenant)
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    fields = json.loads(line)
    assert list(fields)[:9] == [
        "timestamp",
        "level",
        "logger",
        "event",
        "correlation_id",
        "tenant_id",
        "platform",
        "duration_ms",
        "outcome",
    ]
    assert fields["timestamp"].endswith("Z") and fields["level"] == "WARNING"
    assert (fields["correlation_id"], fields["tenant_id"], fields["platform"]) == (
        "6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d",
        "t-1",
        "stripe",
    )
    assert (fields["outcome"], fields["duration_ms"], fields["account"]) == ("auth", 12.5, "acct_1")


def test_the_text_format_is_one_readable_line():
    rec = filtered(record("refresh_finished", event="refresh_finished", tenant_id="t-2", outcome="refreshed"))
    line = TextFormatter().format(rec)
    assert " WARNING test.logger refresh_finished " in line
    assert "tenant_id=t-2" in line and "outcome=refreshed" in line and "platform=" not in line


def test_the_settings_pick_json_in_production_and_text_in_debug(monkeypatch):
    import importlib

    import skeldir.settings as project_settings

    try:
        for debug, expected in (("false", "json"), ("true", "text")):
            monkeypatch.setenv("DJANGO_DEBUG", debug)
            monkeypatch.delenv("LOG_FORMAT", raising=False)
            importlib.reload(project_settings)
            assert project_settings.LOG_FORMAT == expected
            handler = project_settings.LOGGING["handlers"]["console"]
            assert handler["formatter"] == expected and handler["filters"] == ["context", "redact"]
        monkeypatch.setenv("LOG_FORMAT", "text")
        monkeypatch.setenv("DJANGO_DEBUG", "false")
        importlib.reload(project_settings)
        assert project_settings.LOG_FORMAT == "text"
    finally:
        monkeypatch.undo()
        importlib.reload(project_settings)


def test_djangos_request_object_is_reduced_to_method_and_path():
    from django.test import RequestFactory

    request = RequestFactory().get(
        "/api/v1/revenue/realtime?access_token=EAAB0123456789xyz", HTTP_AUTHORIZATION="Bearer tok-request-header"
    )
    request.correlation_id = "6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"
    rec = filtered(record("Internal Server Error: %s", request.path, status_code=500, request=request))
    assert rec.request == "GET /api/v1/revenue/realtime"
    assert rec.correlation_id == "6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"
    line = JsonFormatter().format(rec)
    assert "tok-request-header" not in line and '"request":"GET /api/v1/revenue/realtime"' in line


def test_the_oauth_apps_client_secrets_are_redacted_by_value(settings):
    import copy

    from skeldir.logging import known_secrets

    oauth = copy.deepcopy(settings.CONNECTIONS_OAUTH)
    oauth["meta_ads"]["OPTIONS"]["client_secret"] = "meta-app-secret-for-redaction"
    settings.CONNECTIONS_OAUTH = oauth
    assert "meta-app-secret-for-redaction" in known_secrets()


@pytest.mark.django_db
def test_platform_calls_from_the_fetch_pool_name_the_tenant_and_the_correlation_id(platforms):
    """The pool's threads have no context of their own: each call runs in one copied from
    the refresh, so its log lines say whose refresh it was (the cron sets no request context)."""
    import uuid

    from revenue.realtime import revenue_refresh
    from tests.factories import make_connection, make_tenant
    from tests.stubs import Behaviour, stripe_list

    class Capture(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.addFilter(ContextFilter())  # reads the context at emit time, in the pool thread
            self.seen: list[tuple[str, str | None, str | None]] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.seen.append((record.event, record.tenant_id, record.correlation_id))

    tenant = make_tenant("pool-context")
    make_connection(tenant, "stripe", "acct_pool", access_token="sk_pool")
    platforms.stripe.set("sk_pool", Behaviour(body=stripe_list(100)))
    correlation_id = str(uuid.uuid4())
    capture = Capture()
    http_logger = logging.getLogger("providers.http")
    http_logger.addHandler(capture)
    try:
        assert revenue_refresh(tenant.id, correlation_id=correlation_id).outcome == "refreshed"
    finally:
        http_logger.removeHandler(capture)
    calls = [seen for seen in capture.seen if seen[0].startswith("provider_http_")]
    assert calls  # the charges and disputes reads were logged
    assert {(tenant_id, cid) for _, tenant_id, cid in calls} == {(str(tenant.id), correlation_id)}
