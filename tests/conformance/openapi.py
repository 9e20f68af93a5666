"""Hold requests and answers to a platform's published OpenAPI document.

The documents are vendored under `tests/fixtures/specs/` (each with a SOURCE note: where
it came from, its version and licence). Two checks, both raising `SpecViolation` with
every problem found:

- `check_request`: the operation exists for the method and path; every query parameter
  sent is one the operation declares (`created[gte]` is the `gte` property of the
  deepObject parameter `created`; `expand[]` the array `expand`), its value fits the
  parameter's schema, and no required parameter is missing.
- `check_response`: the body validates against the operation's response schema for the
  status (or `default`), with OpenAPI 3.0's dialect (`nullable`, …) through
  openapi-schema-validator, `$ref`s resolved inside the document.

Query values arrive as strings; each is read as the type its schema asks for (an
integer schema accepts "1714600000", a boolean "true"), the way the platform parses them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator, OAS31Validator

SPECS = Path(__file__).resolve().parents[1] / "fixtures" / "specs"
_DEEP = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


class SpecViolation(AssertionError):
    """A request or answer that leaves the platform's published specification."""


@functools.cache
def load(name: str) -> OpenApiDocument:
    """A vendored document by file name (`stripe.json`), parsed once per process."""
    return OpenApiDocument(json.loads((SPECS / name).read_text()), name=name)


class OpenApiDocument:
    def __init__(self, document: Mapping[str, Any], *, name: str = "spec") -> None:
        self.document = document
        self.name = name
        version = str(document.get("openapi", "3.0"))
        self._validator_class = OAS31Validator if version.startswith("3.1") else OAS30Validator
        self._paths = [(_template(path), path) for path in document.get("paths", {})]

    # --- lookup ---------------------------------------------------------------------------
    def operation(self, method: str, url: str) -> dict[str, Any]:
        path = urlsplit(url).path
        for pattern, template in self._paths:
            if pattern.fullmatch(path):
                operations = self.document["paths"][template]
                operation = operations.get(method.lower())
                if operation is None:
                    raise SpecViolation(f"{self.name}: {method.upper()} {template} is not an operation")
                shared = operations.get("parameters", [])
                return {**operation, "parameters": [*shared, *operation.get("parameters", [])]}
        raise SpecViolation(f"{self.name}: no path matches {path}")

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = self._pointer(node["$ref"])
        return node

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecViolation(f"{self.name}: external reference {ref} is not vendored")
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    # --- requests -------------------------------------------------------------------------
    def check_request(self, method: str, url: str, *, params: Iterable[tuple[str, str]] | None = None) -> None:
        """`params`: the query as sent; by default the URL's own query string."""
        operation = self.operation(method, url)
        sent = list(params) if params is not None else parse_qsl(urlsplit(url).query, keep_blank_values=True)
        declared = {p["name"]: p for p in (self._resolve(p) for p in operation["parameters"]) if p.get("in") == "query"}
        problems: list[str] = []
        seen: set[str] = set()
        for key, value in sent:
            name, member = _split(key)
            parameter = declared.get(name)
            if parameter is None:
                problems.append(f"query parameter {key!r} is not declared")
                continue
            seen.add(name)
            schema = self._resolve(parameter.get("schema", {}))
            if member is not None and member != "":
                schema = self._member(schema, member)
                if schema is None:
                    problems.append(f"query parameter {key!r}: {name} has no member {member!r}")
                    continue
            elif member == "" or _is_array(self._resolve(schema)):
                schema = self._resolve(schema).get("items", {})
            problems.extend(f"query parameter {key!r}: {p}" for p in self._errors(_typed(value, schema, self), schema))
        for name, parameter in declared.items():
            if parameter.get("required") and name not in seen:
                problems.append(f"required query parameter {name!r} is missing")
        if problems:
            raise SpecViolation(f"{self.name}: {method.upper()} {urlsplit(url).path}: " + "; ".join(problems))

    def _member(self, schema: Any, member: str) -> Any:
        """The schema of `name[member]`: a property of the object form, through anyOf/oneOf."""
        schema = self._resolve(schema)
        for option in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
            option = self._resolve(option)
            properties = option.get("properties", {})
            if member in properties:
                return properties[member]
        return None

    # --- responses ------------------------------------------------------------------------
    def check_response(self, method: str, url: str, status: int, body: Any) -> None:
        operation = self.operation(method, url)
        responses = operation.get("responses", {})
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if response is None:
            raise SpecViolation(f"{self.name}: {method.upper()} {urlsplit(url).path} declares no {status} answer")
        response = self._resolve(response)
        content = response.get("content", {})
        schema = (content.get("application/json") or next(iter(content.values()), {})).get("schema")
        if schema is None:
            raise SpecViolation(f"{self.name}: the {status} answer of {urlsplit(url).path} has no schema")
        problems = self._errors(body, schema)
        if problems:
            raise SpecViolation(
                f"{self.name}: {method.upper()} {urlsplit(url).path} {status} answer: " + "; ".join(problems)
            )

    def _errors(self, instance: Any, schema: Any) -> list[str]:
        root = dict(schema) if isinstance(schema, dict) else {}
        validator = self._validator_class({**root, "components": self.document.get("components", {})})
        errors = list(validator.iter_errors(instance))
        if not errors:
            return []
        worst = best_match(errors)
        where = "/".join(str(p) for p in worst.absolute_path) or "(root)"
        return [f"{where}: {worst.message[:300]}"] + ([f"and {len(errors) - 1} more"] if len(errors) > 1 else [])


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


def _split(key: str) -> tuple[str, str | None]:
    match = _DEEP.match(key)
    return (match.group(1), match.group(2)) if match else (key, None)


def _is_array(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "array"


def _typed(value: str, schema: Any, document: OpenApiDocument) -> Any:
    """A query string value read as the type its schema asks for (the first that fits)."""
    schema = document._resolve(schema)
    options = [document._resolve(o) for o in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]]
    for option in options:
        kind = option.get("type")
        if kind == "integer" and re.fullmatch(r"-?\d+", value):
            return int(value)
        if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
            return float(value)
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
    return value
