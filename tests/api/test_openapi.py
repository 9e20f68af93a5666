"""The OpenAPI schema generated from the code, and a property-based run of it
(schemathesis) against a live server: no 5xx but the documented 503, and every response
conforms to the schema (status, content type, headers, body)."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import make_connection, make_tenant

PATHS = {"/api/v1/revenue/realtime": "getRealtimeRevenueV1", "/api/attribution/revenue/realtime": "getRealtimeRevenue"}
STATUSES = {"200", "304", "400", "401", "403", "404", "406", "500", "503"}


@pytest.mark.django_db
def test_the_schema_documents_both_operations_every_status_and_header(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operation_id in PATHS.items():
        operation = schema["paths"][path]["get"]
        assert operation["operationId"] == operation_id
        assert operation["security"] == [{"bearerAuth": []}]
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert parameters["X-Correlation-ID"]["required"] is True
        assert parameters["X-Correlation-ID"]["schema"]["format"] == "uuid"
        assert "If-None-Match" in parameters
        assert set(operation["responses"]) == STATUSES
        assert set(operation["responses"]["503"]["headers"]) >= {"Retry-After", "Cache-Control", "X-Correlation-ID"}
        assert set(operation["responses"]["200"]["headers"]) >= {"ETag", "Cache-Control", "Vary", "X-Correlation-ID"}
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        assert "application/problem+json" in operation["responses"]["401"]["content"]
    assert schema["paths"]["/api/attribution/revenue/realtime"]["get"]["deprecated"] is True
    assert "deprecated" not in schema["paths"]["/api/v1/revenue/realtime"]["get"]


@pytest.fixture
def simulated_tenant(simulated_platforms):
    tenant = make_tenant("schemathesis")
    make_connection(tenant, "stripe", "acct_schema", access_token="sk_test_schema", metadata={"connect": True})
    return tenant


CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


def test_the_live_api_conforms_to_its_schema(live_url, mint, simulated_tenant):
    schema = schemathesis.openapi.from_url(f"{live_url}/api/schema/?format=json")
    tokens = [
        mint(simulated_tenant.id),  # viewer
        mint(simulated_tenant.id, scopes=["manager"]),  # lacks viewer: 403
        mint(uuid.uuid4()),  # unknown tenant: 404
        "not-a-jwt",
        None,
    ]
    strategies = [
        schema[path]["GET"].as_strategy(generation_mode=mode)
        for path in PATHS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    seen: set[int] = set()

    @hypothesis_settings(
        max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=st.one_of(strategies), token=st.sampled_from(tokens))
    def check(case, token):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if token is not None:
            case.headers["Authorization"] = f"Bearer {token}"
        # A fresh connection per call: keep-alive to Django's test server costs ~60 ms a request.
        response = case.call(base_url=live_url)
        seen.add(response.status_code)
        assert response.status_code < 500 or response.status_code == 503, response.text
        case.validate_response(response, checks=CHECKS)

    check()
    assert {200, 400, 401, 403, 404} <= seen
