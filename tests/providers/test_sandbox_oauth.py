"""The simulator's authorization servers (Stripe Connect, Shopify, Google, Meta) over a
real socket, without our service: registered apps, the consent redirect, single-use and
expiring codes bound to client, redirect URI and PKCE challenge, identity endpoints,
revocation that kills every token of a grant, and per-endpoint call counts."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from connections.oauth.shopify import callback_hmac
from providers.sandbox import Sandbox

NOW = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)
REDIRECT = "https://api.example.com/api/v1/connections/oauth/{}/callback"
APPS = {
    "stripe": ("ca_sim", "sk_test_sim_platform_key"),
    "shopify": ("shop-app", "shpss_sim_secret"),
    "google_ads": ("gcid.apps", "g-secret"),
    "meta_ads": ("4455", "meta-secret"),
}
VERIFIER = "v" * 43 + "-._~0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    sandbox.set_now(NOW)
    for platform, (client_id, secret) in APPS.items():
        sandbox.register_app(platform, client_id, secret)
    return sandbox


def _authorize(sb: Sandbox, path: str, **params: str) -> requests.Response:
    return requests.get(f"{sb.url}{path}?{urlencode(params)}", allow_redirects=False, timeout=10)


def _redirected(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def _google_code(sb: Sandbox, **extra: str) -> str:
    params = {
        "client_id": "gcid.apps",
        "redirect_uri": REDIRECT.format("google_ads"),
        "response_type": "code",
        "scope": "https://www.googleapis.com/auth/adwords",
        "access_type": "offline",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }
    back = _redirected(_authorize(sb, "/o/oauth2/v2/auth", **params))
    assert back["state"] == "s1"
    return back["code"]


def _google_exchange(sb: Sandbox, code: str, **extra: str | None) -> requests.Response:
    """The code exchange; `extra` replaces form fields (None leaves one out)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT.format("google_ads"),
        "client_id": "gcid.apps",
        "client_secret": "g-secret",
        "code_verifier": VERIFIER,
        **extra,
    }
    return requests.post(f"{sb.url}/token", data={k: v for k, v in form.items() if v is not None}, timeout=10)


def test_google_issues_a_code_then_tokens_for_the_right_verifier(sb):
    sb.set_consent("google_ads", ["1234500840"])
    answer = _google_exchange(sb, _google_code(sb))
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["refresh_token"].startswith("1//sbx.") and tokens["expires_in"] == 3599
    customers = requests.get(
        f"{sb.url}/v26/customers:listAccessibleCustomers",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "developer-token": "dev"},
        timeout=10,
    )
    assert customers.json() == {"resourceNames": ["customers/1234500840"]}
    assert sb.endpoint_calls("google_ads") == {"authorize": 1, "token": 1, "identity": 1}


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"code_verifier": "w" * 43}, "invalid_grant", "Invalid code verifier."),
        ({"code_verifier": None}, "invalid_grant", "Invalid code verifier."),
        ({"redirect_uri": "https://evil.example.com/cb"}, "redirect_uri_mismatch", "Bad Request"),
        ({"client_secret": "wrong"}, "invalid_client", "The OAuth client was not found."),
    ],
    ids=["pkce-mismatch", "pkce-missing", "redirect-mismatch", "wrong-secret"],
)
def test_google_refuses_an_exchange_that_does_not_match_the_authorization(sb, change, error, description):
    answer = _google_exchange(sb, _google_code(sb), **change)
    assert answer.status_code in (400, 401)
    assert answer.json() == {"error": error, "error_description": description}


def test_a_code_is_single_use_and_expires(sb):
    code = _google_code(sb)
    assert _google_exchange(sb, code).status_code == 200
    reused = _google_exchange(sb, code)
    assert reused.json()["error"] == "invalid_grant" and "already used" in reused.json()["error_description"]
    late = _google_code(sb)
    sb.set_now(NOW + timedelta(minutes=11))
    assert "expired" in _google_exchange(sb, late).json()["error_description"]


def test_an_unknown_client_gets_an_error_page_and_no_redirect(sb):
    answer = _authorize(sb, "/o/oauth2/v2/auth", client_id="who", redirect_uri=REDIRECT.format("x"), state="s")
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")


