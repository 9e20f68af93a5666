"""A missing or malformed required setting stops startup with one sentence naming it."""

from __future__ import annotations

import importlib
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

import skeldir.settings as project_settings


@pytest.fixture
def reload_settings(monkeypatch):
    def reload(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        importlib.reload(project_settings)

    yield reload
    monkeypatch.undo()
    importlib.reload(project_settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": "", "DJANGO_DEBUG": "false"}, "Set the SECRET_KEY environment variable"),
        ({"CREDENTIAL_ENCRYPTION_KEYS": ""}, "Set the CREDENTIAL_ENCRYPTION_KEYS environment variable"),
        ({"CREDENTIAL_ENCRYPTION_KEYS": "not json"}, "CREDENTIAL_ENCRYPTION_KEYS must be JSON"),
        (
            {"CREDENTIAL_ENCRYPTION_KEYS": json.dumps({"current": "k9", "keys": {"k1": "x" * 20}})},
            "must name its current key among its keys",
        ),
        (
            # Keys are hashed once, not stretched (connections/crypto.py): a short one is refused.
            {"CREDENTIAL_ENCRYPTION_KEYS": json.dumps({"current": "k1", "keys": {"k1": "x" * 31}})},
            "each a random string of 32\\+ characters",
        ),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL must point at PostgreSQL"),
        ({"REVENUE_REFRESH_PROCESSES": "-1"}, "REVENUE_REFRESH_PROCESSES must be 0 \\(one per CPU\\)"),
    ],
)
def test_bad_settings_fail_with_a_sentence_naming_the_variable(reload_settings, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        reload_settings(**env)


def test_debug_runs_without_a_secret_key(reload_settings):
    reload_settings(SECRET_KEY="", DJANGO_DEBUG="true")
    assert project_settings.SECRET_KEY
