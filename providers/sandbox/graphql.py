"""Just enough GraphQL for the simulated Shopify endpoint.

Parses one query operation into fields (alias, name, arguments, sub-selections),
validates them against a small schema and projects resolved objects onto the selection,
as a real server does: an adapter asking for a field the platform does not have gets the
platform's error, and gets back only what it asked for. Fragments, directives' effects,
mutations and subscriptions are out of scope (directives are skipped).
"""

from __future__ import annotations

import dataclasses
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Any

_TOKEN = re.compile(
    r'''(?P<skip>[\s,\ufeff]+|\#[^\n]*)
      | (?P<spread>\.\.\.)
      | (?P<punct>[!$&():=@\[\]{}|])
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
      | (?P<block>"""(?:[^"\\]|\\.|"(?!""))*""")
      | (?P<string>"(?:[^"\\\n]|\\.)*")''',
    re.VERBOSE,
)
# Leaf types: scalars, and the enums the simulated schema answers (serialised as their names).
SCALARS = {
    "ID",
    "String",
    "Boolean",
    "Int",
    "Float",
    "DateTime",
    "Decimal",
    "URL",
    "UnsignedInt64",
    "CurrencyCode",
    "OrderCancelReason",
    "OrderDisplayFinancialStatus",
    "OrderDisplayFulfillmentStatus",
}


class GraphQLError(Exception):
    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: list[str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line, self.column, self.path, self.extensions = line, column, path, extensions

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message}
        if self.line is not None:
            error["locations"] = [{"line": self.line, "column": self.column}]
        if self.path:
            error["path"] = self.path
        if self.extensions:
            error["extensions"] = self.extensions
        return error


@dataclasses.dataclass(frozen=True)
class Var:
    name: str


@dataclasses.dataclass(frozen=True)
class Enum:
    name: str


@dataclasses.dataclass
class Field:
    name: str
    alias: str | None
    args: dict[str, Any]
    selections: list[Field] | None
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclasses.dataclass(frozen=True)
class _Tok:
    kind: str
    value: str
    line: int
    column: int


def _tokens(source: str) -> list[_Tok]:
    starts = [0] + [m.end() for m in re.finditer("\n", source)]
    tokens, pos = [], 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        line = bisect_right(starts, pos)
        column = pos - starts[line - 1] + 1
        if not match:
            raise GraphQLError(f'Parse error on "{source[pos]}"', line=line, column=column)
        kind = match.lastgroup or ""
        if kind != "skip":
            tokens.append(_Tok(kind, match.group(), line, column))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.i = 0

    def peek(self) -> _Tok:
        if self.i < len(self.tokens):
            return self.tokens[self.i]
        last = self.tokens[-1] if self.tokens else _Tok("eof", "", 1, 1)
        return _Tok("eof", "", last.line, last.column + len(last.value))

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok.kind in ("punct", "spread") and tok.value == value

    def take(self, kind: str, value: str | None = None) -> _Tok:
        tok = self.peek()
        if tok.kind != kind or (value is not None and tok.value != value):
            shown = tok.value or "end of file"
            raise GraphQLError(f'Parse error on "{shown}" ({tok.kind.upper()})', line=tok.line, column=tok.column)
        self.i += 1
        return tok

    def document(self, operation_name: str | None) -> list[Field]:
        operations: list[tuple[str | None, list[Field]]] = []
        while self.peek().kind != "eof":
            tok = self.peek()
            if self.at("{"):
                operations.append((None, self.selection_set()))
            elif tok.kind == "name" and tok.value == "query":
                self.i += 1
                name = self.take("name").value if self.peek().kind == "name" else None
                if self.at("("):
                    self._skip_balanced("(", ")")
                self._skip_directives()
                operations.append((name, self.selection_set()))
            elif tok.kind == "name" and tok.value in ("mutation", "subscription", "fragment"):
                raise GraphQLError(
                    f"The simulator answers queries only ({tok.value} not supported)", line=tok.line, column=tok.column
                )
            else:
                self.take("punct", "{")
        if not operations:
            raise GraphQLError("No operations given")
        if operation_name is not None:
            for name, fields in operations:
                if name == operation_name:
                    return fields
            raise GraphQLError(f'No operation named "{operation_name}"')
        if len(operations) > 1:
            raise GraphQLError("An operation name is required")
        return operations[0][1]

    def selection_set(self) -> list[Field]:
        self.take("punct", "{")
        fields = []
        while not self.at("}"):
            if self.at("..."):
                tok = self.peek()
                raise GraphQLError("Fragments are not supported by the simulator", line=tok.line, column=tok.column)
            fields.append(self.field())
        self.take("punct", "}")
        return fields

    def field(self) -> Field:
        tok = self.take("name")
        alias, name = None, tok.value
        if self.at(":"):
            self.i += 1
            alias, name = name, self.take("name").value
        args = self.arguments() if self.at("(") else {}
        self._skip_directives()
        selections = self.selection_set() if self.at("{") else None
        return Field(name, alias, args, selections, tok.line, tok.column)

    def arguments(self) -> dict[str, Any]:
        self.take("punct", "(")
        args = {}
        while not self.at(")"):
            name = self.take("name").value
            self.take("punct", ":")
            args[name] = self.value()
        self.take("punct", ")")
        return args

    def value(self) -> Any:
        tok = self.peek()
        if self.at("$"):
            self.i += 1
            return Var(self.take("name").value)
        if self.at("["):
            self.i += 1
            items = []
            while not self.at("]"):
                items.append(self.value())
            self.i += 1
            return items
        if self.at("{"):
            self.i += 1
            obj = {}
            while not self.at("}"):
                key = self.take("name").value
                self.take("punct", ":")
                obj[key] = self.value()
            self.i += 1
            return obj
        self.i += 1
        if tok.kind == "number":
            return float(tok.value) if any(c in tok.value for c in ".eE") else int(tok.value)
        if tok.kind == "string":
            return json.loads(tok.value)
        if tok.kind == "block":
            return tok.value[3:-3]
        if tok.kind == "name":
            return {"true": True, "false": False, "null": None}.get(tok.value, Enum(tok.value))
        raise GraphQLError(f'Parse error on "{tok.value}"', line=tok.line, column=tok.column)

    def _skip_directives(self) -> None:
        while self.at("@"):
            self.i += 1
            self.take("name")
            if self.at("("):
                self._skip_balanced("(", ")")

    def _skip_balanced(self, opening: str, closing: str) -> None:
        depth = 0
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                self.take("punct", closing)  # raises the parse error
            self.i += 1
            if tok.kind == "punct" and tok.value == opening:
                depth += 1
            elif tok.kind == "punct" and tok.value == closing:
                depth -= 1
                if depth == 0:
                    return


