"""The OAuth install flows end to end over real HTTP: our API on a live server, the
platforms' authorization servers and APIs played by the local simulator. start →
authorize (the simulated merchant approves) → callback → connections with encrypted
credentials → a revenue refresh that uses them."""

from __future__ import annotations

import io
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.db import connection

from connections.models import PlatformConnection, PlatformCredential
from connections.selectors import credential_get
from revenue.realtime import revenue_refresh
from revenue.snapshot import Snapshot
from skeldir.tenancy import tenant_context
from tests.api.oauth_support import APP_SECRETS, confirm, install, start
from tests.factories import make_tenant
from tests.jwt_fixtures import KID


def _stored(tenant_id: uuid.UUID, platform: str) -> list[tuple[PlatformConnection, object, bytes]]:
    """(connection, decrypted credential, raw encrypted access token) of each account."""
    found = []
    with tenant_context(tenant_id):
        for row in PlatformConnection.objects.filter(platform=platform).order_by("platform_account_id"):
            raw = (
                PlatformCredential.objects.filter(platform_connection_id=row.id)
                .values_list("encrypted_access_token", flat=True)
                .get()
            )
            found.append((row, credential_get(connection_id=row.id), bytes(raw)))
    return found


def _refresh(tenant_id: uuid.UUID) -> Snapshot:
    result = revenue_refresh(tenant_id, correlation_id=str(uuid.uuid4()), force=True)
    return Snapshot.from_payload(result.entry.payload)


def _assert_encrypted(credential, raw: bytes) -> None:
    assert credential.access_token.encode() not in raw  # pgcrypto ciphertext, not the token
    assert raw[:1] == b"\xc3"  # an OpenPGP symmetric-key encrypted session key packet (pgp_sym_encrypt)


def _assert_secret_free(response: requests.Response, *secrets: str | None) -> None:
    """Neither the confirmation's answer nor anything logged meanwhile (by the service, the
    live server, the simulator) holds a token, the app secret, the state, the code or the
    confirmation code."""
    secrets += (response.oauth_state, response.oauth_code, response.oauth_confirmation)  # type: ignore[attr-defined]
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in (*APP_SECRETS, *secrets):
        if secret:
            assert secret not in text
    response.log_scan.assert_free_of(*secrets)  # type: ignore[attr-defined]


@pytest.fixture
def tenant(committed_db):
    return make_tenant("oauth-e2e")


@pytest.fixture
def install_logged(log_scan):
    def run(*args, **kwargs):
        answer = install(*args, **kwargs)
        answer.log_scan = log_scan
        return answer

    return run


def test_stripe_connect_end_to_end(live_url, simulated, tenant, mint, install_logged, settled_day):
    simulated.set_consent("stripe", ["acct_1OAuthE2E"])
    answer = install_logged(live_url, mint(tenant.id, scopes=["manager"]), "stripe")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "connected" and body["platform"] == "stripe"
    [listed] = body["connections"]
    assert listed["account_id"] == "acct_1OAuthE2E" and listed["connected_via"] == "oauth"
    assert listed["credential"]["lifecycle_status"] == "active" and listed["credential"]["scope"] == "read_only"
    [(row, credential, raw)] = _stored(tenant.id, "stripe")
    assert credential.access_token.startswith("sk_test_oauth_")  # minted by the (simulated) token endpoint
    assert credential.refresh_token.startswith("rt_")
    _assert_encrypted(credential, raw)
    _assert_secret_free(answer, credential.access_token, credential.refresh_token)
    assert simulated.endpoint_calls("stripe") == {"authorize": 1, "token": 1}

    snapshot = _refresh(tenant.id)

    [source] = snapshot.sources
    assert (source.platform, source.account, source.status) == ("stripe", "acct_1OAuthE2E", "ok")
    assert source.figures.count > 0
    assert simulated.calls("stripe", "acct_1OAuthE2E") >= 1  # the data call, with the stored token
    _assert_secret_free(answer, credential.access_token, credential.refresh_token)  # refresh logs included


