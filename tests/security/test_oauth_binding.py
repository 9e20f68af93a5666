"""Issue 18, finding 1: an OAuth install must complete only for the user and browser that
started it. The attacker is a manager of their own tenant: they start an install, send the
authorize URL to a victim, and the victim approves with their own Stripe account. The
callback now holds that grant pending and hands the one-time confirmation code to the
browser that came back (the victim's); only a request with that code AND a token of the
starting tenant and user stores it. Nothing is ever stored in the attacker's tenant, and a
grant that will not be stored is withdrawn at the platform.

Finding 10 (part): the callback URL never follows the request's Host or forwarded headers;
without OAUTH_REDIRECT_BASE_URL production settings refuse to start."""

from __future__ import annotations

import importlib
import io
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

import skeldir.settings as project_settings
from connections.models import OAuthHandshake, PlatformConnection, PlatformCredential
from skeldir.tenancy import tenant_context
from tests.api.oauth_support import confirm, consent, headers, start
from tests.factories import make_tenant

VICTIM_ACCOUNT = "acct_1VictimRevenue"


def _problem(answer: requests.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == code
    return body


def _stored(tenant) -> tuple[int, int]:
    with tenant_context(tenant.id):
        return PlatformConnection.objects.count(), PlatformCredential.objects.count()


def _pending(tenant) -> list[dict]:
    with tenant_context(tenant.id):
        return list(OAuthHandshake.objects.values("grant_status", "encrypted_grant"))


def _victims_browser_approves(authorize_url: str) -> str:
    """A fresh browser (no cookie, no token of ours) opens the URL it was sent, approves, and
    follows the platform back to our callback: the confirmation code the callback gives it."""
    back = consent(authorize_url)
    answer = requests.get(back, allow_redirects=False, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "confirmation_required"
    return answer.json()["confirmation"]


@pytest.fixture
def attacker(live_url, mint):
    tenant = make_tenant("security-oauth-attacker")
    return tenant, mint(tenant.id, scopes=["manager"], sub="attacker-manager")


@pytest.fixture
def victim(live_url, mint):
    tenant = make_tenant("security-oauth-victim")
    return tenant, mint(tenant.id, scopes=["manager"], sub="victim-owner")


def test_an_install_the_attacker_started_and_a_victim_approved_connects_nothing_and_is_withdrawn(
    live_url, simulated, attacker, victim, mint
):
    (attackers, attacker_token), (victims, victim_token) = attacker, victim
    simulated.set_consent("stripe", [VICTIM_ACCOUNT])
    started = start(live_url, attacker_token, "stripe")
    assert started.status_code == 201, started.text

    confirmation = _victims_browser_approves(started.json()["authorize_url"])

    # The callback connected nothing: the grant is only held, encrypted.
    assert _stored(attackers) == (0, 0)
    [held] = _pending(attackers)
    assert held["grant_status"] == "pending" and held["encrypted_grant"] is not None
    # The attacker has their token but not the code (it went to the victim's browser):
    # whatever they send instead is not a confirmation.
    state = parse_qs(urlsplit(started.json()["authorize_url"]).query)["state"][0]
    forged = f"c1.{attackers.id.hex}.{uuid.uuid4().hex}.{'A' * 43}"
    for guess in (state, forged, "c1." + state[3:], confirmation[:-1] + ("B" if confirmation[-1] != "B" else "C")):
        _problem(confirm(live_url, attacker_token, "stripe", guess), 400, "oauth_confirmation_invalid")
    assert _stored(attackers) == (0, 0)
    assert simulated.endpoint_calls("stripe", "revoke") == 0  # a guess cannot cancel the real one either

    # The victim's dashboard confirms with the victim's own token: refused, and withdrawn at Stripe.
    refused = _problem(confirm(live_url, victim_token, "stripe", confirmation), 403, "oauth_confirmation_forbidden")
    assert "withdrawn" in refused["detail"]
    assert simulated.endpoint_calls("stripe", "revoke") == 1
    assert _stored(attackers) == (0, 0) and _stored(victims) == (0, 0)
    assert _pending(attackers) == [{"grant_status": "refused", "encrypted_grant": None}]

    # Even with the code leaked afterwards, the attacker's own token gets nothing.
    _problem(confirm(live_url, attacker_token, "stripe", confirmation), 400, "oauth_confirmation_used")
    assert _stored(attackers) == (0, 0)
    as_viewer = headers(mint(attackers.id, scopes=["viewer"], sub="attacker-manager"))
    listed = requests.get(f"{live_url}/api/v1/connections", headers=as_viewer, timeout=10)
    assert listed.json() == {"connections": []}


def test_the_user_who_started_the_install_completes_it(live_url, simulated, attacker):
    tenant, token = attacker  # here simply a merchant connecting their own account
    simulated.set_consent("stripe", ["acct_1OwnAccount"])
    started = start(live_url, token, "stripe")
    confirmation = _victims_browser_approves(started.json()["authorize_url"])

    answer = confirm(live_url, token, "stripe", confirmation)

    assert answer.status_code == 200, answer.text
    [connected] = answer.json()["connections"]
    assert connected["account_id"] == "acct_1OwnAccount" and connected["connected_via"] == "oauth"
    assert _stored(tenant) == (1, 1)
    assert _pending(tenant) == [{"grant_status": "connected", "encrypted_grant": None}]
    assert simulated.endpoint_calls("stripe", "revoke") == 0


def test_another_user_of_the_same_tenant_cannot_confirm_someone_elses_install(live_url, simulated, attacker, mint):
    tenant, starter_token = attacker
    colleague = mint(tenant.id, scopes=["manager"], sub="another-manager")
    started = start(live_url, starter_token, "stripe")
    confirmation = _victims_browser_approves(started.json()["authorize_url"])

    _problem(confirm(live_url, colleague, "stripe", confirmation), 403, "oauth_confirmation_forbidden")

    assert _stored(tenant) == (0, 0)
    assert simulated.endpoint_calls("stripe", "revoke") == 1
    # Refused means withdrawn for good: the starter cannot take it over afterwards.
    _problem(confirm(live_url, starter_token, "stripe", confirmation), 400, "oauth_confirmation_used")
    assert _stored(tenant) == (0, 0)


def test_a_token_without_a_user_cannot_start_an_install(live_url, simulated, attacker, mint):
    tenant, _ = attacker
    anonymous = mint(tenant.id, scopes=["manager"], sub=None)
    _problem(start(live_url, anonymous, "stripe"), 403, "oauth_user_required")
    assert _pending(tenant) == []


def test_a_confirmation_cannot_be_replayed(live_url, simulated, attacker):
    tenant, token = attacker
    started = start(live_url, token, "stripe")
    confirmation = _victims_browser_approves(started.json()["authorize_url"])
    assert confirm(live_url, token, "stripe", confirmation).status_code == 200

    _problem(confirm(live_url, token, "stripe", confirmation), 400, "oauth_confirmation_used")
    _problem(confirm(live_url, token, "google_ads", confirmation), 400, "oauth_confirmation_invalid")

    assert _stored(tenant) == (1, 1)
    assert simulated.endpoint_calls("stripe", "token") == 1  # the code was exchanged once
    assert simulated.endpoint_calls("stripe", "revoke") == 0


def test_an_expired_pending_grant_is_refused_and_withdrawn(live_url, simulated, attacker, monkeypatch):
    tenant, token = attacker
    started = start(live_url, token, "stripe")
    confirmation = _victims_browser_approves(started.json()["authorize_url"])
    later = timezone.now() + timedelta(minutes=11)  # OAUTH_STATE_TTL_SECONDS is 600
    monkeypatch.setattr("connections.oauth.services.timezone.now", lambda: later)

    _problem(confirm(live_url, token, "stripe", confirmation), 400, "oauth_confirmation_expired")

    assert _stored(tenant) == (0, 0)
    assert simulated.endpoint_calls("stripe", "revoke") == 1
    assert _pending(tenant) == [{"grant_status": "expired", "encrypted_grant": None}]


def test_a_grant_nobody_confirms_is_withdrawn_by_the_sweep(live_url, simulated, attacker, victim, monkeypatch):
    (attackers, attacker_token), _ = attacker, victim
    simulated.set_consent("google_ads", ["7777777840"])
    started = start(live_url, attacker_token, "google_ads")
    _victims_browser_approves(started.json()["authorize_url"])  # and then nobody confirms
    call_command("expire_oauth_grants", stdout=io.StringIO())
    assert simulated.endpoint_calls("google_ads", "revoke") == 0  # not before its time
    later = timezone.now() + timedelta(minutes=11)
    monkeypatch.setattr("connections.oauth.services.timezone.now", lambda: later)

    call_command("expire_oauth_grants", stdout=io.StringIO())

    assert simulated.endpoint_calls("google_ads", "revoke") == 1
    assert _pending(attackers) == [{"grant_status": "expired", "encrypted_grant": None}]
    assert _stored(attackers) == (0, 0)
    call_command("expire_oauth_grants", stdout=io.StringIO())
    assert simulated.endpoint_calls("google_ads", "revoke") == 1  # once


def test_the_tenants_next_start_withdraws_its_expired_pending_grants(live_url, simulated, attacker, monkeypatch):
    tenant, token = attacker
    started = start(live_url, token, "stripe")
    _victims_browser_approves(started.json()["authorize_url"])
    later = timezone.now() + timedelta(minutes=11)
    monkeypatch.setattr("connections.oauth.services.timezone.now", lambda: later)

    assert start(live_url, token, "stripe").status_code == 201

    assert simulated.endpoint_calls("stripe", "revoke") == 1
    assert sorted(str(row["grant_status"]) for row in _pending(tenant)) == ["None", "expired"]


def test_a_pending_grant_is_encrypted_and_hidden_from_other_tenants(live_url, simulated, attacker, victim):
    (tenant, token), (other, _) = attacker, victim
    started = start(live_url, token, "stripe")
    _victims_browser_approves(started.json()["authorize_url"])

    with tenant_context(tenant.id), connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_grant, confirmation_hash, grant_key_id FROM oauth_handshake_sessions")
        [(encrypted, confirmation_hash, key_id)] = cursor.fetchall()
    raw = bytes(encrypted)
    assert raw[:1] == b"\xc3"  # pgp_sym_encrypt, like every credential
    assert b"sk_test_oauth_" not in raw and b"acct_" not in raw  # neither the token nor the account in clear
    assert key_id == "test-k1" and len(confirmation_hash) == 64  # only the code's SHA-256
    with tenant_context(other.id), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM oauth_handshake_sessions")
        assert cursor.fetchone()[0] == 0  # row-level security, as the runtime role


# --- the callback URL (finding 10, part) ---------------------------------------------------


def test_a_forged_host_header_does_not_change_the_callback_url(live_url, simulated, attacker, settings):
    tenant, token = attacker
    settings.ALLOWED_HOSTS = ["*"]  # as behind a proxy that passes any Host through
    forged = {**headers(token), "Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}

    started = requests.post(f"{live_url}/api/v1/connections/oauth/stripe/start", json={}, headers=forged, timeout=10)

    assert started.status_code == 201, started.text
    redirect_uri = parse_qs(urlsplit(started.json()["authorize_url"]).query)["redirect_uri"][0]
    assert redirect_uri == f"{live_url}/api/v1/connections/oauth/stripe/callback"
    # And a callback arriving with a forged Host is checked against the same pinned address.
    back = consent(started.json()["authorize_url"])
    answer = requests.get(back, headers={"Host": "attacker.example"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "confirmation_required"


def test_without_a_redirect_base_production_never_falls_back_to_the_host(live_url, simulated, attacker, settings):
    tenant, token = attacker
    settings.OAUTH_REDIRECT_BASE_URL = ""
    settings.DEBUG = False
    body = _problem(start(live_url, token, "stripe"), 503, "oauth_unavailable")
    assert "OAUTH_REDIRECT_BASE_URL" in body["detail"]
    assert _pending(tenant) == []


@pytest.fixture
def reload_settings(monkeypatch):
    def reload(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(project_settings)

    yield reload
    monkeypatch.undo()
    importlib.reload(project_settings)


def test_production_settings_without_the_redirect_base_fail_naming_it(reload_settings):
    with pytest.raises(ImproperlyConfigured, match="Set the OAUTH_REDIRECT_BASE_URL environment variable"):
        reload_settings(
            DJANGO_DEBUG="false",
            OAUTH_REDIRECT_BASE_URL="",
            STRIPE_OAUTH_CLIENT_ID="ca_prod",
            STRIPE_OAUTH_CLIENT_SECRET="sk_live_prod_secret_0123",
        )


def test_the_redirect_base_is_optional_in_debug_or_without_an_oauth_app(reload_settings):
    assert reload_settings(DJANGO_DEBUG="true", OAUTH_REDIRECT_BASE_URL="").OAUTH_REDIRECT_BASE_URL == ""
    conf = reload_settings(DJANGO_DEBUG="false", GOOGLE_OAUTH_CLIENT_ID="", GOOGLE_OAUTH_CLIENT_SECRET="")
    assert conf.OAUTH_REDIRECT_BASE_URL == ""


@pytest.mark.parametrize("base", ["api.skeldir.com", "https://api.skeldir.com/?next=x", "javascript:alert(1)"])
def test_a_malformed_redirect_base_is_refused(reload_settings, base):
    with pytest.raises(ImproperlyConfigured, match="OAUTH_REDIRECT_BASE_URL must be an absolute http"):
        reload_settings(OAUTH_REDIRECT_BASE_URL=base)
