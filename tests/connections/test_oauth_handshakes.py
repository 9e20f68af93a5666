"""The OAuth handshake table under row-level security, the state format, and which
connections a revenue refresh reports after a disconnect."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from connections.models import OAuthHandshake, PlatformConnection
from connections.oauth.state import secret_hash, secret_matches, state_new, state_parse
from connections.selectors import connection_list_active
from connections.services import credential_mark_revoked
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant

pytestmark = pytest.mark.django_db


def _handshake(tenant) -> OAuthHandshake:
    with tenant_context(tenant.id):
        return OAuthHandshake.objects.create(
            tenant=tenant,
            platform="stripe",
            state_hash=secret_hash("x" * 43),
            redirect_uri="https://api.example.com/cb",
            expires_at=timezone.now() + timedelta(minutes=10),
        )


def test_the_handshake_table_is_under_forced_row_level_security():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'oauth_handshake_sessions'"
        )
        assert cursor.fetchone() == (True, True)
        cursor.execute("SELECT polname FROM pg_policy WHERE polrelid = 'oauth_handshake_sessions'::regclass")
        assert cursor.fetchall() == [("tenant_isolation_policy",)]


def test_a_tenant_sees_only_its_own_handshakes_and_no_tenant_sees_none():
    a, b = make_tenant("a"), make_tenant("b")
    mine = _handshake(a)
    _handshake(b)
    with tenant_context(a.id):
        assert list(OAuthHandshake.objects.values_list("id", flat=True)) == [mine.id]
        assert OAuthHandshake.objects.update(consumed_at=timezone.now()) == 1
    with tenant_context(b.id):
        assert OAuthHandshake.objects.get().consumed_at is None
    assert OAuthHandshake.objects.count() == 0


def test_a_handshake_cannot_be_written_for_another_tenant():
    a, b = make_tenant("a"), make_tenant("b")
    with pytest.raises(DatabaseError, match="row-level security"), tenant_context(a.id):
        OAuthHandshake.objects.create(
            tenant=b, platform="stripe", state_hash="h", redirect_uri="r", expires_at=timezone.now()
        )


def test_the_state_round_trips_and_anything_else_is_not_a_state():
    tenant_id = uuid.uuid4()
    state = state_new(tenant_id)
    encoded = state.encode()
    assert encoded.startswith(f"v1.{tenant_id.hex}.")
    assert state_parse(encoded) == state
    assert secret_matches(secret_hash(state.secret), state.secret)
    altered = state.secret[:-1] + ("A" if state.secret[-1] != "A" else "B")
    assert not secret_matches(secret_hash(state.secret), altered)
    assert state.secret not in repr(state)
    for bad in (None, "", "v2" + encoded[2:], encoded.upper(), encoded + ".x", encoded[:-1], "v1." + "a" * 500):
        assert state_parse(bad) is None


def test_a_refresh_reports_disconnected_connections_and_skips_operator_disabled_ones():
    tenant = make_tenant("listed")
    active = make_connection(tenant, "stripe", "acct_active")
    disconnected = make_connection(tenant, "stripe", "acct_disconnected")
    paused = make_connection(tenant, "stripe", "acct_paused")
    with tenant_context(tenant.id):
        credential = disconnected.credentials.get()
        credential_mark_revoked(credential_id=credential.id, failure_class="disconnected")
        PlatformConnection.objects.filter(id__in=[disconnected.id, paused.id]).update(status="disabled")
        reported = [c.platform_account_id for c in connection_list_active()]
    # The paused one's credential still works: not listed, so never fetched.
    assert reported == [active.platform_account_id, "acct_disconnected"]


@pytest.mark.parametrize(
    ("conf", "check_id"),
    [
        ({"CLASS": "connections.oauth.nope.Missing"}, "connections.E002"),
        ({"CLASS": "connections.oauth.google_ads.GoogleAdsOAuth"}, "connections.E003"),  # under the stripe key
        ({"CLASS": "connections.oauth.stripe.StripeOAuth", "OPTIONS": {"unknown": 1}}, "connections.E004"),
        ("not a dict", "connections.E001"),
    ],
)
def test_a_bad_oauth_setting_fails_the_system_check(settings, conf, check_id):
    from connections.checks import check_oauth_flows

    settings.CONNECTIONS_OAUTH = {"stripe": conf}
    assert [m.id for m in check_oauth_flows()] == [check_id]
