"""Migration operations for what Django has no API for: the runtime and admin roles and their grants,
row-level security, and foreign keys that cascade in the database.

Imported by migrations, so keep these signatures stable.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import migrations

CURRENT_TENANT = "NULLIF(current_setting('app.current_tenant_id', true), '')::uuid"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def runtime_role() -> str:
    role = settings.DATABASE_RUNTIME_ROLE
    if not _ROLE_NAME.match(role):
        raise ValueError(f"DATABASE_RUNTIME_ROLE {role!r} must be a lower-case SQL identifier")
    return role


def tenant_rls(table: str, *, column: str = "tenant_id") -> migrations.RunSQL:
    """ENABLE + FORCE row-level security and the one policy for all commands: with no
    tenant set, nothing is visible and nothing can be written (fail closed). `column`
    holds the row's tenant (`id` for the tenants table itself)."""
    expression = f"{column} = {CURRENT_TENANT}"
    return migrations.RunSQL(
        sql=[
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY tenant_isolation_policy ON {table} FOR ALL USING ({expression}) WITH CHECK ({expression})",
        ],
        reverse_sql=[
            f"DROP POLICY tenant_isolation_policy ON {table}",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ],
    )


def cascading_foreign_key(table: str, name: str, columns: str, target: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) REFERENCES {target} "
        "ON DELETE CASCADE ON UPDATE CASCADE",
        reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT {name}",
    )


def _create_runtime_role(apps: Any, schema_editor: Any) -> None:
    role = runtime_role()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            # Roles are cluster-wide: created once, shared by every database of the cluster
            # (the test databases included), and never dropped by a reverse migration.
            cursor.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
        )
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        # The migration history exists before this runs; the runtime role may read it
        # (readiness checks) but never write it.
        cursor.execute(f"GRANT SELECT ON django_migrations TO {role}")


def _revoke_runtime_role(apps: Any, schema_editor: Any) -> None:
    role = runtime_role()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {role}"
        )
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {role}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        cursor.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")


def runtime_role_and_grants() -> migrations.RunPython:
    """Create the runtime role if it does not exist and let it use (only) the tables the
    owner creates from now on: DML, never DDL, TRUNCATE or ownership."""
    return migrations.RunPython(_create_runtime_role, _revoke_runtime_role)


def runtime_function(create_sql: str, signature: str) -> migrations.RunPython:
    """Create a function that only the owner and the runtime role may execute (not
    PUBLIC, PostgreSQL's default); the reverse drops it. `signature` is `name(arg types)`."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(create_sql)
            cursor.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {runtime_role()}")

    def backwards(apps: Any, schema_editor: Any) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP FUNCTION {signature}")

    return migrations.RunPython(forwards, backwards)


def operator_role() -> str | None:
    role = settings.DATABASE_OPERATOR_ROLE
    if not role:
        return None
    if not _ROLE_NAME.match(role):
        raise ValueError(f"DATABASE_OPERATOR_ROLE {role!r} must be a lower-case SQL identifier")
    return role


def operator_grants(*, select: dict[str, list[str] | None], update: dict[str, list[str]]) -> migrations.RunPython:
    """Let the operators' role (BYPASSRLS, created by a superuser: see scripts/bootstrap_db.sql)
    read `select` (table -> columns, None for all) and update only the `update` columns.
    Nothing else: no insert, no delete, no default privileges on future tables. Columns a
    table does not list (the encrypted tokens) cannot even be read. The role must exist;
    with DATABASE_OPERATOR_ROLE empty nothing is granted."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        role = operator_role()
        if role is None:
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            row = cursor.fetchone()
            if row is None:
                raise RuntimeError(
                    f"The operator role {role!r} does not exist. Create it as a superuser (`make db` does: "
                    f"CREATE ROLE {role} LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE), "
                    "or set DATABASE_OPERATOR_ROLE to an empty value to run without the admin."
                )
            if row[0]:
                raise RuntimeError(f"The operator role {role!r} must not be a superuser.")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            for table, columns in select.items():
                what = f"SELECT ({', '.join(columns)})" if columns else "SELECT"
                cursor.execute(f"GRANT {what} ON {table} TO {role}")
            for table, columns in update.items():
                cursor.execute(f"GRANT UPDATE ({', '.join(columns)}) ON {table} TO {role}")

    def backwards(apps: Any, schema_editor: Any) -> None:
        role = operator_role()
        if role is None:
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                return
            for table in {*select, *update}:
                cursor.execute(f"REVOKE ALL ON {table} FROM {role}")

    return migrations.RunPython(forwards, backwards)


def admin_role() -> str:
    role = settings.DATABASE_ADMIN_ROLE
    if not _ROLE_NAME.match(role):
        raise ValueError(f"DATABASE_ADMIN_ROLE {role!r} must be a lower-case SQL identifier")
    return role


_OWNED_SEQUENCES = """
SELECT s.relname FROM pg_class s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
WHERE s.relkind = 'S' AND t.relname = ANY(%s)
"""


def hand_over(cursor: Any, tables: list[str], *, taken_from: str, given_to: str) -> None:
    """Move DML on `tables` and their sequences from one role to another (every privilege
    of the first on them is revoked)."""
    cursor.execute(_OWNED_SEQUENCES, [tables])
    sequences = [name for (name,) in cursor.fetchall()]
    for table in tables:
        cursor.execute(f"REVOKE ALL ON {table} FROM {taken_from}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {given_to}")
    for sequence in sequences:
        cursor.execute(f"REVOKE ALL ON SEQUENCE {sequence} FROM {taken_from}")
        cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {given_to}")


def admin_accounts_tables(app_labels: list[str]) -> migrations.RunPython:
    """Hand the tables of `app_labels` (every model, many-to-many tables included, as the
    migration state has them) to the admin's role: create it if it does not exist (LOGIN,
    nothing else: no BYPASSRLS, which it does not need, as it reads no tenant table), grant
    it DML on those tables and their sequences, and take every privilege on them from the
    runtime role, which its default privileges had granted. Run again (a later migration
    listing the same apps) for tables those apps add: the runtime role gets DML on every new
    table by default (tests/security/test_least_privilege.py fails until that is done)."""

    def tables(apps: Any) -> list[str]:
        return sorted(
            {
                model._meta.db_table
                for label in app_labels
                for model in apps.get_app_config(label).get_models(include_auto_created=True)
            }
        )

    def forwards(apps: Any, schema_editor: Any) -> None:
        role, runtime = admin_role(), runtime_role()
        if role in (runtime, operator_role()):
            raise RuntimeError(
                f"DATABASE_ADMIN_ROLE {role!r} must be a role of its own, neither the runtime role nor the operators'."
            )
        names = tables(apps)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            row = cursor.fetchone()
            if row is None:
                # Cluster-wide, like the runtime role: created once, never dropped by a reverse.
                cursor.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT")
            elif row[0]:
                raise RuntimeError(f"The admin role {role!r} must not be a superuser.")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            hand_over(cursor, names, taken_from=runtime, given_to=role)

    def backwards(apps: Any, schema_editor: Any) -> None:
        role, runtime = admin_role(), runtime_role()
        names = tables(apps)
        with schema_editor.connection.cursor() as cursor:
            hand_over(cursor, names, taken_from=role, given_to=runtime)
            cursor.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")

    return migrations.RunPython(forwards, backwards)
