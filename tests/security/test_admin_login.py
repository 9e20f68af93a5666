"""Admin login guessing against a live server: after ADMIN_LOGIN_FAILURE_LIMIT wrong
passwords the user name is locked out from that address (429 with Retry-After, even with
the right password), the lockout is logged for the audit, and other users are unaffected."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command

PASSWORD = "correct-horse-battery-operator"


@pytest.fixture
def operator_user(committed_db, settings):
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False  # the live server is plain http
    username = f"ops-{uuid.uuid4().hex[:8]}"
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    yield user
    call_command("axes_reset", verbosity=0)
    user.delete()


def _login(live_url: str, username: str, password: str) -> requests.Response:
    session = requests.Session()
    page = session.get(f"{live_url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{live_url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Referer": f"{live_url}/admin/login/"},
        allow_redirects=False,
        timeout=10,
    )


def test_repeated_wrong_passwords_lock_the_user_out_and_are_logged(live_url, operator_user, settings, caplog):
    limit = settings.AXES_FAILURE_LIMIT
    with caplog.at_level(logging.INFO):
        failures = [_login(live_url, operator_user.username, f"guess-{n}") for n in range(limit - 1)]
        assert {f.status_code for f in failures} == {200}  # the form again, with its error
        locked = _login(live_url, operator_user.username, "one-guess-too-many")
        right_but_locked = _login(live_url, operator_user.username, PASSWORD)

    assert locked.status_code == 429
    assert right_but_locked.status_code == 429
    assert int(right_but_locked.headers["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert "sessionid" not in right_but_locked.cookies
    audit = [r for r in caplog.records if getattr(r, "event", None) == "admin_login_locked_out"]
    assert audit and audit[0].actor == operator_user.username and audit[0].levelno == logging.WARNING
    assert PASSWORD not in caplog.text


def test_a_lockout_is_per_user_and_an_operator_can_lift_it(live_url, operator_user, settings):
    other = get_user_model().objects.create_user(
        username=f"ops-{uuid.uuid4().hex[:8]}", password=PASSWORD, is_staff=True
    )
    try:
        for n in range(settings.AXES_FAILURE_LIMIT):
            _login(live_url, operator_user.username, f"guess-{n}")
        assert _login(live_url, operator_user.username, PASSWORD).status_code == 429
        assert _login(live_url, other.username, PASSWORD).status_code == 302  # logged in

        call_command("axes_reset_username", operator_user.username, verbosity=0)
        assert _login(live_url, operator_user.username, PASSWORD).status_code == 302
    finally:
        other.delete()
