"""The suite-wide scans (tests/secret_scan.py) know the fixtures' secrets and find them: in
a log record, whether as logged or as written (searched at the end of every session), and
in a response's headers, cookies or body as it leaves the service (tests/conftest.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.test import Client

from tests.secret_scan import ResponseScan, SecretScanHandler, fixture_secrets


def test_the_scan_knows_the_factories_stubs_and_settings_secrets():
    secrets = fixture_secrets()
    assert "sk_test_factory_token" in secrets  # tests/factories.py
    assert "1//rt-google" in secrets and "ya29.old" in secrets  # tokens the revenue tests stub
    assert settings.CREDENTIAL_ENCRYPTION_KEYS["keys"]["test-k1"] in secrets
    assert {settings.SECRET_KEY, "test-oauth-client-secret", "test-developer-token"} <= secrets
    assert {"operator-password-for-tests", "a-long-operator-passphrase"} <= secrets  # passwords too
    assert not [s for s in secrets if len(s) < 6 or s.startswith("http")]


def test_the_scan_finds_a_secret_as_logged_and_as_written():
    handler = SecretScanHandler()  # used directly: these records never reach a real handler
    handler.handle(logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("sk_test_factory_token",), None))
    handler.handle(logging.LogRecord("x", logging.INFO, __file__, 1, "key test-developer-token here", None, None))
    leaks = handler.leaks({"sk_test_factory_token", "test-developer-token"})
    assert [leak.split(":")[0] for leak in leaks] == ["logged", "logged"]  # and neither survives the filter
    assert all("<SECRET>" in leak for leak in leaks)
    handler.written.append('{"event": "leaked sk_test_factory_token"}')
    assert any(leak.startswith("written") for leak in handler.leaks({"sk_test_factory_token"}))


def test_a_response_is_searched_in_its_headers_cookies_and_body_escaped_or_not():
    scan = ResponseScan({"sk_test_factory_token", "pass<word>&1"})
    assert scan.check("GET /clean", JsonResponse({"token": "sk_t…oken"})) == []

    header = HttpResponse("ok", headers={"Location": "/done?key=sk_test_factory_token"})
    cookie = HttpResponse("ok")
    cookie.set_cookie("remember", "sk_test_factory_token")
    escaped = HttpResponse("<td>pass&lt;word&gt;&amp;1</td>", content_type="text/html")
    found = [scan.check(f"GET /{n}", r)[0] for n, r in enumerate((header, cookie, escaped))]
    assert [leak.split(" in the ")[1] for leak in found] == ["headers of GET /0", "cookies of GET /1", "body of GET /2"]
    assert all("factory_token" not in leak and "word>" not in leak for leak in found)  # named by 4 characters
    assert scan.leaks == found and scan.scanned == 4


def test_a_private_key_or_a_jwt_in_a_response_is_a_leak_whoever_minted_it():
    scan = ResponseScan(set())
    pem = HttpResponse("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", content_type="text/plain")
    jwt = JsonResponse({"echo": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"})
    assert [leak.split(": ")[1] for leak in scan.check("GET /pem", pem) + scan.check("GET /jwt", jwt)] == [
        "a private key in the body of GET /pem",
        "a signed JWT in the body of GET /jwt",
    ]


def test_every_response_of_the_service_in_this_process_goes_through_the_scan(_no_secret_in_any_response, db):
    before = _no_secret_in_any_response.scanned
    Client().get("/healthz")
    Client().get("/admin/login/")
    assert _no_secret_in_any_response.scanned == before + 2
