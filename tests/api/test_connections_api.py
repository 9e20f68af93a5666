"""GET/POST /api/v1/connections and DELETE /api/v1/connections/{id}: scopes and tenants,
keys checked with the (simulated) platform before anything is stored, and disconnecting
that revokes at the platform, is idempotent, and shows in the revenue snapshot."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from connections.models import PlatformConnection, PlatformCredential
from connections.selectors import credential_get
from revenue.realtime import revenue_refresh
from revenue.snapshot import Snapshot
from skeldir.tenancy import tenant_context
from tests.api.oauth_support import APP_SECRETS, Browser
from tests.api.test_realtime_api import assert_problem
from tests.factories import make_connection, make_tenant

pytestmark = pytest.mark.django_db
LIST = "/api/v1/connections"
STRIPE_KEY = "rk_test_51KeysForTheApiTest"
PAYPAL_CLIENT_SECRET = "paypal-secret-api-0123"
WOO_CONSUMER_SECRET = "cs_fedcba9876543210"
PAYPAL = {"platform": "paypal", "client_id": "paypal-client-api", "client_secret": PAYPAL_CLIENT_SECRET}
WOO = {
    "platform": "woocommerce",
    "store_url": "https://keys.example.com/shop",
    "consumer_key": "ck_0123456789abcdef",
    "consumer_secret": WOO_CONSUMER_SECRET,
}


class Api:
    def __init__(self) -> None:
        self.client = Client()

    def _headers(self, token: str | None, correlation_id: str | None) -> dict[str, str]:
        sent = {}
        if token is not None:
            sent["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if correlation_id is not None:
            sent["HTTP_X_CORRELATION_ID"] = correlation_id
        return sent

    def get(self, path: str, token: str | None = None, correlation_id: str | None = "auto"):
        return self.client.get(path, **self._headers(token, _cid(correlation_id)))

    def post(self, path: str, body: object, token: str | None = None, correlation_id: str | None = "auto"):
        return self.client.post(
            path, data=json.dumps(body), content_type="application/json", **self._headers(token, _cid(correlation_id))
        )

    def delete(self, path: str, token: str | None = None, correlation_id: str | None = "auto"):
        return self.client.delete(path, **self._headers(token, _cid(correlation_id)))


def _cid(value: str | None) -> str | None:
    return str(uuid.uuid4()) if value == "auto" else value


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
def tenant():
    return make_tenant("keys")


@pytest.fixture
def manager(tenant, mint) -> str:
    return mint(tenant.id, scopes=["manager"])


@pytest.fixture
def viewer(tenant, mint) -> str:
    return mint(tenant.id, scopes=["viewer"])


def _count(tenant) -> tuple[int, int]:
    with tenant_context(tenant.id):
        return PlatformConnection.objects.count(), PlatformCredential.objects.count()


def _secret_free(response, *secrets: str, scan=None) -> None:
    """Not in the answer (body, headers) and, given the test's log scan, not in any log line."""
    text = response.content.decode() + json.dumps(dict(response.items()))
    for secret in (*secrets, *APP_SECRETS):
        assert secret not in text
    if scan is not None:
        scan.assert_free_of(*secrets)


# --- scopes, tenants, correlation id on every route ------------------------------------------

ROUTES = [
    ("get", LIST, "viewer"),
    ("post", LIST, "manager"),
    ("delete", f"{LIST}/00000000-0000-4000-8000-000000000001", "manager"),
    ("post", f"{LIST}/oauth/stripe/start", "manager"),
]


def _call(api: Api, method: str, path: str, token: str | None, correlation_id: str | None = "auto"):
    if method == "post":
        return api.post(path, {}, token, correlation_id)
    return getattr(api, method)(path, token, correlation_id)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_a_token(api, jwt_keys, method, path, scope, simulated):
    response = _call(api, method, path, None)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_problem(_call(api, method, path, "not-a-jwt"), 401, "token_malformed")


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_its_scope(api, tenant, mint, method, path, scope, simulated):
    other = {"viewer": ["manager"], "manager": ["viewer"]}[scope]  # scopes are exact, no hierarchy
    response = _call(api, method, path, mint(tenant.id, scopes=other))
    body = assert_problem(response, 403, "insufficient_scope")
    assert scope in body["detail"] and f'scope="{scope}"' in response["WWW-Authenticate"]
    assert _count(tenant) == (0, 0)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_a_correlation_id(api, tenant, mint, method, path, scope):
    response = _call(api, method, path, mint(tenant.id, scopes=[scope]), correlation_id=None)
    assert_problem(response, 400, "correlation_id_missing")


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES[:2] + ROUTES[3:])
def test_a_token_for_a_tenant_that_does_not_exist_is_a_404(api, mint, method, path, scope, simulated):
    body = {"platform": "stripe", "account_id": "acct_nobody", "api_key": STRIPE_KEY} if method == "post" else {}
    token = mint(uuid.uuid4(), scopes=[scope])
    response = api.post(path, body, token) if method == "post" else api.get(path, token)
    assert_problem(response, 404, "tenant_not_found")


