"""The generated OpenAPI schema documents every route of the API, and a property-based
run (schemathesis) of the connections operations against a live server whose platforms
are the local simulator: no undocumented status, no 500, every response conforming to
the schema (status, content type, headers, body)."""

from __future__ import annotations

import re
import uuid

import pytest
import schemathesis
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.oauth_support import point_at
from tests.api.test_openapi import CHECKS
from tests.factories import make_connection, make_tenant

OPERATIONS = {
    ("/api/v1/connections", "get"): "listConnections",
    ("/api/v1/connections", "post"): "createConnection",
    ("/api/v1/connections/{connection_id}", "delete"): "disconnectConnection",
    ("/api/v1/connections/oauth/{platform}/start", "post"): "startOAuthConnection",
    ("/api/v1/connections/oauth/{platform}/confirm", "post"): "confirmOAuthConnection",
    ("/api/v1/connections/oauth/{platform}/callback", "get"): "completeOAuthConnection",
}


def _api_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every URL pattern under /api/ (but the schema's own), in OpenAPI's {param} form."""
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _api_routes(entry.url_patterns, route)
        elif (
            isinstance(entry, URLPattern)
            and route.startswith("api/")
            and not route.startswith(("api/schema", "api/docs"))
        ):
            found.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return found


@pytest.mark.django_db
def test_the_schema_documents_every_api_route(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    routes = _api_routes()
    assert {path for path, _ in OPERATIONS} <= set(routes)
    assert set(routes) <= set(schema["paths"]), set(routes) - set(schema["paths"])
    for (path, method), operation_id in OPERATIONS.items():
        operation = schema["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["Connections"]
        assert {"400", "404", "500"} <= set(operation["responses"])
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], (path, method, status)
            assert "X-Correlation-ID" in response.get("headers", {}), (path, method, status)
        if method == "get" and path.endswith("/callback"):
            assert "security" not in operation and "security" not in schema  # a browser redirect: no bearer token
            assert {"200", "302", "400", "502", "503"} <= set(operation["responses"])
        else:
            assert operation["security"] == [{"bearerAuth": []}]
            assert {"401", "403"} <= set(operation["responses"])
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
            assert next(p for p in operation["parameters"] if p["name"] == "X-Correlation-ID")["required"] is True
    create = schema["paths"]["/api/v1/connections"]["post"]
    assert {"200", "201", "422", "502"} <= set(create["responses"])
    keys = schema["components"]["schemas"]["ConnectionKeysRequest"]
    assert keys["discriminator"]["propertyName"] == "platform"
    assert set(keys["discriminator"]["mapping"]) == {"stripe", "paypal", "woocommerce"}
    start = schema["paths"]["/api/v1/connections/oauth/{platform}/start"]["post"]
    platform = next(p for p in start["parameters"] if p["name"] == "platform")
    assert platform["schema"]["enum"] == ["google_ads", "meta_ads", "shopify", "stripe"]
    connection = schema["components"]["schemas"]["Connection"]["properties"]
    assert not {"access_token", "refresh_token", "api_key", "client_secret"} & set(connection)


def test_the_live_connections_api_conforms_to_its_schema(live_url, mint, sandbox, settings):
    point_at(sandbox, settings)
    tenant = make_tenant("schemathesis-connections")
    make_connection(tenant, "stripe", "acct_schema_conn", access_token="sk_test_schema_conn")
    schema = schemathesis.openapi.from_url(f"{live_url}/api/schema/?format=json")
    tokens = [
        mint(tenant.id, scopes=["manager"]),
        mint(tenant.id, scopes=["viewer"]),
        mint(uuid.uuid4(), scopes=["viewer", "manager"]),  # a tenant that does not exist
        "not-a-jwt",
        None,
    ]
    strategies = [
        schema[path][method.upper()].as_strategy(generation_mode=mode)
        for path, method in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    seen: set[int] = set()

    @hypothesis_settings(
        max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=st.one_of(strategies), token=st.sampled_from(tokens))
    def check(case, token):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if token is not None:
            case.headers["Authorization"] = f"Bearer {token}"
        # A fresh connection per call: keep-alive to Django's test server costs ~60 ms a request.
        response = case.call(base_url=live_url, allow_redirects=False)
        seen.add(response.status_code)
        assert response.status_code != 500, response.text
        case.validate_response(response, checks=CHECKS)

    check()
    assert {200, 201, 400, 401, 403, 404} <= seen
