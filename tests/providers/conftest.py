"""Fixtures for the provider tests. `sandbox`: one local platform simulator per test
module, reset to its initial state around every test (no database needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.sandbox import Sandbox


@pytest.fixture(scope="module")
def _sandbox_server() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    _sandbox_server.reset()
    yield _sandbox_server
    _sandbox_server.reset()
