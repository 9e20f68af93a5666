"""Operator commands: create_tenant, connect_platform (success and bad input)."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import CommandError, call_command

from connections.models import PlatformConnection, PlatformCredential
from connections.selectors import credential_get
from skeldir.tenancy import tenant_context, tenant_get, tenant_ids_iter
from tests.factories import make_tenant

TOKEN = "sk_test_COMMAND_token_0123456789"


def run(*args: str, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _counts(tenant_id) -> tuple[int, int]:
    with tenant_context(tenant_id):
        return PlatformConnection.objects.count(), PlatformCredential.objects.count()


@pytest.mark.django_db
def test_create_tenant_prints_its_id_last():
    out, _ = run("create_tenant", "--name", "Acme", "--currency", "jpy", "--timezone", "Asia/Tokyo")
    tenant = tenant_get(uuid.UUID(out.strip().splitlines()[-1]))
    assert (tenant.name, tenant.reporting_currency, tenant.timezone) == ("Acme", "JPY", "Asia/Tokyo")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "A", "--currency", "ZZZ"], "'ZZZ' is not an ISO 4217 currency code"),
        (["--name", "A", "--timezone", "Mars/Base"], "'Mars/Base' is not an IANA time zone"),
        (["--name", "  "], "A tenant needs a non-empty name"),
    ],
)
def test_create_tenant_refuses_bad_input_with_exit_code_2(args, message):
    with pytest.raises(CommandError, match=message) as info:
        run("create_tenant", *args)
    assert info.value.returncode == 2
    assert list(tenant_ids_iter()) == []


@pytest.mark.django_db
def test_connect_platform_stores_an_encrypted_credential_and_prints_the_connection_id():
    tenant = make_tenant()
    out, err = run(
        "connect_platform",
        "--tenant",
        str(tenant.id),
        "--platform",
        "google_ads",
        "--account",
        "123-456-7890",
        "--access-token",
        TOKEN,
        "--refresh-token",
        "rt_COMMAND_refresh",
        "--expires-at",
        "2030-01-01T00:00:00+00:00",
        "--metadata",
        '{"login_customer_id": "999"}',
    )
    connection_id = uuid.UUID(out.strip().splitlines()[-1])
    assert TOKEN not in out + err
    with tenant_context(tenant.id):
        conn = PlatformConnection.objects.get(id=connection_id)
        assert (conn.platform, conn.platform_account_id, conn.status) == ("google_ads", "123-456-7890", "active")
        assert conn.connection_metadata == {"login_customer_id": "999"}
        tokens = credential_get(connection_id=connection_id)
    assert (tokens.access_token, tokens.refresh_token) == (TOKEN, "rt_COMMAND_refresh")
    assert tokens.expires_at.year == 2030


@pytest.mark.django_db
def test_connect_platform_updates_the_same_account_instead_of_duplicating_it(monkeypatch):
    tenant = make_tenant()
    monkeypatch.setenv("STRIPE_KEY_FOR_TEST", "sk_test_from_env_0001")
    first, _ = run(
        "connect_platform",
        "--tenant",
        str(tenant.id),
        "--platform",
        "stripe",
        "--account",
        "acct_1",
        "--access-token-env",
        "STRIPE_KEY_FOR_TEST",
    )
    second, _ = run(
        "connect_platform",
        "--tenant",
        str(tenant.id),
        "--platform",
        "stripe",
        "--account",
        "acct_1",
        "--access-token",
        "-",
        stdin="sk_test_from_stdin_0002\n",
        monkeypatch=monkeypatch,
    )
    assert first.strip() == second.strip()
    assert _counts(tenant.id) == (1, 1)
    with tenant_context(tenant.id):
        assert credential_get(connection_id=uuid.UUID(first.strip())).access_token == "sk_test_from_stdin_0002"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"--platform": "myspace"}, "Unknown platform 'myspace'"),
        ({"--tenant": "not-a-uuid"}, "'not-a-uuid' is not a tenant id"),
        ({"--tenant": "00000000-0000-4000-8000-000000000000"}, "No tenant with id"),
        ({"--metadata": "{not json"}, "--metadata is not valid JSON"),
        ({"--metadata": "[1, 2]"}, "--metadata must be a JSON object"),
        ({"--expires-at": "tomorrow"}, "--expires-at 'tomorrow' is not an ISO 8601 date-time"),
        ({"--expires-at": "2030-01-01T00:00:00"}, "--expires-at needs a UTC offset"),
        ({"--access-token": "  "}, "The access token is empty"),
    ],
)
def test_connect_platform_refuses_bad_input_with_exit_code_2_and_writes_nothing(overrides, message):
    tenant = make_tenant()
    options = {"--tenant": str(tenant.id), "--platform": "stripe", "--account": "acct_1", "--access-token": TOKEN}
    options.update(overrides)
    args = [part for pair in options.items() for part in pair]
    with pytest.raises(CommandError, match=message) as info:
        run("connect_platform", *args)
    assert info.value.returncode == 2
    assert TOKEN not in str(info.value)
    assert _counts(tenant.id) == (0, 0)


@pytest.mark.django_db
def test_connect_platform_refuses_an_unset_token_variable():
    tenant = make_tenant()
    with pytest.raises(CommandError, match="SKELDIR_UNSET_VARIABLE holding the access token is empty or unset") as info:
        run(
            "connect_platform",
            "--tenant",
            str(tenant.id),
            "--platform",
            "stripe",
            "--account",
            "a",
            "--access-token-env",
            "SKELDIR_UNSET_VARIABLE",
        )
    assert info.value.returncode == 2


def test_commands_exit_with_code_2_and_one_sentence_from_the_shell(tmp_path):
    """The same through a real process: the exit code scripts rely on."""
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "connect_platform",
            "--tenant",
            "nope",
            "--platform",
            "stripe",
            "--account",
            "a",
            "--access-token",
            TOKEN,
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "skeldir.test_settings"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "CommandError: 'nope' is not a tenant id (a UUID)."
    assert TOKEN not in result.stdout + result.stderr
