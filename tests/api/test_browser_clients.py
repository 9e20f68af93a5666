"""What a browser needs from the API: CORS for a dashboard on another origin (preflights
answered before the correlation-id and token checks, the caching and tracing headers
exposed), and API docs that load without any CDN."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from tests.factories import make_tenant
from tests.stubs import Behaviour, stripe_list

DASHBOARD = "https://dashboard.example.com"
V1 = "/api/v1/revenue/realtime"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [DASHBOARD]
    settings.CORS_URLS_REGEX = r"^/api/.*$"  # as settings.py sets it when origins are configured
    return settings


def _preflight(origin: str, path: str = V1):
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, x-correlation-id, if-none-match",
    )


def test_a_preflight_from_an_allowed_origin_is_answered_before_any_check(cors):
    response = _preflight(DASHBOARD)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == DASHBOARD
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "x-correlation-id", "if-none-match"} <= allowed
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response  # bearer tokens, never cookies


def test_a_preflight_from_another_origin_gets_no_cors_headers(cors):
    response = _preflight("https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response


def test_without_allowed_origins_cors_changes_nothing():
    response = _preflight(DASHBOARD)
    assert "Access-Control-Allow-Origin" not in response and "Origin" not in response.get("Vary", "")


def test_cors_is_for_the_api_only(cors):
    assert "Access-Control-Allow-Origin" not in _preflight(DASHBOARD, "/admin/login/")
    assert "Access-Control-Allow-Origin" not in _preflight(DASHBOARD, "/metrics")


@pytest.mark.django_db
def test_an_allowed_origin_can_read_the_caching_and_tracing_headers(cors, api, mint, platforms):
    from tests.factories import make_connection

    tenant = make_tenant("cors")
    make_connection(tenant, "stripe", "acct_cors", access_token="sk_cors")
    platforms.stripe.set("sk_cors", Behaviour(body=stripe_list(100)))
    response = api.get(V1, token=mint(tenant.id), Origin=DASHBOARD)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == DASHBOARD
    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"etag", "retry-after", "x-correlation-id"}


def test_the_api_docs_load_nothing_from_outside(client):
    page = client.get("/api/docs/", HTTP_X_CORRELATION_ID=str(uuid.uuid4()))
    assert page.status_code == 200
    html = page.content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    for src in scripts:
        asset = client.get(src)
        assert asset.status_code == 200, src
