"""Two tenants connected to the same Stripe account: one disconnecting must not revoke,
at Stripe, the authorization the other still uses. Row-level security hides the other
tenant from the disconnecting one, so the question goes through the narrow database
function `connection_grant_relied_on`."""

from __future__ import annotations

import uuid

import requests
from django.db import connection

from connections.models import PlatformCredential
from revenue.realtime import revenue_refresh
from revenue.snapshot import Snapshot
from skeldir.tenancy import tenant_context
from tests.api.oauth_support import headers, install
from tests.factories import make_connection, make_tenant


def _connect(live_url, mint, tenant) -> str:
    answer = install(live_url, mint(tenant.id, scopes=["manager"]), "stripe")
    assert answer.status_code == 200, answer.text
    [connection_id] = [c["id"] for c in answer.json()["connections"]]
    return connection_id


def test_a_disconnect_keeps_the_grant_another_tenant_still_uses(live_url, mint, simulated):
    alice, bob = make_tenant("security-alice"), make_tenant("security-bob")
    simulated.set_consent("stripe", ["acct_1SharedByTwo"])
    _connect(live_url, mint, alice)
    bobs = _connect(live_url, mint, bob)

    answer = requests.delete(
        f"{live_url}/api/v1/connections/{bobs}", headers=headers(mint(bob.id, scopes=["manager"])), timeout=10
    )

    assert answer.status_code == 200
    assert answer.json()["revocation"] == "kept_for_other_accounts"
    assert simulated.endpoint_calls("stripe", "revoke") == 0
    # Alice's refresh still reads her account with her credential.
    result = revenue_refresh(alice.id, correlation_id=str(uuid.uuid4()))
    assert result.outcome == "refreshed"
    assert all(source.ok for source in Snapshot.from_payload(result.entry.payload).sources)
    with tenant_context(alice.id):
        assert PlatformCredential.objects.get().lifecycle_status == "active"

    # The last one out revokes.
    answer = requests.delete(
        f"{live_url}/api/v1/connections/{_alices(alice)}",
        headers=headers(mint(alice.id, scopes=["manager"])),
        timeout=10,
    )
    assert answer.json()["revocation"] == "revoked"
    assert simulated.endpoint_calls("stripe", "revoke") == 1


def _alices(tenant) -> str:
    with tenant_context(tenant.id), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM platform_connections")
        return str(cursor.fetchone()[0])


def test_the_reliance_function_answers_only_about_the_callers_own_connections(committed_db):
    """The runtime role learns one bit, and only about a connection it can see: another
    tenant's connection id (or a random one) answers no, whatever relies on it."""
    mine, theirs = make_tenant("security-fn-mine"), make_tenant("security-fn-theirs")
    oauth = {"connected_via": "oauth", "oauth_grant": "g1"}
    their_row = make_connection(theirs, "stripe", "acct_same", metadata=oauth)
    make_connection(make_tenant("security-fn-third"), "stripe", "acct_same", metadata=oauth)
    my_row = make_connection(mine, "stripe", "acct_same", metadata=oauth)
    with tenant_context(mine.id), connection.cursor() as cursor:
        cursor.execute("SELECT connection_grant_relied_on(%s)", [my_row.id])
        assert cursor.fetchone()[0] is True
        cursor.execute("SELECT connection_grant_relied_on(%s)", [their_row.id])
        assert cursor.fetchone()[0] is False
        cursor.execute("SELECT connection_grant_relied_on(%s)", [uuid.uuid4()])
        assert cursor.fetchone()[0] is False
        cursor.execute("SELECT count(*) FROM platform_connections")
        assert cursor.fetchone()[0] == 1  # the runtime role still sees its own tenant only
