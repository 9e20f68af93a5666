"""The credential store: pgcrypto encryption with key ids, lifecycle, rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.crypto import CredentialUndecryptable, UnknownCredentialKey
from connections.models import PlatformCredential
from connections.selectors import credential_get
from connections.services import (
    credential_mark_refresh_failed,
    credential_mark_refreshed,
    credential_mark_revoked,
    credential_rotate_key,
)
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant

ACCESS = "sk_live_PLAINTEXT_access_abcdef123456"
REFRESH = "rt_PLAINTEXT_refresh_abcdef123456"
KEY_ONE = "test-credential-key-one-0123456789"
KEY_TWO = "second-key-for-rotation-abcdefghij"


def ring(current: str, **keys: str) -> dict:
    return {"current": current, "keys": keys}


def _raw(credential_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_access_token, encrypted_refresh_token, key_id FROM platform_credentials WHERE id = %s",
            [credential_id],
        )
        access, refresh, key_id = cursor.fetchone()
    return bytes(access), bytes(refresh) if refresh is not None else None, key_id


@pytest.mark.django_db
def test_ciphertext_is_not_the_plaintext_and_decrypts_to_it():
    tenant = make_tenant()
    conn = make_connection(tenant, "google_ads", "123", access_token=ACCESS, refresh_token=REFRESH)
    with tenant_context(tenant.id):
        tokens = credential_get(connection_id=conn.id)
        access, refresh, key_id = _raw(tokens.credential_id)
        assert ACCESS.encode() not in access and REFRESH.encode() not in refresh
        assert key_id == "test-k1"
        # pgcrypto's own decryption, independent of our selector.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pgp_sym_decrypt(%s::bytea, %s)", [access, KEY_ONE])
            assert cursor.fetchone()[0] == ACCESS
    assert tokens.access_token == ACCESS and tokens.refresh_token == REFRESH
    assert ACCESS not in repr(tokens) and REFRESH not in repr(tokens)


@pytest.mark.django_db
def test_tokens_are_encrypted_with_aes256_under_a_salted_key_hash_and_stretched_rows_still_read():
    tenant = make_tenant()
    conn = make_connection(tenant, "google_ads", "123", access_token=ACCESS, refresh_token=REFRESH)
    with tenant_context(tenant.id):
        credential_id = credential_get(connection_id=conn.id).credential_id
        access, refresh, _ = _raw(credential_id)
        # The OpenPGP symmetric-key session key packet: tag 3, length, version 4, cipher 9
        # (AES-256), S2K specifier 1 (salted, hashed once), hash 8 (SHA-256).
        assert access[0] == refresh[0] == 0xC3
        assert access[2:6] == refresh[2:6] == bytes([4, 9, 1, 8])
        # A row written with pgcrypto's defaults (iterated S2K, as the system this replaces
        # wrote them) reads as before.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE platform_credentials SET encrypted_access_token = pgp_sym_encrypt(%s, %s) WHERE id = %s",
                ["legacy-" + ACCESS, KEY_ONE, credential_id],
            )
        assert _raw(credential_id)[0][4] == 3  # S2K specifier 3: iterated and salted
        assert credential_get(connection_id=conn.id).access_token == "legacy-" + ACCESS


@pytest.mark.django_db
def test_upsert_replaces_the_one_credential_and_resets_the_lifecycle():
    tenant = make_tenant()
    conn = make_connection(tenant, access_token="first-token-value")
    with tenant_context(tenant.id):
        first = credential_get(connection_id=conn.id)
        credential_mark_revoked(credential_id=first.credential_id, failure_class="provider_invalid_grant")
    make_connection(tenant, conn.platform, conn.platform_account_id, access_token="second-token-value")
    with tenant_context(tenant.id):
        assert PlatformCredential.objects.count() == 1
        row = PlatformCredential.objects.get()
        assert (row.lifecycle_status, row.revoked_at, row.refresh_failure_count) == ("active", None, 0)
        assert credential_get(connection_id=conn.id).access_token == "second-token-value"


@pytest.mark.django_db
def test_expiring_tokens_are_due_for_refresh_the_lead_time_before_expiry(settings):
    settings.CREDENTIAL_REFRESH_LEAD_SECONDS = 600
    expires = timezone.now() + timedelta(hours=1)
    tenant = make_tenant()
    conn = make_connection(tenant, "google_ads", "1", refresh_token=REFRESH, expires_at=expires)
    never = make_connection(tenant, "stripe", "acct_1")
    with tenant_context(tenant.id):
        assert credential_get(connection_id=conn.id).next_refresh_due_at == expires - timedelta(seconds=600)
        assert credential_get(connection_id=never.id).next_refresh_due_at is None


@pytest.mark.django_db
def test_refresh_success_failure_and_revocation_follow_the_lifecycle():
    tenant = make_tenant()
    conn = make_connection(tenant, "google_ads", "1", refresh_token=REFRESH, expires_at=timezone.now())
    now = timezone.now()
    with tenant_context(tenant.id):
        cred = credential_get(connection_id=conn.id)
        due1 = credential_mark_refresh_failed(credential_id=cred.credential_id, failure_class="network", now=now)
        due2 = credential_mark_refresh_failed(credential_id=cred.credential_id, failure_class="network", now=now)
        due3 = credential_mark_refresh_failed(
            credential_id=cred.credential_id, failure_class="rate_limited", retry_after=900, now=now
        )
        row = PlatformCredential.objects.get()
        assert (row.lifecycle_status, row.refresh_failure_count, row.last_failure_class) == (
            "degraded",
            3,
            "rate_limited",
        )
        assert (due1 - now, due2 - now, due3 - now) == (
            timedelta(seconds=30),
            timedelta(seconds=60),
            timedelta(seconds=900),
        )

        new_expiry = now + timedelta(hours=1)
        credential_mark_refreshed(
            credential_id=cred.credential_id,
            key_id=cred.key_id,
            access_token="new-access-token",
            refresh_token=None,
            expires_at=new_expiry,
            now=now,
        )
        refreshed = credential_get(connection_id=conn.id)
        assert (refreshed.access_token, refreshed.refresh_token) == ("new-access-token", REFRESH)
        row = PlatformCredential.objects.get()
        assert (row.lifecycle_status, row.refresh_failure_count, row.last_refresh_at) == ("active", 0, now)
        assert row.expires_at == new_expiry

        credential_mark_revoked(credential_id=cred.credential_id, failure_class="provider_invalid_grant", now=now)
        row = PlatformCredential.objects.get()
        assert (row.lifecycle_status, row.revoked_at, row.next_refresh_due_at) == ("revoked", now, None)
        # A late success of a concurrent refresh cannot resurrect a revoked credential.
        credential_mark_refreshed(
            credential_id=cred.credential_id,
            key_id=cred.key_id,
            access_token="late",
            refresh_token=None,
            expires_at=None,
        )
        assert PlatformCredential.objects.get().lifecycle_status == "revoked"


@pytest.mark.django_db
def test_rotation_moves_every_row_to_the_current_key_and_they_still_decrypt(settings):
    tenants = [make_tenant() for _ in range(3)]
    conns = [
        make_connection(t, "google_ads", f"acct-{i}", access_token=f"{ACCESS}-{i}", refresh_token=REFRESH)
        for i, t in enumerate(tenants)
    ]
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("k2", **{"test-k1": KEY_ONE, "k2": KEY_TWO})
    report = credential_rotate_key(batch_size=1)
    assert (report.moved, report.tenants, report.unknown_rows) == (3, 3, 0)
    for i, (tenant, conn) in enumerate(zip(tenants, conns, strict=True)):
        with tenant_context(tenant.id):
            tokens = credential_get(connection_id=conn.id)
            assert tokens.key_id == "k2"
            assert (tokens.access_token, tokens.refresh_token) == (f"{ACCESS}-{i}", REFRESH)
            access, _, _ = _raw(tokens.credential_id)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pgp_sym_decrypt(%s::bytea, %s)", [access, KEY_TWO])
                assert cursor.fetchone()[0] == f"{ACCESS}-{i}"
    assert credential_rotate_key().moved == 0


@pytest.mark.django_db
def test_rotate_credential_key_command_reports_how_many_rows_moved(settings):
    make_connection(make_tenant(), access_token=ACCESS)
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("k2", **{"test-k1": KEY_ONE, "k2": KEY_TWO})
    out = _call("rotate_credential_key")
    assert "Re-encrypted 1 credentials of 1 tenants to key id 'k2'." in out


@pytest.mark.django_db
def test_a_row_under_an_unknown_key_id_gives_a_clear_secret_free_error(settings):
    tenant = make_tenant()
    conn = make_connection(tenant, access_token=ACCESS)
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("k2", k2=KEY_TWO)
    with tenant_context(tenant.id):
        with pytest.raises(UnknownCredentialKey) as info:
            credential_get(connection_id=conn.id)
    message = str(info.value)
    assert "'test-k1'" in message and "CREDENTIAL_ENCRYPTION_KEYS" in message
    assert KEY_ONE not in message and KEY_TWO not in message and ACCESS not in message
    report = credential_rotate_key()
    assert (report.moved, report.unknown_rows, report.unknown_key_ids) == (0, 1, {"test-k1"})


@pytest.mark.django_db
def test_a_wrong_secret_for_a_known_key_id_is_a_clear_error(settings):
    tenant = make_tenant()
    conn = make_connection(tenant, access_token=ACCESS)
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("test-k1", **{"test-k1": "a-different-secret-0123456789"})
    with tenant_context(tenant.id):
        with pytest.raises(CredentialUndecryptable) as info:
            credential_get(connection_id=conn.id)
    assert "cannot be decrypted with key id 'test-k1'" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # the driver error carried parameters
    assert ACCESS not in str(info.value) and "a-different-secret" not in str(info.value)


def _call(*args, **kwargs) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


@pytest.mark.django_db
def test_connections_and_their_credentials_come_in_one_statement_and_bad_keys_stay_apart(settings):
    from connections.selectors import CredentialBatchUndecryptable, connection_list_active, credentials_one_by_one
    from revenue.selectors import refresh_inputs_read

    def read_at_once() -> dict:
        return {conn.id: tokens for conn, tokens in refresh_inputs_read(tenant.id).connections}

    tenant = make_tenant()
    first = make_connection(tenant, "google_ads", "1", access_token="tok-one", refresh_token="rt-one")
    second = make_connection(tenant, "stripe", "acct_2", access_token="tok-two")
    orphan = make_connection(tenant, "stripe", "acct_3", access_token=None)
    with CaptureQueriesContext(connection) as queries:
        found = read_at_once()
    assert [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]][0].startswith(
        "SELECT * FROM revenue_refresh_read("
    ) and len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1
    assert (found[first.id].access_token, found[first.id].refresh_token) == ("tok-one", "rt-one")
    assert (found[second.id].access_token, found[second.id].refresh_token) == ("tok-two", None)
    assert found[orphan.id] is None

    # A row under a key id the ring lost is reported for that connection only.
    with tenant_context(tenant.id), connection.cursor() as cursor:
        cursor.execute("UPDATE platform_credentials SET key_id = 'gone' WHERE platform_connection_id = %s", [second.id])
    found = read_at_once()
    assert isinstance(found[second.id], UnknownCredentialKey) and found[first.id].access_token == "tok-one"

    # A key id whose secret does not decrypt fails the batch, without the secret or the
    # driver's error (it carries the parameters); one by one, the others still come back.
    settings.CREDENTIAL_ENCRYPTION_KEYS = ring("test-k1", **{"test-k1": KEY_ONE, "gone": "not-the-right-secret-0123"})
    with pytest.raises(CredentialBatchUndecryptable) as info:
        read_at_once()
    assert info.value.__cause__ is None and "not-the-right-secret" not in str(info.value)
    with tenant_context(tenant.id):
        found = {conn.id: tokens for conn, tokens in credentials_one_by_one(connection_list_active())}
    assert isinstance(found[second.id], CredentialUndecryptable) and found[first.id].access_token == "tok-one"


@pytest.mark.django_db
def test_the_runtime_connection_sends_values_apart_from_the_statement_text():
    # What pg_stat_activity and a logged statement show is the text the server received:
    # the credential key handed to pgcrypto must not be part of it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_query(), %s::text", [KEY_ONE])
        text, value = cursor.fetchone()
    assert value == KEY_ONE
    assert KEY_ONE not in text and "$1" in text


def test_a_lost_connection_during_the_credentials_read_is_not_taken_for_a_bad_key(committed_db):
    from django.db import OperationalError

    from connections.selectors import CredentialBatchUndecryptable
    from revenue.selectors import refresh_inputs_read
    from tests.stubs import terminate_server_session

    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="tok-one")
    terminate_server_session()
    with pytest.raises(OperationalError) as info:
        refresh_inputs_read(tenant.id)
    assert not isinstance(info.value, CredentialBatchUndecryptable)
    connection.close()
