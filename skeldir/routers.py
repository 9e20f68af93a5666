"""Migrations run as the schema owner, never as the runtime role."""

from typing import Any


class MigrationsAsOwnerRouter:
    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == "owner"