# --- listing ---------------------------------------------------------------------------------


def test_the_list_shows_the_tenants_connections_and_lifecycle_never_a_token(api, tenant, viewer):
    make_connection(tenant, "stripe", "acct_listed", access_token="sk_test_listed_secret_value")
    make_connection(tenant, "google_ads", "1234567890", access_token="ya29.listed", refresh_token="1//listed-refresh")
    other = make_tenant("other")
    make_connection(other, "stripe", "acct_other_tenant", access_token="sk_test_other_secret")

    response = api.get(LIST, viewer)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    items = response.json()["connections"]
    assert [(i["platform"], i["account_id"]) for i in items] == [
        ("google_ads", "1234567890"),
        ("stripe", "acct_listed"),
    ]
    assert items[0]["connected_via"] == "operator" and items[0]["status"] == "active"
    assert set(items[0]["credential"]) == {
        "lifecycle_status",
        "expires_at",
        "scope",
        "last_refresh_at",
        "last_failure_class",
        "last_failure_at",
        "revoked_at",
    }
    assert items[0]["credential"]["lifecycle_status"] == "active"
    _secret_free(response, "sk_test_listed_secret_value", "ya29.listed", "1//listed-refresh", "acct_other_tenant")


# --- connecting with keys --------------------------------------------------------------------


def test_valid_stripe_keys_are_checked_with_stripe_then_stored_encrypted(api, tenant, manager, simulated, log_scan):
    body = {"platform": "stripe", "account_id": "acct_keyed", "api_key": STRIPE_KEY}
    response = api.post(LIST, body, manager)

    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["platform"], created["account_id"], created["connected_via"]) == ("stripe", "acct_keyed", "keys")
    assert created["credential"]["lifecycle_status"] == "active"
    assert simulated.endpoint_calls("stripe") == {"data": 2}  # one cheap read of each: charges, disputes
    with tenant_context(tenant.id):
        assert credential_get(connection_id=uuid.UUID(created["id"])).access_token == STRIPE_KEY
        raw = bytes(PlatformCredential.objects.values_list("encrypted_access_token", flat=True).get())
    assert STRIPE_KEY.encode() not in raw
    _secret_free(response, STRIPE_KEY, scan=log_scan)

    again = api.post(LIST, body, manager)  # the same account again: an update
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    assert _count(tenant) == (1, 1)


def test_valid_paypal_credentials_store_the_token_paypal_issued(api, tenant, manager, simulated, log_scan):
    response = api.post(LIST, {**PAYPAL, "account_id": "MERCHANT-KEYS"}, manager)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["account_id"] == "MERCHANT-KEYS" and body["credential"]["expires_at"] is not None
    with tenant_context(tenant.id):
        tokens = credential_get(connection_id=uuid.UUID(body["id"]))
    assert tokens.access_token.startswith("A21AAsbx.")  # from the client-credentials grant
    assert tokens.refresh_token == "paypal-client-api:paypal-secret-api-0123"
    _secret_free(response, PAYPAL["client_secret"], tokens.access_token, scan=log_scan)


def test_valid_woocommerce_keys_are_stored_for_the_store(api, tenant, manager, simulated, log_scan, settled_day):
    response = api.post(LIST, WOO, manager)
    assert response.status_code == 201, response.content
    assert response.json()["account_id"] == "https://keys.example.com/shop"
    assert simulated.calls("woocommerce", "keys.example.com/shop") == 1
    _secret_free(response, WOO["consumer_secret"])

    [source] = Snapshot.from_payload(
        revenue_refresh(tenant.id, correlation_id=str(uuid.uuid4()), force=True).entry.payload
    ).sources
    assert source.status == "ok" and source.figures.count > 0
    _secret_free(response, WOO["consumer_secret"], WOO["consumer_key"], scan=log_scan)


