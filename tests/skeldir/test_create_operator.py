"""`manage.py create_operator`: a staff user (not a superuser) whose group grants what the
operations admin needs: every list, the actions, no adding or deleting."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

OPERATOR_PASSWORD = "a-long-operator-passphrase"


@pytest.fixture
def cleanup(committed_db):
    yield
    get_user_model().objects.filter(username__startswith="ops-").delete()
    Group.objects.filter(name="operators").delete()


def test_an_operator_can_use_the_operations_admin_and_nothing_more(cleanup, monkeypatch):
    monkeypatch.setenv("OPS_PASSWORD", OPERATOR_PASSWORD)
    out = io.StringIO()
    call_command("create_operator", "--username", "ops-anna", "--password-env", "OPS_PASSWORD", stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == "ops-anna"
    user = get_user_model().objects.get(username="ops-anna")
    assert (user.is_staff, user.is_superuser) == (True, False)
    assert user.check_password(OPERATOR_PASSWORD)

    client = Client()
    login = client.post(  # through the admin's own login form, as django-axes watches it
        reverse("admin:login"), {"username": "ops-anna", "password": OPERATOR_PASSWORD, "next": "/"}
    )
    assert login.status_code == 302
    for name in (
        "revenue_revenuecacheentry",
        "connections_platformconnection",
        "connections_platformcredential",
        "skeldir_tenant",
    ):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    form = client.get(reverse("admin:revenue_revenuecacheentry_changelist")).context["action_form"]
    assert [name for name, _ in form.fields["action"].choices if name] == ["clear_cooldown", "refresh_now"]


def test_a_weak_or_missing_password_exits_2_and_creates_nobody(cleanup, monkeypatch):
    monkeypatch.setenv("OPS_PASSWORD", "short")
    for args in (["--password-env", "OPS_PASSWORD"], ["--password-env", "OPS_UNSET_VARIABLE"]):
        with pytest.raises(CommandError) as info:
            call_command("create_operator", "--username", "ops-bert", *args)
        assert info.value.returncode == 2
    assert not get_user_model().objects.filter(username="ops-bert").exists()
