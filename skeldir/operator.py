"""The operators' cross-tenant path (DESIGN.md §4, §9).

The API and the refresher run as the RLS-bound runtime role (`default`) and see one
tenant at a time. Operators (the Django admin, the scrape-time gauges of /metrics) see
every tenant through a separate database alias, `operator`, connected as a role that
may bypass row-level security (`skeldir_operator`: LOGIN NOSUPERUSER BYPASSRLS, owns
nothing; it may read the tenant tables, never the encrypted token columns, and update
only the columns the admin actions touch — see revenue/migrations/0002).

Nothing reaches that alias by default: no router sends queries there. Code names it
explicitly (`.using(OPERATOR_DB)`), and every statement on it is refused unless it runs
inside `operator_access()` — which only the admin site (for staff users) and the
metrics view open. So a request to the API, or a refresh, that somehow reached for the
alias would fail with `OperatorAccessDenied` instead of silently seeing every tenant.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver

OPERATOR_DB = "operator"

_granted: contextvars.ContextVar[bool] = contextvars.ContextVar("operator_access", default=False)


class OperatorAccessDenied(RuntimeError):
    """A statement on the operator alias outside `operator_access()`."""


@contextmanager
def operator_access() -> Iterator[None]:
    """Allow statements on the operator alias in this block (this thread/context only:
    threads started inside it do not inherit the grant)."""
    token = _granted.set(True)
    try:
        yield
    finally:
        _granted.reset(token)


def operator_access_granted() -> bool:
    return _granted.get()


def _guard(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    if not _granted.get():
        raise OperatorAccessDenied(
            "the operator database alias is only reachable inside operator_access() (the admin site, /metrics)"
        )
    return execute(sql, params, many, context)


@receiver(connection_created)
def _install_guard(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.alias == OPERATOR_DB and _guard not in connection.execute_wrappers:
        # First, so it is the outermost wrapper, and below any `execute_wrapper()` block
        # (which pops the last entry when it ends).
        connection.execute_wrappers.insert(0, _guard)


# Model permissions of the operators' group: read every tenant's rows, act on the three
# kinds the admin actions change (the actions need "change"; no page edits a row).
OPERATOR_GROUP = "operators"
OPERATOR_PERMISSIONS = (
    ("skeldir", "view_tenant"),
    ("revenue", "view_revenuecacheentry"),
    ("revenue", "change_revenuecacheentry"),
    ("connections", "view_platformconnection"),
    ("connections", "change_platformconnection"),
    ("connections", "view_platformcredential"),
    ("connections", "change_platformcredential"),
)


class OperatorUserInvalid(ValueError):
    pass


def operator_user_upsert(*, username: str, password: str) -> Any:
    """Create (or update the password of) a staff user in the operators' group. Not a
    superuser: the group grants what the operations admin needs, nothing more."""
    from django.contrib.auth import get_user_model, password_validation
    from django.contrib.auth.models import Group, Permission
    from django.core.exceptions import ValidationError
    from django.db import router, transaction

    username = username.strip()
    if not username:
        raise OperatorUserInvalid("an operator needs a user name")
    if not password:
        raise OperatorUserInvalid("an operator needs a password")
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first() or user_model(username=username)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise OperatorUserInvalid(" ".join(exc.messages)) from None
    with transaction.atomic(using=router.db_for_write(user_model)):  # the admin's accounts alias
        group, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
        permissions = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in OPERATOR_PERMISSIONS
        ]
        group.permissions.set(permissions)
        user.is_staff, user.is_active = True, True
        user.set_password(password)
        user.save()
        user.groups.add(group)
    return user