@pytest.mark.parametrize(
    ("body", "revoke", "said"),
    [
        ({"platform": "stripe", "account_id": "acct_bad", "api_key": STRIPE_KEY}, ("stripe", STRIPE_KEY), "HTTP 401"),
        (PAYPAL, ("paypal", "paypal-client-api"), "Client Authentication failed"),
        (WOO, ("woocommerce", "ck_0123456789abcdef"), "Consumer key is invalid"),
    ],
    ids=["stripe", "paypal", "woocommerce"],
)
def test_keys_the_platform_refuses_are_a_422_naming_what_it_said_and_nothing_is_stored(
    api, tenant, manager, simulated, body, revoke, said, log_scan
):
    simulated.revoke(*revoke)
    response = api.post(LIST, body, manager)
    problem = assert_problem(response, 422, "credentials_rejected")
    assert said in problem["detail"] and "nothing was stored" in problem["detail"]
    assert _count(tenant) == (0, 0)
    _secret_free(response, STRIPE_KEY, PAYPAL["client_secret"], WOO["consumer_secret"], scan=log_scan)


def test_a_platform_that_cannot_be_asked_is_a_502_and_nothing_is_stored(api, tenant, manager, simulated):
    simulated.set_fault("stripe", "*", "503")
    response = api.post(LIST, {"platform": "stripe", "account_id": "acct_down", "api_key": STRIPE_KEY}, manager)
    assert_problem(response, 502, "platform_unavailable")
    assert _count(tenant) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "shopify", "access_token": "shpat_x"},  # not a key platform: OAuth
        {"platform": "stripe", "account_id": "acct_x"},  # no key
        {"platform": "stripe", "account_id": "acct_x", "api_key": "pk_live_publishable"},  # not a secret key
        {"platform": "woocommerce", "store_url": "not a url", "consumer_key": "ck_1", "consumer_secret": "cs_1"},
        {"platform": "paypal", "client_id": "a", "client_secret": "b", "extra": "field"},
        ["not", "an", "object"],
    ],
)
def test_an_invalid_body_is_a_400_without_calling_the_platform(api, tenant, manager, simulated, body):
    response = api.post(LIST, body, manager)
    problem = assert_problem(response, 400, "validation_error")
    assert "pk_live_publishable" not in problem["detail"]
    assert simulated.calls() == {}
    assert _count(tenant) == (0, 0)


# --- disconnecting ---------------------------------------------------------------------------


def _oauth_connect(tenant, mint, platform: str, **body: str) -> list[str]:
    browser = Browser(mint(tenant.id, scopes=["manager"]))
    answer = browser.complete(browser.authorize(platform, **body))
    assert answer.status_code == 200, answer.content
    return [c["id"] for c in answer.json()["connections"]]


@pytest.mark.parametrize(
    ("platform", "consent", "body"),
    [
        ("stripe", ["acct_1Disconnect"], {}),
        ("shopify", None, {"shop": "disconnect.myshopify.com"}),
        ("google_ads", ["5555555840"], {}),
        ("meta_ads", ["act_6666666840"], {}),
    ],
)
def test_disconnect_revokes_at_the_platform_once_and_is_idempotent(
    api, tenant, manager, mint, simulated, platform, consent, body, log_scan
):
    if consent:
        simulated.set_consent(platform, consent)
    [connection_id] = _oauth_connect(tenant, mint, platform, **body)
    with tenant_context(tenant.id):
        token = credential_get(connection_id=uuid.UUID(connection_id)).access_token

    first = api.delete(f"{LIST}/{connection_id}", manager)

    assert first.status_code == 200, first.content
    assert first.json()["revocation"] == "revoked"
    assert simulated.endpoint_calls(platform, "revoke") == 1  # the platform was told
    connection = first.json()["connection"]
    assert connection["status"] == "disabled"
    assert connection["credential"]["lifecycle_status"] == "revoked"
    assert connection["credential"]["last_failure_class"] == "disconnected"
    _secret_free(first, token)

    second = api.delete(f"{LIST}/{connection_id}", manager)
    assert second.status_code == 200
    assert second.json()["revocation"] == "already_disconnected"
    assert second.json()["connection"] == connection
    assert simulated.endpoint_calls(platform, "revoke") == 1  # not again
    _secret_free(second, token, scan=log_scan)