def test_shopify_end_to_end(live_url, simulated, tenant, mint, install_logged, settled_day):
    answer = install_logged(live_url, mint(tenant.id, scopes=["manager"]), "shopify", shop="oauth-e2e")

    assert answer.status_code == 200, answer.text
    [listed] = answer.json()["connections"]
    assert listed["account_id"] == "oauth-e2e.myshopify.com"
    [(row, credential, raw)] = _stored(tenant.id, "shopify")
    assert credential.access_token.startswith("shpat_sbx_") and credential.refresh_token is None
    assert credential.expires_at is None  # an offline token
    _assert_encrypted(credential, raw)
    _assert_secret_free(answer, credential.access_token)
    # authorize, code exchange, and the identity query (shop.myshopifyDomain)
    assert simulated.endpoint_calls("shopify") == {"authorize": 1, "token": 1, "data": 1}

    [source] = _refresh(tenant.id).sources
    assert (source.account, source.status) == ("oauth-e2e.myshopify.com", "ok")
    assert source.figures.count > 0
    _assert_secret_free(answer, credential.access_token)


def test_google_ads_end_to_end_including_a_refresh_with_the_stored_refresh_token(
    live_url, simulated, tenant, mint, install_logged
):
    simulated.set_consent("google_ads", ["1111111840", "2222222978"])
    simulated.configure(token_ttl=60)  # expires within the refresh lead: the refresh must renew it first
    answer = install_logged(live_url, mint(tenant.id, scopes=["manager"]), "google_ads")

    assert answer.status_code == 200, answer.text
    assert [c["account_id"] for c in answer.json()["connections"]] == ["1111111840", "2222222978"]
    stored = _stored(tenant.id, "google_ads")
    for _, credential, raw in stored:
        assert credential.refresh_token.startswith("1//sbx.")  # offline access
        assert credential.expires_at is not None
        _assert_encrypted(credential, raw)
        _assert_secret_free(answer, credential.access_token, credential.refresh_token)
    assert simulated.endpoint_calls("google_ads") == {"authorize": 1, "token": 1, "identity": 1}

    snapshot = _refresh(tenant.id)

    assert {(s.account, s.status) for s in snapshot.sources} == {("1111111840", "ok"), ("2222222978", "ok")}
    assert simulated.endpoint_calls("google_ads", "token") == 1 + 2  # the exchange, then one refresh per account
    assert simulated.calls("google_ads", "1111111840") >= 1 and simulated.calls("google_ads", "2222222978") >= 1
    for row, credential, _ in _stored(tenant.id, "google_ads"):
        assert credential.access_token != dict((r.id, c) for r, c, _ in stored)[row.id].access_token
        _assert_secret_free(answer, credential.access_token, credential.refresh_token)  # the refreshed ones


def test_meta_ads_end_to_end_with_the_long_lived_token(live_url, simulated, tenant, mint, install_logged):
    simulated.set_consent("meta_ads", ["act_3333333840"])
    answer = install_logged(live_url, mint(tenant.id, scopes=["manager"]), "meta_ads")

    assert answer.status_code == 200, answer.text
    [listed] = answer.json()["connections"]
    assert listed["account_id"] == "act_3333333840"
    [(row, credential, raw)] = _stored(tenant.id, "meta_ads")
    _assert_encrypted(credential, raw)
    _assert_secret_free(answer, credential.access_token)
    with tenant_context(tenant.id):
        expires_at = PlatformCredential.objects.get(platform_connection_id=row.id).expires_at
    assert (expires_at - row.created_at).days >= 59  # the long-lived token, not the one-hour one
    # authorize; the code exchange and the long-lived exchange; /me/adaccounts
    assert simulated.endpoint_calls("meta_ads") == {"authorize": 1, "token": 2, "identity": 1}

    [source] = _refresh(tenant.id).sources
    assert (source.account, source.status) == ("act_3333333840", "ok")
    assert simulated.calls("meta_ads", "3333333840") >= 1
    _assert_secret_free(answer, credential.access_token)