def test_a_denied_consent_redirects_with_access_denied(sb):
    sb.set_consent("meta_ads", deny=True)
    back = _redirected(
        _authorize(sb, "/v27.0/dialog/oauth", client_id="4455", redirect_uri=REDIRECT.format("meta_ads"), state="s9")
    )
    assert back["error"] == "access_denied" and back["state"] == "s9" and "code" not in back


def test_revoking_a_google_grant_kills_its_refresh_and_access_tokens(sb):
    tokens = _google_exchange(sb, _google_code(sb)).json()
    assert requests.post(f"{sb.url}/revoke", data={"token": tokens["refresh_token"]}, timeout=10).status_code == 200
    again = requests.post(f"{sb.url}/revoke", data={"token": tokens["refresh_token"]}, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    refresh = requests.post(
        f"{sb.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "gcid.apps",
            "client_secret": "g-secret",
        },
        timeout=10,
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert sb.state.is_revoked("google_ads", tokens["access_token"])
    assert sb.endpoint_calls("google_ads", "revoke") == 2


def test_a_google_refresh_token_only_works_for_its_own_client(sb):
    tokens = _google_exchange(sb, _google_code(sb)).json()
    answer = requests.post(
        f"{sb.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "another",
            "client_secret": "x",
        },
        timeout=10,
    )
    assert answer.json()["error"] == "unauthorized_client"


