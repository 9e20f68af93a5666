"""The log lines of real requests, as production writes them (the console handler's
filters and JSON formatter): a full refresh cycle, a platform's 401 and a platform's 5xx
carry the correlation id, the tenant and the platform, and never a token."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import PlatformCredential
from revenue.realtime import revenue_refresh
from skeldir.logging import ContextFilter, JsonFormatter, RedactSecretsFilter
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, google_rows, stripe_error, stripe_list

V1 = "/api/v1/revenue/realtime"
TOKENS = ("sk_test_LOGS_stripe_token", "ya29.logs_google_token", "1//0logs_refresh_token")

pytestmark = pytest.mark.django_db


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        for step in (ContextFilter(), RedactSecretsFilter()):
            self.addFilter(step)
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def events(self, *names: str) -> list[dict]:
        parsed = [json.loads(line) for line in self.lines]
        return [p for p in parsed if p["event"] in names] if names else parsed


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    handler = _Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_a_full_refresh_cycle_logs_correlation_id_tenant_and_platform(api, mint, platforms, log_lines):
    tenant = make_tenant("logged")
    make_connection(tenant, "stripe", "acct_logs", access_token=TOKENS[0])
    make_connection(tenant, "google_ads", "555", access_token=TOKENS[1])
    platforms.stripe.set(TOKENS[0], Behaviour(body=stripe_list(500)))
    platforms.google_customer("555")
    platforms.google.set(TOKENS[1], Behaviour(body=google_rows("12.50")))
    cid = str(uuid.uuid4())

    first = api.get(V1, token=mint(tenant.id), correlation_id=cid)
    again = api.get(V1, token=mint(tenant.id), correlation_id=cid, If_None_Match=first["ETag"])

    assert (first.status_code, again.status_code) == (200, 304)
    cycle = log_lines.events("refresh_started", "source_fetched", "refresh_finished", "request_served")
    assert [e["event"] for e in cycle] == [
        "refresh_started",
        "source_fetched",
        "source_fetched",
        "refresh_finished",
        "request_served",
        "request_served",
    ]
    assert {(e["correlation_id"], e["tenant_id"]) for e in cycle} == {(cid, str(tenant.id))}
    assert cycle[0]["platforms"] == ["google_ads", "stripe"]
    sources = {e["platform"]: e for e in cycle[1:3]}
    assert set(sources) == {"stripe", "google_ads"}
    assert all(e["outcome"] == "ok" and e["duration_ms"] >= 0 and e["level"] == "INFO" for e in sources.values())
    assert cycle[3]["outcome"] == "refreshed" and cycle[3]["duration_ms"] >= 0
    assert [(e["outcome"], e["status"], e["endpoint"]) for e in cycle[4:]] == [
        ("leader", 200, "realtime-revenue-v1"),
        ("hit", 304, "realtime-revenue-v1"),
    ]
    http = log_lines.events("provider_http_response")
    assert {(e["platform"], e["correlation_id"]) for e in http} == {("stripe", cid), ("google_ads", cid)}
    assert not [line for line in log_lines.lines for token in TOKENS if token in line]


def test_a_platforms_401_is_logged_with_correlation_id_tenant_and_platform_and_asks_for_a_reconnect(
    api, mint, platforms, log_lines
):
    tenant = make_tenant("refused")
    make_connection(tenant, "stripe", "acct_refused", access_token=TOKENS[0])
    platforms.stripe.set(TOKENS[0], Behaviour(401, stripe_error(401, "invalid_request_error", "api_key_invalid")))
    cid = str(uuid.uuid4())

    response = api.get(V1, token=mint(tenant.id), correlation_id=cid)

    assert response.status_code == 200  # a state the merchant acts on, not a cooldown
    events = {e["event"]: e for e in log_lines.events()}
    source = events["source_fetched"]
    assert (source["level"], source["platform"], source["outcome"]) == ("WARNING", "stripe", "reconnect_required")
    assert "HTTP 401" in source["error"]
    refused = events["credential_refused"]
    assert (refused["platform"], refused["account"], refused["outcome"], refused["marked"]) == (
        "stripe",
        "acct_refused",
        "revoked",
        True,
    )
    for name in ("refresh_started", "source_fetched", "credential_refused", "refresh_finished", "request_served"):
        assert (events[name]["correlation_id"], events[name]["tenant_id"]) == (cid, str(tenant.id)), name
    assert "cooldown_entered" not in events
    assert events["refresh_finished"]["outcome"] == "partial"
    assert (events["request_served"]["status"], events["request_served"]["outcome"]) == (200, "leader")
    assert not [line for line in log_lines.lines for token in TOKENS if token in line]


def test_a_platforms_5xx_is_logged_with_the_cooldown_it_causes(api, mint, platforms, log_lines):
    tenant = make_tenant("failing")
    make_connection(tenant, "stripe", "acct_failing", access_token=TOKENS[0])
    platforms.stripe.set(TOKENS[0], Behaviour(503, stripe_error(503, "api_error")))
    cid = str(uuid.uuid4())

    response = api.get(V1, token=mint(tenant.id), correlation_id=cid)

    assert response.status_code == 503  # no snapshot yet: nothing stale to serve
    events = {e["event"]: e for e in log_lines.events()}
    source = events["source_fetched"]
    assert (source["level"], source["platform"], source["outcome"]) == ("WARNING", "stripe", "upstream")
    assert "HTTP 503" in source["error"]
    for name in ("refresh_started", "source_fetched", "cooldown_entered", "refresh_finished", "request_served"):
        assert (events[name]["correlation_id"], events[name]["tenant_id"]) == (cid, str(tenant.id)), name
    assert events["cooldown_entered"]["cooldown_seconds"] == 10
    assert events["refresh_finished"]["outcome"] == "failed"
    assert (events["request_served"]["status"], events["request_served"]["outcome"]) == (503, "cooldown")
    assert not [line for line in log_lines.lines for token in TOKENS if token in line]


def test_a_revoked_refresh_token_is_logged_with_tenant_and_platform(platforms, log_lines):
    tenant = make_tenant("revoked")
    make_connection(
        tenant,
        "google_ads",
        "777",
        access_token=TOKENS[1],
        refresh_token=TOKENS[2],
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    with tenant_context(tenant.id):
        PlatformCredential.objects.update(next_refresh_due_at=timezone.now() - timedelta(minutes=1))
    platforms.google_token.set(TOKENS[2], Behaviour(400, {"error": "invalid_grant"}))
    cid = str(uuid.uuid4())

    revenue_refresh(tenant.id, correlation_id=cid)

    (revoked,) = log_lines.events("credential_revoked")
    assert (revoked["tenant_id"], revoked["correlation_id"], revoked["platform"]) == (str(tenant.id), cid, "google_ads")
    (source,) = log_lines.events("source_fetched")
    assert source["outcome"] == "reconnect_required"
    assert not [line for line in log_lines.lines for token in TOKENS if token in line]