def test_the_success_page_receives_the_confirmation_code_and_never_a_secret(
    live_url, simulated, tenant, mint, settings
):
    settings.OAUTH_SUCCESS_URL = "https://app.example.com/connected"
    simulated.set_consent("google_ads", ["4444444840"])
    token = mint(tenant.id, scopes=["manager"])
    started = start(live_url, token, "google_ads")
    authorize_url = started.json()["authorize_url"]
    callback = requests.get(authorize_url, allow_redirects=False, timeout=10).headers["Location"]

    answer = requests.get(callback, allow_redirects=False, timeout=10)

    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith("https://app.example.com/connected?")
    query = parse_qs(urlsplit(location).query)
    [confirmation] = query.pop("confirmation")
    assert query == {"status": ["confirmation_required"], "platform": ["google_ads"]}
    assert _stored(tenant.id, "google_ads") == []  # nothing connected before the starter confirms
    # The success page (the starter's dashboard) confirms with the code and the same user's token.
    confirmed = confirm(live_url, token, "google_ads", confirmation)
    assert confirmed.status_code == 200, confirmed.text
    [(row, credential, _)] = _stored(tenant.id, "google_ads")
    assert [c["id"] for c in confirmed.json()["connections"]] == [str(row.id)]
    for secret in (credential.access_token, credential.refresh_token, *APP_SECRETS):
        assert secret not in location and secret not in confirmed.text
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert state not in location and code not in location
    # The authorize URL carries the app's public client id and a PKCE challenge, never its secret.
    assert parse_qs(urlsplit(authorize_url).query)["code_challenge_method"] == ["S256"]
    assert all(secret not in authorize_url for secret in APP_SECRETS)


def test_the_handshake_keeps_the_pkce_verifier_encrypted(live_url, simulated, tenant, mint):
    started = start(live_url, mint(tenant.id, scopes=["manager"], sub="manager-7"), "meta_ads")
    challenge = parse_qs(urlsplit(started.json()["authorize_url"]).query)["code_challenge"][0]
    with tenant_context(tenant.id), connection.cursor() as cursor:
        cursor.execute(
            "SELECT subject, key_id, encrypted_code_verifier, state_hash, redirect_uri FROM oauth_handshake_sessions"
        )
        subject, key_id, encrypted, state_hash, redirect_uri = cursor.fetchone()
    assert subject == "manager-7" and key_id == "test-k1"
    assert redirect_uri == f"{live_url}/api/v1/connections/oauth/meta_ads/callback"
    assert challenge.encode() not in bytes(encrypted) and len(state_hash) == 64
    state = parse_qs(urlsplit(started.json()["authorize_url"]).query)["state"][0]
    assert state.split(".")[-1] not in state_hash  # only the hash of the secret is stored


def test_the_demo_connects_one_account_through_the_running_api(live_url, simulated, tenant, jwt_keys, settings):
    """`make run`'s step: demo_connect_oauth plays the merchant's browser against the API."""
    settings.JWT_SIGNING_KEY = jwt_keys.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.JWT_SIGNING_KID = KID
    simulated.set_consent("stripe", ["acct_1DemoOAuth"])
    out = io.StringIO()

    call_command("demo_connect_oauth", tenant=str(tenant.id), platform="stripe", api=live_url, stdout=out)

    first, connection_id = out.getvalue().strip().splitlines()
    assert first == (
        "Connected stripe (acct_1DemoOAuth) through OAuth: start → simulated consent → callback → confirm."
    )
    [(row, credential, _)] = _stored(tenant.id, "stripe")
    assert str(row.id) == connection_id and credential.access_token not in out.getvalue()
    assert simulated.endpoint_calls("stripe") == {"authorize": 1, "token": 1}