def test_meta_exchanges_short_lived_for_long_lived_and_deleting_permissions_revokes(sb):
    sb.set_consent("meta_ads", ["act_777"])
    code = _redirected(
        _authorize(
            sb,
            "/v27.0/dialog/oauth",
            client_id="4455",
            redirect_uri=REDIRECT.format("meta_ads"),
            state="s",
            scope="ads_read",
            code_challenge=CHALLENGE,
            code_challenge_method="S256",
        )
    )["code"]
    base = {"client_id": "4455", "client_secret": "meta-secret"}
    short = requests.post(
        f"{sb.url}/v27.0/oauth/access_token",
        data={**base, "redirect_uri": REDIRECT.format("meta_ads"), "code": code, "code_verifier": VERIFIER},
        timeout=10,
    ).json()
    assert short["expires_in"] == 3600
    long = requests.post(
        f"{sb.url}/v27.0/oauth/access_token",
        data={**base, "grant_type": "fb_exchange_token", "fb_exchange_token": short["access_token"]},
        timeout=10,
    ).json()
    assert long["expires_in"] == 60 * 86400
    auth = {"Authorization": f"Bearer {long['access_token']}"}
    accounts = requests.get(f"{sb.url}/v27.0/me/adaccounts", headers=auth, timeout=10).json()
    assert [a["id"] for a in accounts["data"]] == ["act_777"]
    assert requests.delete(f"{sb.url}/v27.0/me/permissions", headers=auth, timeout=10).json() == {"success": True}
    refused = requests.get(f"{sb.url}/v27.0/act_777/insights", headers=auth, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 190


def test_meta_refuses_a_wrong_verifier(sb):
    code = _redirected(
        _authorize(
            sb,
            "/v27.0/dialog/oauth",
            client_id="4455",
            redirect_uri=REDIRECT.format("meta_ads"),
            state="s",
            code_challenge=CHALLENGE,
            code_challenge_method="S256",
        )
    )["code"]
    answer = requests.post(
        f"{sb.url}/v27.0/oauth/access_token",
        data={
            "client_id": "4455",
            "client_secret": "meta-secret",
            "redirect_uri": REDIRECT.format("meta_ads"),
            "code": code,
            "code_verifier": "x" * 43,
        },
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["error"]["message"] == "Invalid code verifier"


def test_stripe_connect_token_reads_the_connected_account_until_deauthorized(sb):
    sb.set_consent("stripe", ["acct_1Sim"])
    back = _redirected(
        _authorize(
            sb,
            "/oauth/authorize",
            response_type="code",
            client_id="ca_sim",
            scope="read_only",
            redirect_uri=REDIRECT.format("stripe"),
            state="st",
        )
    )
    assert back["scope"] == "read_only" and back["code"].startswith("ac_")
    tokens = requests.post(
        f"{sb.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": back["code"]},
        auth=("sk_test_sim_platform_key", ""),
        timeout=10,
    ).json()
    assert tokens["stripe_user_id"] == "acct_1Sim" and tokens["scope"] == "read_only"
    charges = {"Authorization": f"Bearer {tokens['access_token']}", "Stripe-Version": "2026-09-30.endive"}
    assert requests.get(f"{sb.url}/v1/charges", headers=charges, timeout=10).status_code == 200
    assert sb.calls("stripe", "acct_1Sim") == 1  # the token names its account

    form = {"client_id": "ca_sim", "stripe_user_id": "acct_1Sim"}
    done = requests.post(f"{sb.url}/oauth/deauthorize", data=form, auth=("sk_test_sim_platform_key", ""), timeout=10)
    assert done.json() == {"stripe_user_id": "acct_1Sim"}
    assert requests.get(f"{sb.url}/v1/charges", headers=charges, timeout=10).status_code == 401
    again = requests.post(f"{sb.url}/oauth/deauthorize", data=form, auth=("sk_test_sim_platform_key", ""), timeout=10)
    assert again.status_code == 401 and "not connected" in again.json()["error_description"]


def test_shopify_signs_the_callback_and_binds_the_token_to_the_shop(sb):
    answer = _authorize(
        sb,
        "/admin/oauth/authorize",
        client_id="shop-app",
        scope="read_orders",
        redirect_uri=REDIRECT.format("shopify"),
        state="sh",
        shop="sim.myshopify.com",
    )
    back = _redirected(answer)
    assert back["shop"] == "sim.myshopify.com" and back["state"] == "sh"
    assert back["hmac"] == callback_hmac(back, "shpss_sim_secret")  # what our flow verifies
    assert back["hmac"] != callback_hmac({**back, "timestamp": "1"}, "shpss_sim_secret")
    token = requests.post(
        f"{sb.url}/admin/oauth/access_token",
        json={"client_id": "shop-app", "client_secret": "shpss_sim_secret", "code": back["code"]},
        headers={"X-Skeldir-Shop": "sim.myshopify.com"},
        timeout=10,
    ).json()
    assert token["scope"] == "read_orders"
    query = {"query": "{ shop { myshopifyDomain } }"}
    graphql = f"{sb.url}/admin/api/2026-10/graphql.json"
    mine = {"X-Shopify-Access-Token": token["access_token"], "X-Skeldir-Shop": "sim.myshopify.com"}
    assert requests.post(graphql, json=query, headers=mine, timeout=10).json()["data"]["shop"] == {
        "myshopifyDomain": "sim.myshopify.com"
    }
    other = {**mine, "X-Skeldir-Shop": "other.myshopify.com"}
    assert requests.post(graphql, json=query, headers=other, timeout=10).status_code == 401
    uninstall = f"{sb.url}/admin/api_permissions/current.json"
    assert requests.delete(uninstall, headers=mine, timeout=10).status_code == 200
    assert requests.post(graphql, json=query, headers=mine, timeout=10).status_code == 401


def test_the_control_api_registers_apps_sets_consent_and_counts_per_endpoint(sandbox):
    base = f"{sandbox.url}/_sandbox"
    assert (
        requests.post(
            f"{base}/oauth/apps", json={"platform": "meta_ads", "client_id": "99", "client_secret": "s"}, timeout=10
        ).status_code
        == 201
    )
    assert (
        requests.post(
            f"{base}/oauth/consent", json={"platform": "meta_ads", "accounts": ["act_1"]}, timeout=10
        ).status_code
        == 200
    )
    assert requests.post(f"{base}/oauth/apps", json={"platform": "nope"}, timeout=10).status_code == 400
    _redirected(
        _authorize(sandbox, "/v27.0/dialog/oauth", client_id="99", redirect_uri=REDIRECT.format("m"), state="s")
    )
    assert requests.get(f"{base}/calls?by=endpoint", timeout=10).json() == {"meta_ads": {"authorize": 1}}
