"""Tenant scope: the only way code reads or writes tenant-owned rows.

`tenant_context` opens a transaction and sets `app.current_tenant_id` with
`set_config(..., true)`, i.e. transaction-local: when the transaction ends the setting
is gone, so a persistent connection can never carry one tenant into the next request.
Row-level security does the rest (DESIGN.md §4). The refresh's read and writes are SQL
functions that do the same inside their one statement (revenue/migrations/0003).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from iso4217 import Currency

from skeldir.models import Tenant

TENANT_SETTING = "app.current_tenant_id"


class InvalidTenant(ValueError):
    pass


def parse_tenant_id(value: object) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise InvalidTenant(f"{value!r} is not a tenant id (a UUID)") from None


@contextmanager
def tenant_context(tenant_id: uuid.UUID | str, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block in a transaction scoped to one tenant.

    Nested inside another transaction (tests, or a caller's atomic block) the setting
    would outlive the block, so the previous value is restored on a clean exit; on an
    exception the savepoint rollback already undoes it.
    """
    tenant = str(parse_tenant_id(tenant_id))
    connection = connections[using]
    nested = connection.in_atomic_block
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if nested:
                cursor.execute("SELECT current_setting(%s, true)", [TENANT_SETTING])
                previous = cursor.fetchone()[0] or ""
            cursor.execute("SELECT set_config(%s, %s, true)", [TENANT_SETTING, tenant])
        yield
        if nested:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, %s, true)", [TENANT_SETTING, previous])


def savepoint_if_nested(using: str = DEFAULT_DB_ALIAS) -> contextlib.AbstractContextManager[object]:
    """For a statement that sets the tenant itself: outside a transaction it is its own
    (autocommit), and a failure leaves nothing to undo; inside a caller's transaction, a
    savepoint keeps that transaction usable after a failure."""
    return transaction.atomic(using=using) if connections[using].in_atomic_block else contextlib.nullcontext()


def tenant_create(*, name: str, reporting_currency: str = "USD", timezone: str = "UTC") -> Tenant:
    name = name.strip()
    if not name:
        raise InvalidTenant("a tenant needs a non-empty name")
    currency = reporting_currency.strip().upper()
    try:
        if Currency(currency).exponent is None:
            raise ValueError
    except ValueError:
        raise InvalidTenant(f"{reporting_currency!r} is not an ISO 4217 currency code") from None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTenant(f"{timezone!r} is not an IANA time zone") from None
    return Tenant.objects.create(name=name, reporting_currency=currency, timezone=timezone)


def tenant_get(tenant_id: uuid.UUID | str) -> Tenant:
    try:
        return Tenant.objects.get(id=parse_tenant_id(tenant_id))
    except Tenant.DoesNotExist:
        raise InvalidTenant(f"no tenant with id {tenant_id}") from None
