"""The spec checker itself: it accepts what a document allows and names what it does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance.openapi import OpenApiDocument, SpecViolation

DOCUMENT = {
    "openapi": "3.0.0",
    "paths": {
        "/v1/things/{thing}": {
            "get": {
                "parameters": [
                    {"name": "thing", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                    {
                        "name": "created",
                        "in": "query",
                        "style": "deepObject",
                        "schema": {
                            "anyOf": [
                                {"type": "object", "properties": {"gte": {"type": "integer"}}},
                                {"type": "integer"},
                            ]
                        },
                    },
                    {"name": "expand", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "status", "in": "query", "required": True, "schema": {"$ref": "#/components/schemas/st"}},
                ],
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/thing"}}}},
                    "default": {"content": {"application/json": {"schema": {"type": "object"}}}},
                },
            }
        }
    },
    "components": {
        "schemas": {
            "st": {"type": "string", "enum": ["open", "closed"]},
            "thing": {
                "type": "object",
                "required": ["id", "amount"],
                "properties": {
                    "id": {"type": "string"},
                    "amount": {"type": "integer"},
                    "note": {"type": "string", "nullable": True},
                },
            },
        }
    },
}
URL = "https://api.example.com/v1/things/th_1"


@pytest.fixture
def spec() -> OpenApiDocument:
    return OpenApiDocument(DOCUMENT, name="example")


def test_a_request_within_the_spec_passes(spec: OpenApiDocument) -> None:
    spec.check_request("GET", f"{URL}?limit=100&created[gte]=1714600000&expand[]=a&status=open")
    spec.check_request("GET", URL, params=[("created", "5"), ("status", "closed")])


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=open&limit=101", "'limit'"),
        ("status=open&limit=ten", "'limit'"),
        ("status=open&created[lte]=5", "no member 'lte'"),
        ("status=open&starting_before=x", "'starting_before' is not declared"),
        ("status=pending", "'status'"),
        ("limit=1", "required query parameter 'status' is missing"),
    ],
)
def test_a_request_outside_the_spec_is_named(spec: OpenApiDocument, query: str, named: str) -> None:
    with pytest.raises(SpecViolation, match=named):
        spec.check_request("GET", f"{URL}?{query}")


def test_an_unknown_path_or_method_is_a_violation(spec: OpenApiDocument) -> None:
    with pytest.raises(SpecViolation, match="no path matches"):
        spec.check_request("GET", "https://api.example.com/v1/other")
    with pytest.raises(SpecViolation, match="is not an operation"):
        spec.check_request("POST", URL)


def test_an_answer_is_validated_with_openapi_3_0_nullable(spec: OpenApiDocument) -> None:
    spec.check_response("GET", URL, 200, {"id": "th_1", "amount": 5, "note": None})
    spec.check_response("GET", URL, 404, {"error": "x"})  # the default answer
    with pytest.raises(SpecViolation, match="amount"):
        spec.check_response("GET", URL, 200, {"id": "th_1", "amount": "5"})
    with pytest.raises(SpecViolation, match="'amount' is a required property"):
        spec.check_response("GET", URL, 200, {"id": "th_1"})


def test_the_vendoring_script_keeps_the_operations_and_what_they_reach(tmp_path) -> None:
    source, target = tmp_path / "in.json", tmp_path / "out.json"
    document = {**DOCUMENT, "paths": {**DOCUMENT["paths"], "/v1/other": {"get": {"responses": {}}}}}
    document["components"] = {"schemas": {**DOCUMENT["components"]["schemas"], "unused": {"type": "string"}}}
    source.write_text(json.dumps(document))
    script = Path(__file__).resolve().parents[2] / "scripts" / "vendor_openapi_subset.py"
    subprocess.run([sys.executable, str(script), str(source), str(target), "GET /v1/things/{thing}"], check=True)
    vendored = json.loads(target.read_text())
    assert list(vendored["paths"]) == ["/v1/things/{thing}"]
    assert sorted(vendored["components"]["schemas"]) == ["st", "thing"]
    OpenApiDocument(vendored).check_response("GET", URL, 200, {"id": "th_1", "amount": 5})
