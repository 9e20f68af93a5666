"""Where each model's queries go: the admin's accounts to their own alias; migrations run
as the schema owner, never as the runtime role."""

from typing import Any

ADMIN_DB = "admin"


class AdminAccountsRouter:
    """Django's users, groups and permissions (and the content types they name), the admin's
    sessions and history, and django-axes' login records are read and written through the
    `admin` alias, as a role that may touch nothing else. The runtime role, which serves the
    API and the refresher (bearer tokens, never a session), has no privilege on these
    tables: an SQL-level foothold in it can neither read a password hash nor forge a staff
    session. An object already read from an alias is written back there (a migration's,
    as the owner). Every other model is left to the next router (None: the `default` alias)."""

    app_labels = frozenset({"auth", "contenttypes", "sessions", "admin", "axes"})

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if model._meta.app_label not in self.app_labels:  # type: ignore[attr-defined]
            return None
        instance = hints.get("instance")
        return getattr(getattr(instance, "_state", None), "db", None) or ADMIN_DB

    db_for_write = db_for_read


class MigrationsAsOwnerRouter:
    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == "owner"
