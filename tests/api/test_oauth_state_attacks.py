"""Callbacks that must be refused: missing, forged, altered, expired, replayed, another
tenant's or another platform's state, the wrong callback address, a Shopify signature
that does not verify, and an injected code whose PKCE challenge is not ours. Each is a
problem+json, stores nothing, and is logged with its reason and without any secret."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

import pytest
from django.utils import timezone

from connections.models import OAuthHandshake, PlatformConnection, PlatformCredential
from skeldir.tenancy import tenant_context
from tests.api.oauth_support import Browser
from tests.api.test_realtime_api import assert_problem
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db
CALLBACK = "/api/v1/connections/oauth/{}/callback"


def _with(url: str, **changes: str | None) -> str:
    """The callback URL with query parameters replaced (None removes one)."""
    path, _, query = url.partition("?")
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return f"{path}?{urlencode(params)}"


def _param(url: str, name: str) -> str:
    return parse_qs(url.partition("?")[2])[name][0]


def _nothing_stored(tenant) -> None:
    with tenant_context(tenant.id):
        assert PlatformConnection.objects.count() == 0
        assert PlatformCredential.objects.count() == 0


@pytest.fixture
def tenant():
    return make_tenant("attacked")


@pytest.fixture
def browser(tenant, mint, simulated) -> Browser:
    return Browser(mint(tenant.id, scopes=["manager"]))


@pytest.fixture
def logs(caplog, log_scan):
    caplog.set_level(logging.DEBUG)
    caplog.scan = log_scan
    return caplog


def _assert_logged_without_secrets(logs, reason: str, *secrets: str) -> None:
    rejected = [r for r in logs.records if getattr(r, "event", None) == "oauth_callback_rejected"]
    assert [r.reason for r in rejected] == [reason]
    assert rejected[0].platform and rejected[0].correlation_id
    logs.scan.assert_free_of(*secrets)


def test_a_callback_without_state_is_refused(browser, tenant, logs):
    url = browser.authorize("stripe")
    response = browser.callback(_with(url, state=None))
    assert_problem(response, 400, "oauth_state_missing")
    _nothing_stored(tenant)
    _assert_logged_without_secrets(logs, "oauth_state_missing", _param(url, "code"))


@pytest.mark.parametrize(
    "forge",
    [
        lambda state: "not-a-state",
        lambda state: state[:-1] + ("A" if state[-1] != "A" else "B"),  # the secret altered
        lambda state: ".".join(state.split(".")[:2] + [uuid.uuid4().hex] + state.split(".")[3:]),  # another handshake
        lambda state: state + "x" * 300,
    ],
    ids=["garbage", "altered-secret", "unknown-handshake", "oversized"],
)
def test_a_forged_state_is_refused(browser, tenant, logs, forge):
    url = browser.authorize("stripe")
    state = _param(url, "state")
    response = browser.callback(_with(url, state=forge(state)))
    body = assert_problem(response, 400, "oauth_state_invalid")
    assert state not in json.dumps(body)
    _nothing_stored(tenant)
    _assert_logged_without_secrets(logs, "oauth_state_invalid", state, _param(url, "code"))
    # The genuine callback still works: a forgery does not spend the real state.
    assert browser.callback(url).status_code == 200


def test_an_expired_state_is_refused(browser, tenant, logs, monkeypatch):
    url = browser.authorize("google_ads")
    later = timezone.now() + timedelta(minutes=11)
    monkeypatch.setattr("connections.oauth.services.timezone.now", lambda: later)
    response = browser.callback(url)
    assert_problem(response, 400, "oauth_state_expired")
    _nothing_stored(tenant)
    _assert_logged_without_secrets(logs, "oauth_state_expired", _param(url, "state"), _param(url, "code"))


def test_a_replayed_callback_is_refused_and_changes_nothing(browser, tenant, logs, simulated):
    url = browser.authorize("stripe")
    assert browser.complete(url).status_code == 200
    exchanges = simulated.endpoint_calls("stripe", "token")

    response = browser.callback(url)

    assert_problem(response, 400, "oauth_state_used")
    assert simulated.endpoint_calls("stripe", "token") == exchanges  # the code was not sent again
    with tenant_context(tenant.id):
        assert PlatformConnection.objects.count() == 1 == PlatformCredential.objects.count()
    _assert_logged_without_secrets(logs, "oauth_state_used", _param(url, "state"), _param(url, "code"))


def test_a_refused_callback_spends_the_state_too(browser, tenant, simulated):
    simulated.set_consent("stripe", deny=True)
    url = browser.authorize("stripe")
    assert_problem(browser.callback(url), 400, "oauth_denied")
    assert_problem(browser.callback(url), 400, "oauth_state_used")
    _nothing_stored(tenant)


def test_another_tenants_state_is_refused(browser, tenant, logs, mint):
    other = make_tenant("other")
    url = browser.authorize("stripe")
    state = _param(url, "state")
    _, _, handshake, secret = state.split(".")
    as_other = f"v1.{other.id.hex}.{handshake}.{secret}"  # the other tenant's context cannot see it

    response = browser.callback(_with(url, state=as_other))

    assert_problem(response, 400, "oauth_state_invalid")
    _nothing_stored(tenant)
    _nothing_stored(other)
    with tenant_context(other.id):
        assert OAuthHandshake.objects.count() == 0  # row-level security
    _assert_logged_without_secrets(logs, "oauth_state_invalid", state, _param(url, "code"))


def test_another_platforms_state_is_refused(browser, tenant):
    url = browser.authorize("stripe")
    response = browser.callback(_with(url).replace(CALLBACK.format("stripe"), CALLBACK.format("google_ads")))
    assert_problem(response, 400, "oauth_state_invalid")
    _nothing_stored(tenant)


def test_a_callback_at_another_address_than_the_one_started_for_is_refused(browser, tenant, logs, simulated, settings):
    url = browser.authorize("stripe")  # started (and registered) for http://testserver/…
    # The callback URL follows OAUTH_REDIRECT_BASE_URL only (never the Host header, see
    # tests/security/test_oauth_binding.py): here the service moved between start and callback.
    settings.OAUTH_REDIRECT_BASE_URL = "https://api.moved.example"
    response = browser.callback(url)
    assert_problem(response, 400, "oauth_redirect_mismatch")
    assert simulated.endpoint_calls("stripe", "token") == 0
    _nothing_stored(tenant)
    _assert_logged_without_secrets(logs, "oauth_redirect_mismatch", _param(url, "state"), _param(url, "code"))


@pytest.mark.parametrize(
    "tamper",
    [
        {"hmac": "0" * 64},
        {"hmac": None},
        {"timestamp": "1"},  # any signed parameter changed
        {"shop": "evil.myshopify.com"},
    ],
    ids=["wrong-hmac", "no-hmac", "altered-timestamp", "altered-shop"],
)
def test_a_shopify_callback_whose_signature_does_not_verify_is_refused(browser, tenant, logs, simulated, tamper):
    url = browser.authorize("shopify", shop="victim.myshopify.com")
    response = browser.callback(_with(url, **tamper))
    assert_problem(response, 400, "oauth_signature_invalid")
    assert simulated.endpoint_calls("shopify", "token") == 0
    _nothing_stored(tenant)
    _assert_logged_without_secrets(logs, "oauth_signature_invalid", _param(url, "state"), _param(url, "code"))
    assert browser.callback(url).status_code == 200  # the untampered callback was never spent


def test_a_shopify_callback_signed_for_another_shop_is_refused(browser, tenant, simulated):
    genuine = browser.authorize("shopify", shop="victim.myshopify.com")
    attacker = browser.authorize("shopify", shop="attacker.myshopify.com")
    # The attacker's own, correctly signed callback (their shop, their code) with the victim's state.
    response = browser.callback(_with(attacker, state=_param(genuine, "state")))
    assert_problem(response, 400, "oauth_signature_invalid")
    _nothing_stored(tenant)


@pytest.mark.parametrize("platform", ["google_ads", "meta_ads"])
def test_an_injected_code_fails_pkce_at_the_platform_and_is_reported(browser, tenant, logs, simulated, platform):
    victim = browser.authorize(platform)
    attacker = browser.authorize(platform)  # a code bound to another PKCE challenge
    response = browser.callback(_with(victim, code=_param(attacker, "code")))

    body = assert_problem(response, 400, "oauth_code_rejected")
    assert "code verifier" in body["detail"].lower()  # what the platform said
    assert simulated.endpoint_calls(platform, "token") == 1  # the platform refused the exchange
    _nothing_stored(tenant)
    _assert_logged_without_secrets(logs, "oauth_code_rejected", _param(victim, "state"), _param(attacker, "code"))


def test_a_denied_consent_goes_to_the_failure_page_with_only_an_error_code(browser, tenant, simulated, settings):
    settings.OAUTH_FAILURE_URL = "https://app.example.com/connect-failed"
    simulated.set_consent("meta_ads", deny=True)
    url = browser.authorize("meta_ads")
    response = browser.callback(url)
    assert response.status_code == 302
    assert response["Location"] == (
        "https://app.example.com/connect-failed?status=error&platform=meta_ads&error=oauth_denied"
    )
    _nothing_stored(tenant)


def test_a_forged_state_never_goes_to_the_failure_page(browser, tenant, settings):
    settings.OAUTH_FAILURE_URL = "https://app.example.com/connect-failed"
    url = browser.authorize("stripe")
    assert_problem(browser.callback(_with(url, state="v1.forged")), 400, "oauth_state_invalid")


def test_a_platform_failure_during_the_exchange_is_a_502_and_stores_nothing(browser, tenant, simulated):
    url = browser.authorize("google_ads")
    simulated.set_fault("google_ads", "*", "503", endpoint="token")
    response = browser.callback(url)
    body = assert_problem(response, 502, "oauth_platform_error")
    assert "Google" in body["detail"]
    _nothing_stored(tenant)


def _withdrawals(logs) -> list[str]:
    return [r.outcome for r in logs.records if getattr(r, "event", None) == "oauth_grant_withdrawn"]


def test_a_grant_whose_accounts_cannot_be_named_is_revoked_at_the_platform(browser, tenant, logs, simulated):
    url = browser.authorize("google_ads")
    simulated.set_fault("google_ads", "*", "503", endpoint="identity")
    response = browser.callback(url)

    assert_problem(response, 502, "oauth_platform_error")
    _nothing_stored(tenant)
    assert simulated.endpoint_calls("google_ads", "revoke") == 1  # no live authorization left behind
    assert _withdrawals(logs) == ["revoked"]


def test_a_grant_for_no_readable_account_is_revoked_at_the_platform(browser, tenant, logs, simulated):
    simulated.set_consent("meta_ads", [])
    response = browser.callback(browser.authorize("meta_ads"))

    assert_problem(response, 422, "oauth_no_accounts")
    _nothing_stored(tenant)
    assert simulated.endpoint_calls("meta_ads", "revoke") == 1
    assert _withdrawals(logs) == ["revoked"]


def test_a_revocation_that_fails_is_logged_and_the_callback_still_answers_with_the_first_problem(
    browser, tenant, logs, simulated
):
    simulated.set_consent("google_ads", [])
    url = browser.authorize("google_ads")
    simulated.set_fault("google_ads", "*", "503", endpoint="revoke")
    response = browser.callback(url)

    assert_problem(response, 422, "oauth_no_accounts")
    _nothing_stored(tenant)
    assert simulated.endpoint_calls("google_ads", "revoke") >= 1  # tried (with urllib3's retries)
    assert _withdrawals(logs) == ["upstream"]
    logs.scan.assert_free_of()  # the app's secrets never reach a log


def test_a_grant_that_is_stored_is_not_revoked(browser, tenant, logs, simulated):
    response = browser.complete(browser.authorize("google_ads"))
    assert response.status_code in (200, 302), response.content
    assert simulated.endpoint_calls("google_ads", "revoke") == 0
    assert _withdrawals(logs) == []
