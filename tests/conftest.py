"""Test database wiring.

The suite runs against real PostgreSQL with two roles, as production does: the
application's `default` connection is the RLS-bound runtime role, and only `migrate`
runs as the schema owner. pytest-django's own database setup would create and migrate
the test database through `default`, making the runtime role the owner of every table
(and RLS moot), so it is replaced here: the owner creates the database once (reused
across runs unless --create-db) and migrates it; each xdist worker gets its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import responses
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from providers.sandbox import Sandbox
from revenue import clock
from tests.stubs import Clock, Platforms


def _test_database_name(config: pytest.Config) -> str:
    worker = getattr(config, "workerinput", {}).get("workerid")
    base = f"test_{settings.DATABASES['owner']['NAME']}"
    return f"{base}_{worker}" if worker else base


@pytest.fixture(scope="session")
def django_db_setup(request: pytest.FixtureRequest, django_test_environment: None, django_db_blocker) -> Iterator[None]:
    name = _test_database_name(request.config)
    for alias in settings.DATABASES:
        settings.DATABASES[alias]["NAME"] = name
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name
    with django_db_blocker.unblock():
        with connections["owner"].creation._nodb_cursor() as cursor:
            if request.config.getvalue("create_db"):
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
        call_command("migrate", database="owner", verbosity=0, interactive=False)
        connections["owner"].close()
    yield


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker) -> Iterator[None]:
    """Database access without the per-test transaction, for tests that need real
    commits (several connections, threads, processes). Every tenant (and through
    ON DELETE CASCADE everything of theirs) is removed afterwards, by the owner."""
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            connections.close_all()
            with connections["owner"].cursor() as cursor:
                cursor.execute("TRUNCATE tenants CASCADE")
            connections["owner"].close()


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    """The platforms' endpoints, answered by stubs (see tests.stubs)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield Platforms(rsps)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The revenue engine's clock, stopped now; tests move it with `.advance(seconds)`."""
    fake = Clock(datetime.now(timezone.utc).replace(microsecond=0))
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The local platform simulator (one per test process), reset around every test."""
    _sandbox_server.reset()
    yield _sandbox_server
    _sandbox_server.reset()
