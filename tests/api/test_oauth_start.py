"""POST /api/v1/connections/oauth/{platform}/start: the authorize URL each platform
needs, unavailable platforms, and what is stored for the callback."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from connections.models import OAuthHandshake
from connections.oauth.state import pkce_challenge, state_parse
from skeldir.tenancy import tenant_context
from tests.api.oauth_support import APP_SECRETS, APPS
from tests.api.test_realtime_api import assert_problem
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    return make_tenant("starter")


@pytest.fixture
def start(tenant, mint):
    client = Client()

    def start(platform: str, body: object = None, **extra: str):
        return client.post(
            f"/api/v1/connections/oauth/{platform}/start",
            data=json.dumps(body if body is not None else {}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {mint(tenant.id, scopes=['manager'], sub='merchant-admin-1')}",
            HTTP_X_CORRELATION_ID=str(uuid.uuid4()),
            **extra,
        )

    return start


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize(
    ("platform", "path", "expected"),
    [
        ("stripe", "/oauth/authorize", {"response_type": "code", "scope": "read_only"}),
        ("shopify", "/admin/oauth/authorize", {"scope": "read_orders", "shop": "acme.myshopify.com"}),
        (
            "google_ads",
            "/o/oauth2/v2/auth",
            {
                "response_type": "code",
                "scope": "https://www.googleapis.com/auth/adwords",
                "access_type": "offline",
                "prompt": "consent",
                "code_challenge_method": "S256",
            },
        ),
        (
            "meta_ads",
            "/v27.0/dialog/oauth",
            {"response_type": "code", "scope": "ads_read", "code_challenge_method": "S256"},
        ),
    ],
)
def test_start_answers_the_platforms_authorize_url(tenant, start, simulated, platform, path, expected):
    before = datetime.now(UTC)
    response = start(platform, {"shop": "acme"} if platform == "shopify" else {})

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    url = body["authorize_url"]
    assert url.startswith(f"{simulated.url}{path}?")
    query = _query(url)
    assert query["client_id"] == APPS[platform][0]
    assert query["redirect_uri"] == f"http://testserver/api/v1/connections/oauth/{platform}/callback"
    assert expected.items() <= query.items()
    assert all(secret not in url for secret in APP_SECRETS)
    state = state_parse(query["state"])
    assert state is not None and state.tenant_id == tenant.id
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=9) < expires - before <= timedelta(minutes=10, seconds=5)
    with tenant_context(tenant.id):
        handshake = OAuthHandshake.objects.get(id=state.handshake_id)
    assert handshake.subject == "merchant-admin-1" and handshake.platform == platform
    assert handshake.redirect_uri == query["redirect_uri"] and handshake.consumed_at is None
    assert (handshake.encrypted_code_verifier is not None) == ("code_challenge" in query)
    if "code_challenge" in query:
        assert len(query["code_challenge"]) == 43  # base64url(SHA-256), unpadded


def test_the_verifier_decrypts_to_the_challenges_preimage(tenant, start, simulated):
    from connections.oauth.services import _verifier

    query = _query(start("google_ads").json()["authorize_url"])
    state = state_parse(query["state"])
    with tenant_context(tenant.id):
        verifier = _verifier(state.handshake_id, "test-k1")
    assert pkce_challenge(verifier) == query["code_challenge"]


def test_the_callback_url_can_be_pinned_to_the_public_address(start, simulated, settings):
    settings.OAUTH_REDIRECT_BASE_URL = "https://api.skeldir.example/"
    query = _query(start("stripe").json()["authorize_url"])
    assert query["redirect_uri"] == "https://api.skeldir.example/api/v1/connections/oauth/stripe/callback"


@pytest.mark.parametrize("platform", ["stripe", "shopify", "google_ads", "meta_ads"])
def test_a_platform_without_app_credentials_is_unavailable_not_a_500(start, tenant, settings, platform):
    oauth = copy.deepcopy(settings.CONNECTIONS_OAUTH)
    oauth[platform]["OPTIONS"].update(client_id="", client_secret="")
    settings.CONNECTIONS_OAUTH = oauth
    response = start(platform, {"shop": "acme"})
    body = assert_problem(response, 503, "oauth_unavailable")
    assert "not configured" in body["detail"]
    with tenant_context(tenant.id):
        assert OAuthHandshake.objects.count() == 0


@pytest.mark.parametrize("platform", ["paypal", "woocommerce", "nope"])
def test_a_platform_without_an_oauth_install_is_a_404(start, platform):
    assert_problem(start(platform), 404, "oauth_platform_unknown")


@pytest.mark.parametrize("body", [{}, {"shop": "evil.example.com"}, {"shop": "-bad-.myshopify.com/"}])
def test_shopify_needs_a_myshopify_shop(start, simulated, body):
    body = assert_problem(start("shopify", body), 400, "validation_error")
    assert "shop" in body["detail"]


def test_old_handshakes_are_purged_when_the_tenant_starts_another(tenant, start, simulated):
    first = state_parse(_query(start("stripe").json()["authorize_url"])["state"])
    with tenant_context(tenant.id):
        OAuthHandshake.objects.filter(id=first.handshake_id).update(expires_at=datetime.now(UTC) - timedelta(days=2))
    start("stripe")
    with tenant_context(tenant.id):
        assert not OAuthHandshake.objects.filter(id=first.handshake_id).exists()
        assert OAuthHandshake.objects.count() == 1