def test_after_disconnect_the_revenue_snapshot_reports_the_source_as_reconnect_required(
    api, tenant, manager, viewer, mint, simulated
):
    simulated.set_consent("stripe", ["acct_1Snapshot"])
    [connection_id] = _oauth_connect(tenant, mint, "stripe")
    before = Snapshot.from_payload(revenue_refresh(tenant.id, correlation_id="c1", force=True).entry.payload)
    assert [s.status for s in before.sources] == ["ok"]
    reads = simulated.endpoint_calls("stripe", "data")

    assert api.delete(f"{LIST}/{connection_id}", manager).status_code == 200
    after = Snapshot.from_payload(revenue_refresh(tenant.id, correlation_id="c2", force=True).entry.payload)

    [source] = after.sources
    assert (source.connection_id, source.status) == (connection_id, "reconnect_required")
    assert "reconnect" in source.error
    assert simulated.endpoint_calls("stripe", "data") == reads  # the revoked token is not used
    assert simulated.endpoint_calls("stripe", "revoke") == 1
    realtime = api.get("/api/v1/revenue/realtime", viewer).json()
    assert [(b["account"], b["status"]) for b in realtime["breakdown"]] == [("acct_1Snapshot", "reconnect_required")]
    # A simulated Stripe read with the revoked token is refused: it really was revoked there.
    assert simulated.state.is_revoked("stripe", credential_token(tenant, connection_id))


def credential_token(tenant, connection_id: str) -> str:
    with tenant_context(tenant.id):
        return credential_get(connection_id=uuid.UUID(connection_id)).access_token


def test_keys_have_no_revocation_at_the_platform(api, tenant, manager, simulated):
    created = api.post(LIST, {"platform": "stripe", "account_id": "acct_keys", "api_key": STRIPE_KEY}, manager).json()
    response = api.delete(f"{LIST}/{created['id']}", manager)
    assert response.json()["revocation"] == "not_offered"
    assert simulated.endpoint_calls("stripe") == {"data": 2}  # only the key check at connect time
    assert response.json()["connection"]["status"] == "disabled"


def test_a_failed_revocation_disconnects_here_and_is_retried_by_the_next_delete(api, tenant, manager, mint, simulated):
    simulated.set_consent("google_ads", ["7777777840"])
    [connection_id] = _oauth_connect(tenant, mint, "google_ads")
    simulated.set_fault("google_ads", "*", "503", endpoint="revoke", times=1)

    first = api.delete(f"{LIST}/{connection_id}", manager).json()
    assert first["revocation"] == "failed"
    assert first["connection"]["status"] == "disabled"
    assert first["connection"]["credential"]["lifecycle_status"] == "revoked"

    second = api.delete(f"{LIST}/{connection_id}", manager).json()
    assert second["revocation"] == "revoked"
    assert simulated.endpoint_calls("google_ads", "revoke") == 2


def test_one_authorization_shared_by_two_accounts_is_revoked_with_the_last_of_them(
    api, tenant, manager, mint, simulated
):
    simulated.set_consent("meta_ads", ["act_8888888840", "act_9999999840"])
    first_id, second_id = _oauth_connect(tenant, mint, "meta_ads")

    assert api.delete(f"{LIST}/{first_id}", manager).json()["revocation"] == "kept_for_other_accounts"
    assert simulated.endpoint_calls("meta_ads", "revoke") == 0
    assert api.delete(f"{LIST}/{second_id}", manager).json()["revocation"] == "revoked"
    assert simulated.endpoint_calls("meta_ads", "revoke") == 1


def test_another_tenants_connection_is_a_404_and_stays_connected(api, tenant, manager, simulated):
    other = make_tenant("other")
    theirs = make_connection(other, "stripe", "acct_theirs", access_token="sk_test_theirs_0123")

    response = api.delete(f"{LIST}/{theirs.id}", manager)

    assert_problem(response, 404, "connection_not_found")
    with tenant_context(other.id):
        assert PlatformConnection.objects.get().status == "active"
        assert PlatformCredential.objects.get().lifecycle_status == "active"
    assert_problem(api.delete(f"{LIST}/{uuid.uuid4()}", manager), 404, "connection_not_found")
    assert_problem(api.delete(f"{LIST}/not-a-uuid", manager), 404, "not_found")
