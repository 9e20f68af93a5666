"""The operator's shell commands: list_tenants, tenant_status, disconnect_platform — good
input and bad (exit 2, one sentence), never a token in what they print."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.management import CommandError, call_command

from connections.models import PlatformConnection
from revenue.realtime import revenue_refresh
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_error, stripe_list

pytestmark = pytest.mark.django_db
TOKEN = "sk_test_OPERATOR_cli_token_0123"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def shop(platforms):
    tenant = make_tenant("cli-shop", reporting_currency="EUR", timezone="Europe/Berlin")
    make_connection(tenant, "stripe", "acct_cli", access_token=TOKEN)
    platforms.stripe.set(TOKEN, Behaviour(body=stripe_list(1250, currency="eur")))
    revenue_refresh(tenant.id, correlation_id=str(uuid.uuid4()))
    return tenant


def test_list_tenants_names_every_tenant_and_its_state(shop):
    quiet = make_tenant("cli-quiet")
    lines = run("list_tenants").splitlines()
    assert lines[0].split("\t") == ["id", "state", "connections", "reconnect_required", "currency", "timezone", "name"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows[str(shop.id)][1:] == ["fresh", "1", "0", "EUR", "Europe/Berlin", "cli-shop"]
    assert rows[str(quiet.id)][1:3] == ["none", "0"]
    as_json = [json.loads(line) for line in run("list_tenants", "--json").splitlines()]
    assert {t["id"] for t in as_json} >= {str(shop.id), str(quiet.id)}


def test_tenant_status_shows_entry_sources_and_credentials_without_a_token(shop):
    text = run("tenant_status", "--tenant", str(shop.id))
    status = json.loads(text)
    assert status["tenant"]["name"] == "cli-shop"
    assert status["entry"]["state"] == "fresh" and status["entry"]["cooldown_until"] is None
    [source] = status["sources"]
    assert (source["platform"], source["status"], source["measure"]) == (
        "stripe",
        "ok",
        "captured_minus_refunds_and_lost_disputes",
    )
    [connection] = status["connections"]
    assert connection["credential"]["lifecycle_status"] == "active" and connection["reconnect_required"] is False
    assert TOKEN not in text and TOKEN[:12] not in text


def test_tenant_status_shows_a_cooldown_and_its_error(platforms):
    tenant = make_tenant("cli-cooling")
    make_connection(tenant, "stripe", "acct_down", access_token="sk_test_cli_down")
    platforms.stripe.set("sk_test_cli_down", Behaviour(500, stripe_error(500, "api_error")))
    revenue_refresh(tenant.id, correlation_id=str(uuid.uuid4()))
    entry = json.loads(run("tenant_status", "--tenant", str(tenant.id)))["entry"]
    assert entry["state"] == "cooling_down" and entry["cooldown_seconds_left"] >= 1
    assert "stripe acct_down" in entry["last_error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope"], "'nope' is not a tenant id (a UUID)."),
        (
            ["--tenant", "00000000-0000-4000-8000-000000000000"],
            "No tenant with id 00000000-0000-4000-8000-000000000000.",
        ),
    ],
)
def test_tenant_status_refuses_bad_input_with_exit_2(args, message):
    with pytest.raises(CommandError) as refused:
        run("tenant_status", *args)
    assert (refused.value.returncode, str(refused.value)) == (2, message)


def test_disconnect_platform_takes_the_apis_path(shop):
    with tenant_context(shop.id):
        connection = PlatformConnection.objects.get()
    out = run("disconnect_platform", "--tenant", str(shop.id), "--connection", str(connection.id))
    assert out.strip().splitlines()[-1] == "stripe acct_cli: not_offered"  # keys: nothing to revoke at Stripe
    status = json.loads(run("tenant_status", "--tenant", str(shop.id)))
    [listed] = status["connections"]
    assert listed["status"] == "disabled" and listed["reconnect_required"] is True
    again = run("disconnect_platform", "--tenant", str(shop.id), "--connection", str(connection.id))
    assert again.strip().endswith(": already_disconnected")


def test_disconnect_platform_refuses_another_tenants_connection_and_bad_ids(shop):
    other = make_tenant("cli-other")
    theirs = make_connection(other, "stripe", "acct_theirs", access_token="sk_test_cli_theirs")
    with pytest.raises(CommandError) as refused:
        run("disconnect_platform", "--tenant", str(shop.id), "--connection", str(theirs.id))
    assert (refused.value.returncode, str(refused.value)) == (2, f"The tenant has no connection {theirs.id}.")
    with tenant_context(other.id):
        assert PlatformConnection.objects.get().status == "active"
    with pytest.raises(CommandError, match="'x' is not a connection id") as refused:
        run("disconnect_platform", "--tenant", str(shop.id), "--connection", "x")
    assert refused.value.returncode == 2
