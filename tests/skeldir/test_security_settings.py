"""Admin sessions and transport security: secure cookies unless DJANGO_DEBUG, each
setting overridable from the environment (the local http demo turns the cookies' Secure
flag off); the admin mounted where ADMIN_URL says."""

from __future__ import annotations

import importlib

import pytest

import skeldir.settings as project_settings


@pytest.fixture
def reload_settings(monkeypatch):
    def reload(**env: str):
        for name in (
            "DJANGO_DEBUG",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_PROXY_SSL_HEADER",
            "SECURE_HSTS_SECONDS",
            "SECURE_SSL_REDIRECT",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(project_settings)

    yield reload
    monkeypatch.undo()
    importlib.reload(project_settings)


def test_production_cookies_are_secure_http_only_and_same_site(reload_settings):
    conf = reload_settings(DJANGO_DEBUG="false")
    assert conf.SESSION_COOKIE_SECURE is True and conf.CSRF_COOKIE_SECURE is True
    assert conf.SESSION_COOKIE_HTTPONLY is True and conf.SESSION_COOKIE_SAMESITE == "Lax"
    assert conf.SECURE_CONTENT_TYPE_NOSNIFF is True and conf.X_FRAME_OPTIONS == "DENY"
    assert conf.SECURE_PROXY_SSL_HEADER is None


def test_development_and_the_local_demo_may_use_plain_http(reload_settings):
    conf = reload_settings(DJANGO_DEBUG="true")
    assert conf.SESSION_COOKIE_SECURE is False and conf.CSRF_COOKIE_SECURE is False
    conf = reload_settings(DJANGO_DEBUG="false", SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")
    assert conf.SESSION_COOKIE_SECURE is False and conf.CSRF_COOKIE_SECURE is False


def test_behind_a_tls_proxy_the_forwarded_scheme_and_hsts_are_configurable(reload_settings):
    conf = reload_settings(
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO", SECURE_HSTS_SECONDS="31536000", SECURE_SSL_REDIRECT="true"
    )
    assert conf.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert conf.SECURE_HSTS_SECONDS == 31536000 and conf.SECURE_SSL_REDIRECT is True
    assert conf.SECURE_REDIRECT_EXEMPT == [r"^healthz$", r"^readyz$", r"^metrics$"]


def test_the_admin_is_mounted_under_admin_url(settings, client):
    from django.urls import clear_url_caches, reverse

    import skeldir.urls

    settings.ADMIN_URL = "ops-7f3a/"
    try:
        importlib.reload(skeldir.urls)
        clear_url_caches()
        assert reverse("admin:index") == "/ops-7f3a/"
        assert client.get("/ops-7f3a/").status_code == 302
        assert client.get("/admin/").status_code == 404
    finally:
        settings.ADMIN_URL = "admin/"
        importlib.reload(skeldir.urls)
        clear_url_caches()
