"""PostgreSQL advisory locks for singleflight.

The leader holds a *session-level* exclusive lock while it calls the platforms, outside
any transaction; PostgreSQL releases it if the process dies (the connection closes), so
a killed refresher leaves nothing behind. (A refresh takes it inside its read statement,
`revenue_refresh_read`, to save a round trip.) Followers wait for it with a *shared*
transaction-level lock under `lock_timeout`: they are woken by the release itself, all at
once, instead of polling.

A follower's wait is one statement in autocommit (`lock_wait_released`): no transaction
stays open across statements, nothing is left idle in transaction, and the timeout setting
ends with the statement. PostgreSQL cannot wait on a lock without running a statement, so
the waiting follower does use its connection (and that statement's snapshot) until it is
woken or times out: one connection per waiting request thread, bounded by the server's
threads (README, "Connection ceiling").
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from skeldir.tenancy import savepoint_if_nested

logger = logging.getLogger(__name__)


def advisory_key(namespace: str, ident: uuid.UUID | str) -> int:
    """A signed 64-bit key from a namespace and an id (collisions only merge two
    singleflights, never break isolation)."""
    digest = hashlib.sha256(f"{namespace}:{ident}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_try(key: int, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def lock_release(key: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    connection = connections[using]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            released = cursor.fetchone()[0]
    except Exception:
        # The session is unusable; closing it is what releases the lock server-side.
        logger.warning("advisory_unlock_failed", extra={"event": "advisory_unlock_failed"})
        connection.close()
        raise
    if not released:
        logger.warning("advisory_lock_not_held", extra={"event": "advisory_lock_not_held"})


def lock_release_after_failure(key: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """After a statement that may have taken `key` failed (see `refresh_inputs_read`):
    release the lock if this session holds it, or close the session, which releases it
    server-side, when it cannot be used. Never raises: the caller re-raises the failure."""
    connection = connections[using]
    try:
        with connection.cursor() as cursor:
            # False (and a server-side warning) when the failure came before the lock.
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    except Exception:  # noqa: BLE001 - the session is unusable; closing it releases the lock
        connection.close()


# The CASE makes the order certain: the timeout is set before the wait begins (PostgreSQL
# evaluates a CASE's condition before its result), both in the statement's own transaction.
_WAIT_RELEASED_SQL = (
    "SELECT CASE WHEN set_config('lock_timeout', %s, true) IS NOT NULL THEN pg_advisory_xact_lock_shared(%s) END"
)


def lock_wait_released(key: int, timeout: float, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Block until whoever holds `key` exclusively releases it, up to `timeout` seconds.

    Takes and at once drops a shared lock: many waiters share it, so all wake on the
    release. False when the timeout passed first. Outside a transaction this is one
    statement, its own transaction: the lock and the timeout end with it. Inside a caller's
    transaction (tests) it runs in a savepoint and puts the timeout back; the shared lock
    then lasts until that transaction ends.
    """
    connection = connections[using]
    nested = connection.in_atomic_block
    milliseconds = max(1, int(timeout * 1000))
    try:
        with savepoint_if_nested(using), connection.cursor() as cursor:
            cursor.execute(_WAIT_RELEASED_SQL, [f"{milliseconds}ms", key])
            if nested:
                cursor.execute("SELECT set_config('lock_timeout', '0', true)")
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            return False
        raise
    return True
