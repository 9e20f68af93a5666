"""Load-balancer probes: /healthz answers while the process runs; /readyz answers 503
with a problem body when the database does not answer the runtime role or migrations
are pending."""

from __future__ import annotations

import socket

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.test import Client


def test_healthz_needs_nothing():
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_answers_and_every_migration_is_applied():
    response = Client().get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


@pytest.fixture
def database_unreachable(django_db_blocker, monkeypatch):
    """The default alias pointed at a closed port on this machine."""
    default = connections["default"]
    with django_db_blocker.unblock():
        default.close()
        monkeypatch.setitem(default.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(default.settings_dict, "PORT", str(_closed_port()))
        try:
            yield
        finally:
            default.close()
            monkeypatch.undo()


def test_readyz_answers_503_with_a_problem_when_the_database_is_unreachable(database_unreachable):
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert (body["status"], body["code"]) == (503, "database_unreachable")
    assert body["correlation_id"] == response["X-Correlation-ID"]
    assert Client().get("/healthz").status_code == 200  # alive, just not ready


@pytest.mark.django_db
def test_readyz_answers_503_while_migrations_are_pending(monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("a migration", False)])
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "migrations_pending"
    assert response.json()["detail"] == "1 database migrations are not applied yet."
