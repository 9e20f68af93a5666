"""Resilience suite: platforms and the database misbehaving for real (the simulator's
fault switches, a stopped PostgreSQL cluster, killed processes, hostile requests)."""

from __future__ import annotations

import pytest

from tests.jwt_fixtures import *  # noqa: F403


@pytest.fixture
def simulated(simulated_platforms, settings):
    """Every adapter pointed at the local simulator, with short timeouts and one retry so
    a fault case costs well under a second."""
    settings.PROVIDER_HTTP = {
        **settings.PROVIDER_HTTP,
        "retries": 1,
        "read_timeout": 0.5,
        "max_response_bytes": 1024 * 1024,
    }
    return simulated_platforms
