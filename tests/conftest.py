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
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from providers.sandbox import Sandbox
from revenue import clock
from tests.secret_scan import ResponseScan, SecretScanHandler, fixture_secrets
from tests.simulation import _live_server, live_url, simulated_platforms  # noqa: F401 (fixtures)
from tests.stubs import Clock, Platforms

# What this process's secret scans searched: {"log records": n, "responses": m}, summed
# over the xdist workers by the controller for the terminal summary.
SCANNED = pytest.StashKey[dict]()


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
    fake = Clock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def settled_day(frozen_clock: Clock, sandbox: Sandbox) -> datetime:
    """The revenue engine's clock and the simulator's, both stopped at the latest 18:00 UTC
    already past: "today so far" then holds most of a simulated day's orders whatever the
    hour the suite runs (just after midnight, a day has none yet)."""
    now = datetime.now(UTC)
    moment = now.replace(hour=18, minute=0, second=0, microsecond=0)
    if moment > now:
        moment -= timedelta(days=1)
    frozen_clock.current = moment
    sandbox.set_now(moment)
    return moment


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


@pytest.fixture(autouse=True)
def _forget_process_memos() -> Iterator[None]:
    """Each test starts with empty per-process memos (fresh snapshots, verified tokens)."""
    from revenue.realtime import _fresh_entries
    from revenue.views import _snapshots, _v1_bodies
    from skeldir.auth import _verified_tokens

    for memo in (_fresh_entries, _snapshots, _v1_bodies, _verified_tokens):
        memo.clear()
    yield


def _scanned(config: pytest.Config) -> dict:
    return config.stash.setdefault(SCANNED, {"log records": 0, "responses": 0})


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log(pytestconfig: pytest.Config) -> Iterator[SecretScanHandler]:
    """Every log record of the session (as logged, and as the production pipeline writes
    it) is searched for the suite's tokens and keys at the end; a find fails the session
    (as an error in the teardown of the last test)."""
    import logging

    handler = SecretScanHandler()
    root = logging.getLogger()
    root.handlers.insert(0, handler)
    yield handler
    root.removeHandler(handler)
    _scanned(pytestconfig)["log records"] += len(handler.raw)
    leaks = handler.leaks(fixture_secrets())
    if leaks:
        pytest.fail("fixture secrets found in log output:\n" + "\n".join(leaks[:20]), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_response(pytestconfig: pytest.Config) -> Iterator[ResponseScan]:
    """Every response the service gives in this process (API, admin, live server) is
    searched as it leaves for the suite's secrets, a private key or a JWT; a find fails the
    session, naming the test and the request."""
    from django.core.handlers.base import BaseHandler

    scan = ResponseScan(fixture_secrets())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseHandler, "get_response", scan.wrap(BaseHandler.get_response))
        yield scan
    _scanned(pytestconfig)["responses"] += scan.scanned
    if scan.leaks:
        pytest.fail("secrets found in responses:\n" + "\n".join(scan.leaks[:20]), pytrace=False)


@pytest.fixture
def staff_user(committed_db: None) -> Iterator[object]:
    """A staff superuser for the operators' admin (committed: the admin reads through its
    own connection, the operator alias, which sees only committed rows)."""
    import uuid

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=f"operator-{uuid.uuid4().hex[:8]}",
        password="operator-password-for-tests",
        is_staff=True,
        is_superuser=True,
    )
    yield user
    user.delete()  # and its admin log entries


@pytest.fixture
def staff_client(staff_user: object) -> object:
    from django.test import Client

    client = Client()
    client.force_login(staff_user)
    return client


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand the counts to the controller
        session.config.workeroutput["scanned"] = _scanned(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001, ARG001 - xdist's hook
    for kind, count in node.workeroutput.get("scanned", {}).items():
        _scanned(node.config)[kind] += count


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ARG001
    """The resilience suite's fault matrix, counted (it reports on every run, workers
    included), and what the secret scans searched."""
    passed = [r for r in terminalreporter.stats.get("passed", []) if "test_fault_matrix.py" in r.nodeid]
    failed = [r for r in terminalreporter.stats.get("failed", []) if "test_fault_matrix.py" in r.nodeid]
    if passed or failed:
        terminalreporter.write_line(
            f"fault matrix: {len(passed)} of {len(passed) + len(failed)} platform x fault cases passed"
        )
    scanned = _scanned(config)
    if any(scanned.values()):
        terminalreporter.write_line(
            f"secret scan: {scanned['responses']} responses and {scanned['log records']} log records searched"
        )
