"""The revenue cache in the operators' admin, through the Django test client as a staff
user: every tenant's entry with its state and seconds left, the filters and the search,
"clear cooldown" and "refresh now". Entries are made by the real refresh against stubbed
platforms, and committed: the admin reads through its own connection (the operator alias)."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from revenue.models import RevenueCacheEntry
from revenue.realtime import revenue_refresh
from revenue.selectors import cache_entry_get
from skeldir.operator import OPERATOR_DB, operator_access
from tests.admin_pages import change_list_rows, page_messages
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_error, stripe_list

CID = "0b7c3f52-8e0a-4f4e-9a61-3d2b8c1e5f70"
CHANGELIST = reverse("admin:revenue_revenuecacheentry_changelist")

OK = Behaviour(body=stripe_list(1000))
FAILING = Behaviour(500, stripe_error(500, "api_error"))
UNAUTHORIZED = Behaviour(401, stripe_error(401, "invalid_request_error", "api_key_invalid"))
THROTTLED = Behaviour(429, stripe_error(429, "rate_limit_error", "rate_limit"), {"Retry-After": "120"})


@pytest.fixture
def entries(platforms, frozen_clock):
    """Five tenants, as an operator would find them:
    Alpha expired (refreshed 40 s ago), Bravo cooling down 10 s (Stripe said 500),
    Charlie cooling down 120 s (Stripe said 429, retry after 120), Delta fresh,
    Echo fresh but partial (one of two Stripe accounts said 401: reconnect required)."""

    def tenant(name: str, *behaviours: Behaviour):
        row = make_tenant(name)
        for n, behaviour in enumerate(behaviours):
            token = f"sk_test_{name.lower()}_{n}_admin"
            make_connection(row, "stripe", f"acct_{name.lower()}_{n}", access_token=token)
            platforms.stripe.set(token, behaviour)
        return row

    alpha = tenant("Alpha", OK)
    revenue_refresh(alpha.id, correlation_id=CID)
    frozen_clock.advance(40)
    rows = {
        "Alpha": alpha,
        "Bravo": tenant("Bravo", FAILING),
        "Charlie": tenant("Charlie", THROTTLED),
        "Delta": tenant("Delta", OK),
        "Echo": tenant("Echo", OK, UNAUTHORIZED),
    }
    for name in ("Bravo", "Charlie", "Delta", "Echo"):
        revenue_refresh(rows[name].id, correlation_id=CID)
    platforms.stripe.calls.clear()
    return rows


def entry_id(tenant) -> int:
    with operator_access():
        return RevenueCacheEntry.objects.using(OPERATOR_DB).get(tenant_id=tenant.id).pk


def test_the_list_shows_every_tenants_entry_with_its_state_and_seconds_left(staff_client, entries):
    response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    rows = change_list_rows(response, "tenant_name")
    assert set(rows) == set(entries)
    assert {name: (row["state"], row["cooldown_left"]) for name, row in rows.items()} == {
        "Alpha": ("expired", "0"),
        "Bravo": ("cooling down", "10"),
        "Charlie": ("cooling down", "120"),
        "Delta": ("fresh", "0"),
        "Echo": ("fresh", "0"),
    }
    assert rows["Alpha"]["data_age"] == "40"
    assert rows["Delta"]["data_age"] == "0"
    assert rows["Bravo"]["tenant_id"] == str(entries["Bravo"].id)
    assert "stripe acct_bravo_0: upstream" in rows["Bravo"]["last_error"]
    assert "stripe acct_echo_0: ok; stripe acct_echo_1: reconnect_required" == rows["Echo"]["sources"]
    assert rows["Bravo"]["last_error_at"] != "-" and rows["Delta"]["last_error_at"] == "-"


def test_the_runtime_role_sees_none_of_what_the_admin_lists(staff_client, entries):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM revenue_cache_entries")
        assert cursor.fetchone()[0] == 0  # no tenant set: RLS hides every row
    assert len(change_list_rows(staff_client.get(CHANGELIST), "tenant_name")) == 5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "cooling_down"}, {"Bravo", "Charlie"}),
        ({"state": "fresh"}, {"Delta", "Echo"}),
        ({"state": "expired"}, {"Alpha"}),
        ({"error_kind": "upstream"}, {"Bravo"}),
        ({"error_kind": "reconnect_required"}, {"Echo"}),
        ({"error_kind": "rate_limited"}, {"Charlie"}),
        ({"error_kind": "network"}, set()),
        ({"error_kind": "auth"}, set()),  # a refused credential is a reconnect, not a failure kind
        ({"state": "fresh", "error_kind": "reconnect_required"}, {"Echo"}),
        ({"q": "char"}, {"Charlie"}),
        ({"q": "DELTA"}, {"Delta"}),
        ({"state": "cooling_down", "_facets": "True"}, {"Bravo", "Charlie"}),  # with the filters' counts
    ],
)
def test_filters_and_search_narrow_the_list(staff_client, entries, query, expected):
    response = staff_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert set(change_list_rows(response, "tenant_name")) == expected


def test_search_finds_a_tenant_by_its_id_or_the_beginning_of_it(staff_client, entries):
    tenant_id = str(entries["Charlie"].id)
    for term in (tenant_id, tenant_id[:8], tenant_id.upper()):
        rows = change_list_rows(staff_client.get(CHANGELIST, {"q": term}), "tenant_name")
        assert set(rows) == {"Charlie"}, term
    assert change_list_rows(staff_client.get(CHANGELIST, {"q": str(uuid.uuid4())}), "tenant_name") == {}


def test_the_date_hierarchy_drills_into_last_error_at(staff_client, entries, frozen_clock):
    day = frozen_clock()
    response = staff_client.get(
        CHANGELIST, {"last_error_at__year": day.year, "last_error_at__month": day.month, "last_error_at__day": day.day}
    )
    assert response.status_code == 200
    assert 'class="date-back"' in response.content.decode()  # the hierarchy's way back up
    assert set(change_list_rows(response, "tenant_name")) == {"Bravo", "Charlie", "Echo"}


def test_clear_cooldown_clears_only_the_selected_entries_and_is_logged(staff_client, staff_user, entries, caplog):
    caplog.set_level(logging.INFO)
    response = staff_client.post(
        CHANGELIST,
        {"action": "clear_cooldown", "_selected_action": [entry_id(entries["Bravo"])]},
        follow=True,
    )

    assert response.status_code == 200
    assert page_messages(response) == [
        ("success", f"Cleared the cooldown of 1 tenant(s): Bravo ({entries['Bravo'].id}).")
    ]
    assert cache_entry_get(entries["Bravo"].id).error_cooldown_until is None
    assert cache_entry_get(entries["Charlie"].id).error_cooldown_until is not None
    rows = change_list_rows(response, "tenant_name")
    assert rows["Bravo"]["state"] == "expired" and rows["Charlie"]["state"] == "cooling down"

    logged = LogEntry.objects.get(user=staff_user)
    assert logged.object_id == str(entry_id(entries["Bravo"])) and logged.change_message == "Cleared the cooldown."
    cleared = [r for r in caplog.records if getattr(r, "event", None) == "cooldown_cleared"]
    assert [(r.tenant_id, r.actor) for r in cleared] == [(str(entries["Bravo"].id), staff_user.username)]


def test_clear_cooldown_of_entries_without_one_changes_nothing(staff_client, entries):
    response = staff_client.post(
        CHANGELIST, {"action": "clear_cooldown", "_selected_action": [entry_id(entries["Delta"])]}, follow=True
    )
    assert page_messages(response) == [("warning", "None of the selected entries had a cooldown.")]
    assert LogEntry.objects.count() == 0


def test_refresh_now_calls_the_platforms_once_per_selected_tenant_and_updates_the_entries(
    staff_client, staff_user, entries, platforms
):
    platforms.stripe.set("sk_test_bravo_0_admin", Behaviour(body=stripe_list(2500)))  # reconnected meanwhile
    selected = [entries["Alpha"], entries["Bravo"]]

    response = staff_client.post(
        CHANGELIST, {"action": "refresh_now", "_selected_action": [entry_id(t) for t in selected]}, follow=True
    )

    assert dict(platforms.stripe.calls) == {"sk_test_alpha_0_admin": 1, "sk_test_bravo_0_admin": 1}
    assert sorted(page_messages(response)) == [
        ("success", f"Alpha ({entries['Alpha'].id}): refreshed"),
        ("success", f"Bravo ({entries['Bravo'].id}): refreshed"),
    ]
    rows = change_list_rows(response, "tenant_name")
    assert rows["Alpha"]["state"] == rows["Bravo"]["state"] == "fresh"
    assert rows["Alpha"]["data_age"] == "0" and rows["Bravo"]["cooldown_left"] == "0"
    assert cache_entry_get(entries["Bravo"].id).payload["revenue_total"] == 2500
    assert rows["Charlie"]["state"] == "cooling down"  # not selected, not called
    assert LogEntry.objects.filter(user=staff_user, change_message="Refreshed now.").count() == 2


def test_refresh_now_reports_a_failing_tenant_and_is_bounded(staff_client, entries, platforms, settings):
    response = staff_client.post(
        CHANGELIST, {"action": "refresh_now", "_selected_action": [entry_id(entries["Charlie"])]}, follow=True
    )
    assert page_messages(response) == [("error", f"Charlie ({entries['Charlie'].id}): failed")]

    settings.ADMIN_REFRESH_MAX_TENANTS = 1
    platforms.stripe.calls.clear()
    response = staff_client.post(
        CHANGELIST,
        {"action": "refresh_now", "_selected_action": [entry_id(entries["Alpha"]), entry_id(entries["Delta"])]},
        follow=True,
    )
    assert page_messages(response) == [("error", "Select at most 1 entries to refresh at once; nothing was refreshed.")]
    assert platforms.stripe.total == 0


def test_an_entry_page_is_read_only_and_shows_its_sources(staff_client, entries):
    url = reverse("admin:revenue_revenuecacheentry_change", args=[entry_id(entries["Echo"])])
    response = staff_client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in page
    assert "acct_echo_1" in page and "<td>reconnect_required</td>" in page
    assert staff_client.post(url, {"cache_key": "x"}).status_code == 403
    delete = reverse("admin:revenue_revenuecacheentry_delete", args=[entry_id(entries["Echo"])])
    assert staff_client.get(delete).status_code == 403


def test_a_user_who_is_not_staff_is_sent_to_the_login_page(committed_db):
    user = get_user_model().objects.create_user(username=f"viewer-{uuid.uuid4().hex[:6]}", password="pw-not-staff")
    try:
        anonymous, member = Client(), Client()
        member.force_login(user)
        for client in (anonymous, member):
            response = client.get(CHANGELIST)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login") + "?next=")
    finally:
        user.delete()
