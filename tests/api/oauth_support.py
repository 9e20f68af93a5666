"""Wiring for the connections API tests: every adapter and OAuth flow pointed at the local
simulator, our test apps registered with its authorization servers, a live server for
real-HTTP flows, and helpers to play the merchant's browser."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from tests.simulation import point_providers_at

# platform → (client id, client secret) of our app, registered with the simulator. Google's
# are the test settings' (the revenue adapter refreshes tokens with the same app).
STRIPE_APP_SECRET = "sk_test_platform_secret_0123456789"  # Stripe: the platform's secret key
SHOPIFY_APP_SECRET = "shpss_app_secret_0123456789"
GOOGLE_APP_SECRET = "test-oauth-client-secret"
META_APP_SECRET = "meta-app-secret-0123456789"
APPS = {
    "stripe": ("ca_test_skeldir", STRIPE_APP_SECRET),
    "shopify": ("shopify-app-key-test", SHOPIFY_APP_SECRET),
    "google_ads": ("test-client-id.apps.example", GOOGLE_APP_SECRET),
    "meta_ads": ("1122334455", META_APP_SECRET),
}
APP_SECRETS = tuple(secret for _, secret in APPS.values())


def point_at(sandbox: Any, settings: Any, redirect_base: str = "http://testserver") -> Any:
    """Every adapter and OAuth flow at the simulator, our apps registered with it, and the
    callback URLs pinned to `redirect_base` (the test client's host, or a live server's)."""
    url = point_providers_at(sandbox, settings).url
    oauth = copy.deepcopy(settings.CONNECTIONS_OAUTH)
    for platform, (client_id, client_secret) in APPS.items():
        oauth[platform]["OPTIONS"].update(client_id=client_id, client_secret=client_secret)
    oauth["stripe"]["OPTIONS"].update(
        authorize_url=f"{url}/oauth/authorize", token_url=f"{url}/oauth/token", revoke_url=f"{url}/oauth/deauthorize"
    )
    oauth["shopify"]["OPTIONS"]["base_url"] = url
    oauth["google_ads"]["OPTIONS"].update(
        authorize_url=f"{url}/o/oauth2/v2/auth", token_url=f"{url}/token", revoke_url=f"{url}/revoke"
    )
    oauth["meta_ads"]["OPTIONS"].update(authorize_url=f"{url}/v27.0/dialog/oauth", base_url=url)
    settings.CONNECTIONS_OAUTH = oauth
    settings.OAUTH_SUCCESS_URL = ""
    settings.OAUTH_FAILURE_URL = ""
    settings.OAUTH_REDIRECT_BASE_URL = redirect_base
    for platform, (client_id, client_secret) in APPS.items():
        sandbox.register_app(platform, client_id, client_secret)
    return sandbox


@pytest.fixture
def simulated(sandbox, settings, request):
    # The callback URL is never taken from the request (OAUTH_REDIRECT_BASE_URL): a test on
    # the live server has the platform send the browser back there, others to the test client.
    live = "live_url" in request.fixturenames
    return point_at(sandbox, settings, request.getfixturevalue("live_url") if live else "http://testserver")


def headers(token: str | None) -> dict[str, str]:
    sent = {"X-Correlation-ID": str(uuid.uuid4())}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return sent


def start(base: str, token: str, platform: str, **body: Any) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/connections/oauth/{platform}/start", json=body, headers=headers(token), timeout=10
    )


def consent(authorize_url: str) -> str:
    """The merchant approves on the (simulated) platform: the callback URL it sends them to."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def confirm(base: str, token: str | None, platform: str, confirmation: object) -> requests.Response:
    """The dashboard confirms the install with the code its browser got from the callback."""
    return requests.post(
        f"{base}/api/v1/connections/oauth/{platform}/confirm",
        json={"confirmation": confirmation},
        headers=headers(token),
        timeout=10,
    )


def install(base: str, token: str, platform: str, **body: Any) -> requests.Response:
    """start → authorize → callback → confirm with the same token, as the starting user's
    browser and dashboard do, over real HTTP; the confirmation's answer, with the `state`,
    `code` and `confirmation` the browser carried as attributes (for leak checks)."""
    started = start(base, token, platform, **body)
    assert started.status_code == 201, started.text
    callback = consent(started.json()["authorize_url"])
    pending = requests.get(callback, allow_redirects=False, timeout=10)
    assert pending.status_code == 200, pending.text
    assert pending.json()["status"] == "confirmation_required"
    confirmation = pending.json()["confirmation"]
    answer = confirm(base, token, platform, confirmation)
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    answer.oauth_state, answer.oauth_code = query["state"], query["code"]  # type: ignore[attr-defined]
    answer.oauth_confirmation = confirmation  # type: ignore[attr-defined]
    return answer


class LogScan:
    """This test's log records, as logged (before any redaction) and as written, from the
    suite-wide scanner (tests.secret_scan). The test's own HTTP client (urllib3 playing the
    merchant's browser, which does see the state in the authorize URL) is not the service."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.start = (len(handler.raw), len(handler.written))

    def lines(self) -> list[str]:
        raw = self.handler.raw[self.start[0] :]
        written = self.handler.written[self.start[1] :]
        return [line for line in raw + written if "urllib3" not in line.split(" ", 1)[0] and '"urllib3' not in line]

    def assert_free_of(self, *secrets: str | None) -> None:
        lines = self.lines()
        assert lines, "nothing was logged"
        for secret in (*secrets, *APP_SECRETS):
            if secret:
                leaked = [line for line in lines if secret in line]
                assert not leaked, f"a secret starting {secret[:6]!r} was logged: {leaked[0][:300]}"


@pytest.fixture
def log_scan(_no_secret_in_any_log: Any) -> LogScan:
    return LogScan(_no_secret_in_any_log)


class Browser:
    """The merchant's browser: our API through Django's test client, the platform over HTTP."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.token = token

    def start(self, platform: str, **body: str):
        return self.client.post(
            f"/api/v1/connections/oauth/{platform}/start",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
            HTTP_X_CORRELATION_ID=str(uuid.uuid4()),
        )

    def authorize(self, platform: str, **body: str) -> str:
        """start, then the platform's consent: the callback URL (path and query) it sends back."""
        started = self.start(platform, **body)
        assert started.status_code == 201, started.content
        answer = requests.get(started.json()["authorize_url"], allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        parts = urlsplit(answer.headers["Location"])
        return f"{parts.path}?{parts.query}"

    def callback(self, url: str, **extra: str):
        """The platform's redirect back: the grant is held, the code to confirm it returned."""
        return self.client.get(url, **extra)

    def confirm(self, platform: str, confirmation: object, token: str | None = None):
        """The dashboard's confirmation, with this browser's user's token unless another is given."""
        return self.client.post(
            f"/api/v1/connections/oauth/{platform}/confirm",
            data=json.dumps({"confirmation": confirmation}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token or self.token}",
            HTTP_X_CORRELATION_ID=str(uuid.uuid4()),
        )

    def complete(self, url: str, **extra: str):
        """callback, then (when it held a grant) the confirmation: what the install ends in."""
        pending = self.callback(url, **extra)
        if pending.status_code != 200:
            return pending
        platform = url.split("/oauth/", 1)[1].split("/", 1)[0]
        return self.confirm(platform, pending.json()["confirmation"])
