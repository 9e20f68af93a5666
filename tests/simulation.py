"""The service running against the local platform simulator: adapters pointed at it, and
a live HTTP server of the service for tests that need real HTTP."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.test.testcases import LiveServerThread, _StaticFilesHandler


def point_providers_at(sandbox: Any, settings: Any) -> Any:
    """Every revenue adapter (and Google's token endpoint) at the simulator."""
    providers = copy.deepcopy(settings.REVENUE_PROVIDERS)
    for conf in providers.values():
        conf["OPTIONS"]["base_url"] = sandbox.url
    providers["google_ads"]["OPTIONS"]["token_url"] = f"{sandbox.url}/token"
    settings.REVENUE_PROVIDERS = providers
    return sandbox


@pytest.fixture
def simulated_platforms(sandbox: Any, settings: Any) -> Any:
    return point_providers_at(sandbox, settings)


@pytest.fixture(scope="session")
def _live_server() -> Iterator[str]:
    """One live server per test process (starting and stopping one costs half a second);
    it keeps no state between tests."""
    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    thread.join()


@pytest.fixture
def live_url(committed_db: None, _live_server: str) -> str:
    """The base URL of the service over real HTTP (its data committed, see committed_db)."""
    return _live_server