def parse(source: str, operation_name: str | None = None) -> list[Field]:
    """The root selections of the chosen query operation. Raises GraphQLError."""
    return _Parser(source).document(operation_name)


def resolve(value: Any, variables: dict[str, Any]) -> Any:
    """Argument values with variables substituted and enums as their names."""
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, variables) for k, v in value.items()}
    return value


def validate(
    fields: list[Field], type_name: str, schema: dict[str, dict[str, str]], path: list[str]
) -> list[GraphQLError]:
    """Errors for unknown fields and wrong (missing / superfluous) sub-selections."""
    errors = []
    for field in fields:
        here = [*path, field.key]
        if field.name == "__typename":
            continue
        target = schema[type_name].get(field.name)
        if target is None:
            errors.append(
                GraphQLError(
                    f"Field '{field.name}' doesn't exist on type '{type_name}'",
                    line=field.line,
                    column=field.column,
                    path=here,
                    extensions={"code": "undefinedField", "typeName": type_name, "fieldName": field.name},
                )
            )
            continue
        target = target.strip("[]")
        if target in SCALARS and field.selections is not None:
            errors.append(
                GraphQLError(
                    f"Selections can't be made on scalars (field '{field.name}' returns {target} but has selections)",
                    line=field.line,
                    column=field.column,
                    path=here,
                    extensions={"code": "selectionMismatch", "nodeName": f"field '{field.name}'", "typeName": target},
                )
            )
        elif target not in SCALARS and field.selections is None:
            errors.append(
                GraphQLError(
                    f"Field must have selections (field '{field.name}' returns {target} but has no selections. "
                    f"Did you mean '{field.name} {{ ... }}'?)",
                    line=field.line,
                    column=field.column,
                    path=here,
                    extensions={"code": "selectionMismatch", "nodeName": f"field '{field.name}'", "typeName": target},
                )
            )
        elif field.selections is not None:
            errors.extend(validate(field.selections, target, schema, here))
    return errors


def project(
    value: Any,
    fields: list[Field],
    type_name: str,
    schema: dict[str, dict[str, str]],
    projected: Mapping[str, Callable[[Any, list[Field]], Any]] | None = None,
) -> Any:
    """Keep only the selected fields of a resolved object (or list of them). `projected`
    may name types whose objects the caller projects itself (from a cache, say)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [project(v, fields, type_name, schema, projected) for v in value]
    if projected and type_name in projected:
        return projected[type_name](value, fields)
    out = {}
    for field in fields:
        if field.name == "__typename":
            out[field.key] = type_name
            continue
        child = value.get(field.name)
        target = schema[type_name][field.name].strip("[]")
        out[field.key] = project(child, field.selections, target, schema, projected) if field.selections else child
    return out
