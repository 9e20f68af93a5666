"""Test overlay: fixed, fake secrets and platform settings that never reach the internet."""

import json
import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault(
    "CREDENTIAL_ENCRYPTION_KEYS",
    json.dumps({"current": "test-k1", "keys": {"test-k1": "test-credential-key-one-0123456789"}}),
)

# Google Ads needs app credentials; fake ones, never sent anywhere real.
os.environ.setdefault("GOOGLE_ADS_DEVELOPER_TOKEN", "test-developer-token")
os.environ.setdefault("GOOGLE_OAUTH_CLIENT_ID", "test-client-id.apps.example")
os.environ.setdefault("GOOGLE_OAUTH_CLIENT_SECRET", "test-oauth-client-secret")
# Required once an OAuth app is configured: the test client's host (live-server tests point
# it at their server, tests/api/oauth_support.py).
os.environ.setdefault("OAUTH_REDIRECT_BASE_URL", "http://testserver")

from skeldir.settings import *  # noqa: E402,F403
from skeldir.settings import PROVIDER_HTTP  # noqa: E402

# No sleeping between retries in tests; the retry count still applies.
PROVIDER_HTTP = {**PROVIDER_HTTP, "backoff_factor": 0.0, "backoff_jitter": 0.0, "read_timeout": 2.0}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests configure JWT keys per test (pytest-django's `settings`); without this every command
# run in a subprocess would print the "no verification keys" warning on stderr.
SILENCED_SYSTEM_CHECKS = ["skeldir.W001"]
# Static files straight from the apps (no collectstatic, no manifest) in tests.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A cycle run in-process by a test stays in the test's process (its platform stubs and
# counters live there); tests of several processes ask for them with --processes.
REVENUE_REFRESH_PROCESSES = 1
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Rate limits off by default: suites that drive the API hard (the OpenAPI fuzzing) would hit
# them; tests/api/test_throttling.py turns them on.
THROTTLE_TENANT_RATE = ""
THROTTLE_USER_RATE = ""
