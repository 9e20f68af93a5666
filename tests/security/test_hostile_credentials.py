"""Credentials as an attacker would hand them in: times no one can read back, tokens with
line breaks, metadata built to break the parser or the database. Each entrance (command,
keys API, OAuth, token refresh) refuses them in one sentence and stores nothing; the
database holds the same bounds as a backstop."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from connections.models import PlatformConnection, PlatformCredential
from connections.services import CredentialInvalid, credential_fields_check
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sk_test_SECURITY_token_0123456789"


def _counts(tenant_id) -> tuple[int, int]:
    with tenant_context(tenant_id):
        return PlatformConnection.objects.count(), PlatformCredential.objects.count()


def _connect(tenant, *extra: str, stdin: str | None = None, monkeypatch=None) -> CommandError:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = ["--tenant", str(tenant.id), "--platform", "stripe", "--account", "acct_sec", *extra]
    if "--access-token" not in extra:
        args += ["--access-token", TOKEN]
    with pytest.raises(CommandError) as refused:
        call_command("connect_platform", *args, stdout=io.StringIO(), stderr=io.StringIO())
    return refused.value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--expires-at", "9999-12-31T23:59:59-14:00"],
            "The expiry 9999-12-31T23:59:59-14:00 is outside 2000-01-01 ..",
        ),
        (
            ["--expires-at", "0001-01-01T00:00:00+00:00"],
            "The expiry 0001-01-01T00:00:00+00:00 is outside 2000-01-01 ..",
        ),
        (["--metadata", '{"a": "\\u0000"}'], "--metadata contains a NUL character."),
        (["--metadata", '{"a": NaN}'], "--metadata is not valid JSON (NaN and Infinity are not JSON numbers)."),
        (["--metadata", '{"a": ' + "[" * 5_000 + "]" * 5_000 + "}"], "--metadata is nested deeper than 32 levels."),
        (["--metadata", "[" * 20_000 + "]" * 20_000], "--metadata is longer than 16384 characters."),
        (["--access-token", "sk_test_a\nsk_test_b"], "The access token contains a control character"),
        (["--refresh-token", "rt\x00"], "The refresh token contains a control character"),
    ],
)
def test_hostile_command_input_exits_2_with_one_sentence_and_stores_nothing(extra, message):
    tenant = make_tenant("security-command")
    refused = _connect(tenant, *extra)
    assert refused.returncode == 2
    assert str(refused).startswith(message) and "\n" not in str(refused)
    assert TOKEN not in str(refused)
    assert _counts(tenant.id) == (0, 0)


@pytest.mark.django_db
def test_a_token_on_stdin_must_be_the_only_line(monkeypatch):
    tenant = make_tenant("security-stdin")
    refused = _connect(tenant, "--access-token", "-", stdin="sk_test_first\nsk_test_second\n", monkeypatch=monkeypatch)
    assert (refused.returncode, str(refused)) == (2, "Stdin holds 2 lines; the access token must be the only one.")
    assert _counts(tenant.id) == (0, 0)


def test_the_out_of_range_expiry_gives_no_traceback_from_the_shell():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "connect_platform",
            "--tenant",
            str(uuid.uuid4()),
            "--platform",
            "stripe",
            "--account",
            "a",
            "--access-token",
            TOKEN,
            "--metadata",
            '{"a": NaN}',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "skeldir.test_settings"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_database_refuses_an_expiry_python_cannot_read_back(committed_db):
    """The runtime role, bypassing the services, still cannot store year 10000."""
    tenant = make_tenant("security-db-range")
    row = make_connection(tenant, "stripe", "acct_range")
    with pytest.raises(IntegrityError, match="ck_platform_credentials_expires_at_range"):
        with tenant_context(tenant.id), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE platform_credentials SET expires_at = '9999-12-31T23:59:59-14:00' "
                "WHERE platform_connection_id = %s",
                [row.id],
            )
    with transaction.atomic():
        assert _counts(tenant.id) == (1, 1)


def test_keys_with_a_line_break_are_refused_before_the_platform_is_asked(live_url, mint, platforms):
    tenant = make_tenant("security-keys-api")
    platforms.rsps.add_passthru(live_url)  # the live server is real; only the platform is stubbed
    answer = requests.post(
        f"{live_url}/api/v1/connections",
        json={"platform": "stripe", "account_id": "acct_1", "api_key": "rk_test_a\r\nX-Injected: 1"},
        headers={
            "Authorization": f"Bearer {mint(tenant.id, scopes=['manager'])}",
            "X-Correlation-ID": str(uuid.uuid4()),
        },
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["detail"].startswith("api_key:")
    assert platforms.stripe.total == 0  # the platform was never asked
    assert _counts(tenant.id) == (0, 0)


def test_the_keys_service_refuses_a_control_character_even_past_the_serializer(db, platforms):
    """Defence in depth: the service the API calls checks too, before the platform is asked."""
    from connections.connect import KeyCredentials, connection_connect_with_keys

    tenant = make_tenant("security-keys-service")
    with pytest.raises(CredentialInvalid, match="control character"):
        connection_connect_with_keys(
            tenant_id=tenant.id,
            platform="stripe",
            account_id="acct_1",
            credentials=KeyCredentials(access_token="rk_test_a\nb"),
            correlation_id=str(uuid.uuid4()),
        )
    assert platforms.stripe.total == 0
    assert _counts(tenant.id) == (0, 0)


def test_every_entrance_shares_one_check():
    now = datetime.now(UTC)
    credential_fields_check(access_token="tok", refresh_token=None, expires_at=now + timedelta(days=60), now=now)
    for expires in (now + timedelta(days=3700), datetime(1999, 12, 31, tzinfo=UTC)):
        with pytest.raises(CredentialInvalid, match="is outside"):
            credential_fields_check(access_token="tok", refresh_token=None, expires_at=expires, now=now)
    with pytest.raises(CredentialInvalid, match="needs a UTC offset"):
        credential_fields_check(access_token="tok", refresh_token=None, expires_at=datetime(2030, 1, 1), now=now)


@pytest.mark.django_db
def test_a_refreshed_token_expiring_past_the_range_is_a_recorded_failure_not_a_stored_time(platforms):
    """A platform (or someone in its place) answering a token refresh with an expiry years
    away: the refresh fails as a bad answer, the old token stays, nothing out of range is
    stored, and the tenant's read still answers from the still-valid token."""
    from django.utils import timezone

    from revenue.realtime import revenue_get
    from revenue.snapshot import Snapshot
    from tests.stubs import Behaviour, google_rows

    tenant = make_tenant("security-refresh-range")
    make_connection(
        tenant,
        "google_ads",
        "111-222-3333",
        access_token="ya29.old",
        refresh_token="1//rt-range",
        expires_at=timezone.now() + timedelta(seconds=60),
    )
    with tenant_context(tenant.id):
        PlatformCredential.objects.update(next_refresh_due_at=timezone.now() - timedelta(seconds=1))
    twenty_years = 20 * 366 * 86400
    platforms.google_token.set(
        "1//rt-range", Behaviour(body={"access_token": "ya29.far", "expires_in": twenty_years, "token_type": "Bearer"})
    )
    platforms.google_customer("1112223333")
    platforms.google.set("ya29.old", Behaviour(body=google_rows("5.00")))

    read = revenue_get(tenant.id, correlation_id=str(uuid.uuid4()))

    assert Snapshot.from_payload(read.entry.payload).claimed_total == 500
    with tenant_context(tenant.id):
        row = PlatformCredential.objects.get()
    assert (row.lifecycle_status, row.last_failure_class) == ("degraded", "bad_response")
    assert row.expires_at < timezone.now() + timedelta(days=1)
