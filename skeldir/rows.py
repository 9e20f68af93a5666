"""Model instances from the columns of a plain SQL row (the hot paths' one-statement
reads join several tables, which the ORM would need several queries or a compile for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)


def model_columns(model: type[Model], alias: str) -> str:
    """`alias.column, ...` for every concrete field, in field order."""
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields)


def model_from_row(model: type[M], values: Sequence[Any], *, using: str) -> M:
    """An instance from values in `model_columns` order, converted as the ORM would (a
    jsonb column arrives as text)."""
    fields = model._meta.concrete_fields
    connection = connections[using]
    converted = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(using, [field.attname for field in fields], converted)
