"""Connections and credentials in the operators' admin: every tenant's, with the credential
lifecycle, and never a token — not decrypted, not even selected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from connections.models import PlatformConnection, PlatformCredential
from connections.services import credential_mark_revoked
from skeldir.operator import OPERATOR_DB, operator_access
from skeldir.tenancy import tenant_context
from tests.admin_pages import change_list_rows, page_messages
from tests.factories import make_connection, make_tenant

TOKENS = {
    "stripe": ("sk_test_ADMINPAGE_4242424242", None),
    "shopify": ("shpat_adminpage_0123456789abcdef", None),
    "google_ads": ("ya29.adminpage_access_token", "1//0adminpage_refresh_token"),
    "meta_ads": ("EAAadminpage0123456789", None),
}
PREFIXES = ("sk_test_", "shpat_", "ya29.", "1//0", "EAAad")
CONNECTIONS = reverse("admin:connections_platformconnection_changelist")
CREDENTIALS = reverse("admin:connections_platformcredential_changelist")


@pytest.fixture
def accounts(committed_db):
    """Two tenants: Northwind with Stripe and Shopify, Southwind with Google Ads (revoked) and Meta."""
    north, south = make_tenant("Northwind"), make_tenant("Southwind")
    expires = timezone.now() + timedelta(hours=1)
    rows = {}
    for tenant, platform in ((north, "stripe"), (north, "shopify"), (south, "google_ads"), (south, "meta_ads")):
        access, refresh = TOKENS[platform]
        rows[platform] = make_connection(
            tenant,
            platform,
            f"{platform}-account-1",
            access_token=access,
            refresh_token=refresh,
            expires_at=expires if refresh else None,
            metadata={"shop": "example"} if platform == "shopify" else None,
        )
    with tenant_context(south.id):
        credential = PlatformCredential.objects.get(platform_connection=rows["google_ads"])
        credential_mark_revoked(credential_id=credential.id, failure_class="auth_revoked")
    return rows


def credential_pk(conn: PlatformConnection):
    with operator_access():
        return PlatformCredential.objects.using(OPERATOR_DB).only("id").get(platform_connection=conn).pk


def status_of(conn: PlatformConnection) -> str:
    with operator_access():
        return PlatformConnection.objects.using(OPERATOR_DB).get(pk=conn.pk).status


@pytest.fixture
def operator_statements():
    """Every statement the admin runs on the operator alias (in this thread)."""
    seen: list[str] = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connections[OPERATOR_DB].execute_wrapper(spy):
        yield seen


def test_the_connection_list_shows_every_tenants_accounts_with_their_credential(staff_client, accounts):
    rows = change_list_rows(staff_client.get(CONNECTIONS), "platform_account_id")
    assert {name: (r["platform"], r["status"], r["tenant_name"], r["credential"]) for name, r in rows.items()} == {
        "stripe-account-1": ("stripe", "Active", "Northwind", "active"),
        "shopify-account-1": ("shopify", "Active", "Northwind", "active"),
        "google_ads-account-1": ("google_ads", "Active", "Southwind", "revoked"),
        "meta_ads-account-1": ("meta_ads", "Active", "Southwind", "active"),
    }
    assert rows["stripe-account-1"]["tenant_id"] == str(accounts["stripe"].tenant_id)


def test_the_credential_list_shows_the_lifecycle_and_masks_every_token(staff_client, accounts):
    rows = change_list_rows(staff_client.get(CREDENTIALS), "account")
    google = rows["google_ads-account-1"]
    assert (google["lifecycle_status"], google["refresh_failure_count"], google["last_failure_class"]) == (
        "Revoked",
        "1",
        "auth_revoked",
    )
    assert google["key_id"] == "test-k1" and google["next_refresh_due_at"] == "-"
    assert all(row["access_token"] == "•••••••• (encrypted, never shown)" for row in rows.values())
    assert rows["stripe-account-1"]["expires_at"] == "-"  # a Stripe key does not expire


def test_no_admin_page_shows_a_token_or_its_prefix_nor_selects_an_encrypted_column(
    staff_client, accounts, operator_statements
):
    pages = [CONNECTIONS, CREDENTIALS, f"{CREDENTIALS}?q=Northwind", f"{CONNECTIONS}?q=google"]
    for conn in accounts.values():
        pages.append(reverse("admin:connections_platformconnection_change", args=[conn.pk]))
        pages.append(reverse("admin:connections_platformcredential_change", args=[credential_pk(conn)]))
        pages.append(reverse("admin:connections_platformcredential_history", args=[credential_pk(conn)]))
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for access, refresh in TOKENS.values():
            assert access not in page and (refresh is None or refresh not in page), url
        assert not [prefix for prefix in PREFIXES if prefix in page], url
    assert operator_statements and not [sql for sql in operator_statements if "encrypted_" in sql]


def test_the_credential_page_is_read_only_and_links_its_connection(staff_client, accounts):
    url = reverse("admin:connections_platformcredential_change", args=[credential_pk(accounts["google_ads"])])
    page = staff_client.get(url).content.decode()
    assert 'name="_save"' not in page
    assert "google_ads google_ads-account-1" in page and "auth_revoked" in page
    assert reverse("admin:connections_platformconnection_change", args=[accounts["google_ads"].pk]) in page


def test_disable_and_enable_change_only_the_selected_connections(staff_client, staff_user, accounts):
    response = staff_client.post(
        CONNECTIONS, {"action": "disable", "_selected_action": [accounts["stripe"].pk]}, follow=True
    )
    assert page_messages(response) == [("success", "1 connection(s) set disabled; 0 already were.")]
    assert [status_of(c) for c in accounts.values()] == ["disabled", "active", "active", "active"]
    assert change_list_rows(response, "platform_account_id")["stripe-account-1"]["status"] == "Disabled"

    staff_client.post(CONNECTIONS, {"action": "enable", "_selected_action": [accounts["stripe"].pk]})
    assert status_of(accounts["stripe"]) == "active"
    assert list(LogEntry.objects.filter(user=staff_user).values_list("change_message", flat=True)) == [
        "Set status active.",
        "Set status disabled.",
    ]


def test_mark_for_refresh_makes_a_credential_due_now_and_leaves_revoked_ones_alone(staff_client, accounts):
    selected = [credential_pk(accounts["meta_ads"]), credential_pk(accounts["google_ads"])]
    before = timezone.now()
    response = staff_client.post(CREDENTIALS, {"action": "mark_for_refresh", "_selected_action": selected}, follow=True)
    assert page_messages(response) == [
        (
            "success",
            "1 credential(s) will be refreshed at their tenant's next refresh; "
            "1 revoked one(s) left alone (only reconnecting helps).",
        )
    ]
    with operator_access():
        due = dict(
            PlatformCredential.objects.using(OPERATOR_DB)
            .filter(pk__in=selected)
            .values_list("platform", "next_refresh_due_at")
        )
    assert due["google_ads"] is None
    assert before <= due["meta_ads"] <= timezone.now()
