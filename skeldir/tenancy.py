"""Tenant scope: the only way code reads or writes tenant-owned rows.

`tenant_context` opens a transaction and sets `app.current_tenant_id` with
`set_config(..., true)`, i.e. transaction-local: when the transaction ends the setting
is gone, so a persistent connection can never carry one tenant into the next request.
Row-level security does the rest (DESIGN.md §4). The refresh's read and writes are SQL
functions that do the same inside their one statement (revenue/migrations/0003).

The tenants table is under the same policy (skeldir/migrations/0002): a tenant is read and
created inside its own context, and the one way to list tenants across the board is
`tenant_ids_iter` (ids only, through the narrow function `tenant_ids_list`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
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


def tenant_create(
    *, name: str, reporting_currency: str = "USD", timezone: str = "UTC", tenant_id: uuid.UUID | None = None
) -> Tenant:
    """Create a tenant (a new random id unless `tenant_id` is given), inside its own tenant
    context: the runtime role may insert a tenant only as the current one."""
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
    tenant_id = tenant_id or uuid.uuid4()
    with tenant_context(tenant_id):
        return Tenant.objects.create(id=tenant_id, name=name, reporting_currency=currency, timezone=timezone)


def tenant_get(tenant_id: uuid.UUID | str) -> Tenant:
    tenant_id = parse_tenant_id(tenant_id)
    with tenant_context(tenant_id):
        try:
            return Tenant.objects.get(id=tenant_id)
        except Tenant.DoesNotExist:
            raise InvalidTenant(f"no tenant with id {tenant_id}") from None


def tenant_exists(tenant_id: uuid.UUID) -> bool:
    with tenant_context(tenant_id):
        return Tenant.objects.filter(id=tenant_id).exists()


def tenant_ids_iter(
    *, shard: tuple[int, int] | None = None, only: Iterable[uuid.UUID] | None = None
) -> Iterator[uuid.UUID]:
    """Every tenant's id in a stable order, streamed (memory does not grow with the tenant
    count), for the cycles that walk all tenants (the cron, the key rotation). `shard=(k, n)`
    keeps the ids in shard k of n (k counted from 1, `tenant_shard`), chosen by the
    database: each of several processes reads only its own share. `only` keeps those ids.

    Row-level security hides every tenant but the current one, so the list comes from the
    narrow function `tenant_ids_list` (skeldir/migrations/0002): ids, nothing else."""
    sql = "SELECT id FROM tenant_ids_list(%s::integer, %s::integer) AS t(id)"
    params: list[object] = [shard[0], shard[1]] if shard else [None, None]
    if only is not None:
        sql += " WHERE id = ANY(%s::uuid[])"
        params.append(list(only))
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql + " ORDER BY id", params)
        while rows := cursor.fetchmany(2000):
            yield from (row[0] for row in rows)


def tenant_shard(tenant_id: uuid.UUID, shards: int) -> int:
    """The shard (1..shards) of a tenant: the last 32 bits of its id (random in a version 4
    UUID) modulo the shard count, as `tenant_ids_list` computes it (a test holds them together)."""
    return (tenant_id.int & 0xFFFF_FFFF) % shards + 1
