"""Hostile HTTP input against a live server: bodies nested or sized to break the parser,
and invented HTTP methods that used to mint a metric series each and log CSRF noise."""

from __future__ import annotations

import logging
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from connections.models import PlatformConnection
from skeldir.parsers import json_depth
from skeldir.tenancy import tenant_context
from tests.factories import make_tenant

CONNECTIONS = "/api/v1/connections"


@pytest.fixture
def manager(live_url, mint):
    tenant = make_tenant("security-hostile")
    return tenant, {
        "Authorization": f"Bearer {mint(tenant.id, scopes=['manager'])}",
        "X-Correlation-ID": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def _connections_of(tenant) -> int:
    with tenant_context(tenant.id):
        return PlatformConnection.objects.count()


def test_a_deeply_nested_body_is_a_400_problem_not_a_traceback(live_url, manager, caplog):
    tenant, headers = manager
    body = "[" * 20_000 + "]" * 20_000
    with caplog.at_level(logging.WARNING):
        answer = requests.post(f"{live_url}{CONNECTIONS}", data=body, headers=headers, timeout=10)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "parse_error"
    assert "nested deeper than 32" in answer.json()["detail"]
    refused = [r for r in caplog.records if getattr(r, "event", None) == "request_body_refused"]
    assert refused and refused[0].levelno == logging.WARNING and refused[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _connections_of(tenant) == 0


def test_an_oversized_body_is_a_413_problem(live_url, manager):
    tenant, headers = manager
    padding = "x" * (64 * 1024)
    body = f'{{"platform": "stripe", "account_id": "acct_1", "api_key": "{padding}"}}'
    answer = requests.post(f"{live_url}{CONNECTIONS}", data=body, headers=headers, timeout=10)
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert _connections_of(tenant) == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_that_are_not_numbers_are_refused(live_url, manager, constant):
    tenant, headers = manager
    body = f'{{"platform": "stripe", "account_id": "acct_1", "api_key": "rk_x", "extra": {constant}}}'
    answer = requests.post(f"{live_url}{CONNECTIONS}", data=body, headers=headers, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["code"] == "parse_error"
    assert _connections_of(tenant) == 0


def test_the_depth_scan_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]"}]}') == 3
    assert json_depth("[]") == 1 and json_depth('"x"') == 0


def _request_series(live_url: str) -> set[tuple[str, ...]]:
    text = requests.get(f"{live_url}/metrics", timeout=10).text
    return {
        tuple(sorted(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "skeldir_http_requests_total"
    }


def test_invented_methods_are_405_and_share_one_metric_label(live_url, caplog):
    before = _request_series(live_url)
    with caplog.at_level(logging.INFO):
        answers = [
            requests.request(f"X{n:03d}", f"{live_url}/api/v1/revenue/realtime", timeout=10) for n in range(60)
        ] + [requests.request("BREW", f"{live_url}/healthz", timeout=10)]
    assert {a.status_code for a in answers} == {405}
    assert answers[0].headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    assert answers[0].headers["Content-Type"] == "application/problem+json"
    new = _request_series(live_url) - before
    methods = {dict(labels)["method"] for labels in new}
    assert methods <= {"other", "GET"}  # GET: the scrape itself
    assert len(new) <= 3
    assert not [r for r in caplog.records if "CSRF" in r.getMessage() or r.levelno >= logging.WARNING]
    served = [r for r in caplog.records if getattr(r, "event", None) == "request_served"]
    assert served and {r.method for r in served} == {"other"}
