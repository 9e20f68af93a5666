"""The suite-wide log scan (tests/log_scan.py) knows the fixtures' secrets and finds them
in a record, whether as logged or as written; the scan itself runs at the end of every
session (tests/conftest.py)."""

from __future__ import annotations

import logging

from django.conf import settings

from tests.log_scan import SecretScanHandler, fixture_secrets


def test_the_scan_knows_the_factories_stubs_and_settings_secrets():
    secrets = fixture_secrets()
    assert "sk_test_factory_token" in secrets  # tests/factories.py
    assert "1//rt-google" in secrets and "ya29.old" in secrets  # tokens the revenue tests stub
    assert settings.CREDENTIAL_ENCRYPTION_KEYS["keys"]["test-k1"] in secrets
    assert {settings.SECRET_KEY, "test-oauth-client-secret", "test-developer-token"} <= secrets
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
