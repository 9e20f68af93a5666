"""Degrading the way a merchant can act on (issue 24), in the engine: a platform that refuses
a credential makes the source `reconnect_required` (401: revoked, never called again until
the credential changes; 403: degraded, asked again after the recheck interval) without
cooling the tenant down; rate limits and upstream errors keep their cooldowns; every source
failing leaves the last good figures under each source's new state; a follower waits as long
as the leader may take, holds no transaction open while it waits, and gets the last good
snapshot rather than a 503 when its wait runs out."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.db import connection

from connections.models import PlatformCredential
from connections.presenters import reconnect_required
from connections.selectors import connection_list_with_credentials
from connections.services import credential_mark_refused, credential_upsert
from revenue.locks import advisory_key
from revenue.realtime import LOCK_NAMESPACE, RevenueUnavailable, _fresh_entries, revenue_get, revenue_refresh
from revenue.selectors import cache_entry_get
from revenue.snapshot import Snapshot
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, held_advisory_locks, run_in_threads, stripe_error, stripe_list, wait_until

CID = "5b0f3c1e-2a4d-4e8f-9b6a-7c1d2e3f4a5b"
REFUSED = Behaviour(401, stripe_error(401, "invalid_request_error", "api_key_invalid"))
FORBIDDEN = Behaviour(403, stripe_error(403, "invalid_request_error", "secret_key_required"))


def _credential(tenant) -> PlatformCredential:
    with tenant_context(tenant.id):
        return PlatformCredential.objects.get()


def _sources(read) -> dict:
    return {s.account: s for s in Snapshot.from_payload(read.entry.payload).sources}


# --- a refused credential is a state, not a cooldown -------------------------------------------


@pytest.mark.django_db
def test_a_401_on_the_only_source_revokes_it_and_the_tenant_answers_with_its_last_good_figures(platforms, frozen_clock):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_only", access_token="sk_only")
    platforms.stripe.set("sk_only", Behaviour(body=stripe_list(4200)))
    good = _sources(revenue_get(tenant.id, correlation_id=CID))["acct_only"]
    frozen_clock.advance(31)
    platforms.stripe.set("sk_only", REFUSED)

    read = revenue_get(tenant.id, correlation_id=CID)  # no RevenueUnavailable: a 200 in the API

    source = _sources(read)["acct_only"]
    assert (read.outcome, source.status) == ("leader", "reconnect_required")
    assert source.figures == good.figures and not source.ok  # last good figures, shown stale
    assert "HTTP 401" in source.error and "sk_only" not in source.error
    assert Snapshot.from_payload(read.entry.payload).revenue_total == 4200
    assert read.entry.error_cooldown_until is None
    row = _credential(tenant)
    assert (row.lifecycle_status, row.last_failure_class) == ("revoked", "auth_refused")
    assert row.revoked_at is not None and row.next_refresh_due_at is None


@pytest.mark.django_db
def test_a_refused_credential_is_not_called_again_until_it_changes(platforms, frozen_clock):
    tenant = make_tenant()
    conn = make_connection(tenant, "stripe", "acct_rolled", access_token="sk_rolled")
    platforms.stripe.set("sk_rolled", REFUSED)
    first = revenue_get(tenant.id, correlation_id=CID)
    assert _sources(first)["acct_rolled"].status == "reconnect_required"
    assert first.entry.error_cooldown_until is None  # a first refresh, refused: still no 503 loop

    for _ in range(6):  # a minute of refreshes
        frozen_clock.advance(10)
        revenue_refresh(tenant.id, correlation_id=CID, force=True)
    assert platforms.stripe.calls == {"sk_rolled": 1}

    # New keys (the keys API, `connect_platform`, an OAuth reconnect all upsert): asked at once.
    with tenant_context(tenant.id):
        credential_upsert(connection_row=conn, access_token="sk_new_key")
    platforms.stripe.set("sk_new_key", Behaviour(body=stripe_list(900)))
    after = revenue_refresh(tenant.id, correlation_id=CID, force=True)
    assert Snapshot.from_payload(after.entry.payload).sources[0].status == "ok"
    assert platforms.stripe.calls == {"sk_rolled": 1, "sk_new_key": 1}
    assert _credential(tenant).lifecycle_status == "active"


@pytest.mark.django_db
def test_one_refused_source_of_two_leaves_the_other_counted(platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_ok", access_token="sk_ok")
    make_connection(tenant, "stripe", "acct_gone", access_token="sk_gone")
    platforms.stripe.set("sk_ok", Behaviour(body=stripe_list(100)))
    platforms.stripe.set("sk_gone", REFUSED)
    read = revenue_get(tenant.id, correlation_id=CID)
    assert {a: s.status for a, s in _sources(read).items()} == {"acct_ok": "ok", "acct_gone": "reconnect_required"}
    assert read.entry.error_cooldown_until is None


@pytest.mark.django_db
def test_a_403_degrades_the_credential_and_is_asked_again_after_the_recheck_or_a_change(
    platforms, frozen_clock, settings
):
    """A 403 is a permission the key lacks (a restricted Stripe key without "Charges: read"):
    the merchant may grant it at the platform without giving us a new key, so it is not
    revoked; the source still says reconnect_required and the platform is left alone."""
    settings.REVENUE_FORBIDDEN_RECHECK_SECONDS = 600
    tenant = make_tenant()
    conn = make_connection(tenant, "stripe", "acct_restricted", access_token="rk_restricted")
    platforms.stripe.set("rk_restricted", FORBIDDEN)

    read = revenue_get(tenant.id, correlation_id=CID)

    source = _sources(read)["acct_restricted"]
    assert source.status == "reconnect_required" and "HTTP 403" in source.error
    assert source.retry_not_before == read.entry.data_as_of + timedelta(seconds=600)
    assert read.entry.error_cooldown_until is None
    row = _credential(tenant)
    assert (row.lifecycle_status, row.last_failure_class, row.revoked_at) == ("degraded", "auth_forbidden", None)
    with tenant_context(tenant.id):
        assert reconnect_required(connection_list_with_credentials()[0]["credential"])

    for _ in range(10):  # within the recheck interval: left alone
        frozen_clock.advance(31)
        revenue_refresh(tenant.id, correlation_id=CID)
    assert platforms.stripe.calls == {"rk_restricted": 1}

    frozen_clock.advance(600)  # the merchant granted the permission at Stripe, same key
    platforms.stripe.set("rk_restricted", Behaviour(body=stripe_list(300)))
    after = revenue_refresh(tenant.id, correlation_id=CID)
    assert Snapshot.from_payload(after.entry.payload).sources[0].status == "ok"
    assert platforms.stripe.calls == {"rk_restricted": 2}

    # Refused again, then new keys: asked at the next refresh, not after the interval.
    frozen_clock.advance(31)
    platforms.stripe.set("rk_restricted", FORBIDDEN)
    revenue_refresh(tenant.id, correlation_id=CID)
    with tenant_context(tenant.id):
        credential_upsert(connection_row=conn, access_token="rk_with_charges_read")
    platforms.stripe.set("rk_with_charges_read", Behaviour(body=stripe_list(400)))
    frozen_clock.advance(31)
    after = revenue_refresh(tenant.id, correlation_id=CID)
    assert Snapshot.from_payload(after.entry.payload).sources[0].status == "ok"
    assert platforms.stripe.calls == {"rk_restricted": 3, "rk_with_charges_read": 1}


@pytest.mark.django_db
def test_a_401_for_a_refreshable_token_refreshes_it_first_and_revokes_only_a_refused_new_one(
    platforms, frozen_clock, settings
):
    """Google's access token may end before its stated expiry: a 401 for it is not yet a
    verdict on the credential. The next refresh refreshes the token first; a 401 for that
    new token revokes it."""
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = 10
    tenant = make_tenant()
    make_connection(
        tenant,
        "google_ads",
        "111-222-3333",
        access_token="ya29.ended_early",
        refresh_token="1//rt-still-good",
        expires_at=frozen_clock() + timedelta(hours=1),
    )
    unauthenticated = Behaviour(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    platforms.google_customer("1112223333")
    platforms.google.set("ya29.ended_early", unauthenticated)
    platforms.google.set("ya29.refreshed", unauthenticated)
    platforms.google_token.set(
        "1//rt-still-good",
        Behaviour(
            body={"access_token": "ya29.refreshed", "expires_in": 3599, "scope": "adwords", "token_type": "Bearer"}
        ),
    )

    first = revenue_refresh(tenant.id, correlation_id=CID)
    assert first.outcome == "failed"  # an auth failure of this refresh (the cooldown, or the stale answer)
    row = _credential(tenant)
    assert (row.lifecycle_status, row.last_failure_class, row.next_refresh_due_at) == (
        "active",
        "auth_token_refused",
        frozen_clock(),
    )
    assert platforms.google_token.total == 0

    frozen_clock.advance(11)
    second = revenue_refresh(tenant.id, correlation_id=CID)
    assert platforms.google_token.total == 1 and platforms.google.calls == {"ya29.ended_early": 1, "ya29.refreshed": 1}
    (source,) = Snapshot.from_payload(second.entry.payload).sources
    assert source.status == "reconnect_required" and second.entry.error_cooldown_until is None
    assert _credential(tenant).lifecycle_status == "revoked"


@pytest.mark.django_db
def test_a_refusal_racing_a_reconnect_leaves_the_new_credential_alone():
    """The refresh read key A and was refused; meanwhile the merchant gave key B: the mark
    applies only to the token that was refused."""
    tenant = make_tenant()
    conn = make_connection(tenant, "stripe", "acct_race", access_token="sk_old_key")
    with tenant_context(tenant.id):
        credential_upsert(connection_row=conn, access_token="sk_new_key_meanwhile")
        credential_id = PlatformCredential.objects.get().id
        assert not credential_mark_refused(credential_id=credential_id, access_token="sk_old_key", refusal="credential")
        assert PlatformCredential.objects.get().lifecycle_status == "active"
        assert credential_mark_refused(
            credential_id=credential_id, access_token="sk_new_key_meanwhile", refusal="credential"
        )
        assert PlatformCredential.objects.get().lifecycle_status == "revoked"


@pytest.mark.django_db
def test_rate_limits_and_upstream_errors_keep_their_cooldowns(platforms, settings):
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = 10
    for behaviour, kind in (
        (Behaviour(429, stripe_error(429, "rate_limit_error"), {"Retry-After": "30"}), "rate_limited"),
        (Behaviour(503, stripe_error(503, "api_error")), "upstream"),
    ):
        tenant = make_tenant()
        make_connection(tenant, "stripe", f"acct_{kind}", access_token=f"sk_{kind}")
        platforms.stripe.set(f"sk_{kind}", behaviour)
        with pytest.raises(RevenueUnavailable) as info:
            revenue_get(tenant.id, correlation_id=CID)  # no earlier snapshot: nothing stale to serve
        assert info.value.reason == "error_cooldown"
        assert cache_entry_get(tenant.id).error_cooldown_until is not None
        assert _credential(tenant).lifecycle_status == "active"


# --- every source failing keeps the last good figures under their new states -----------------


@pytest.mark.django_db
def test_when_every_source_fails_the_entry_keeps_its_figures_under_each_sources_new_state(platforms, frozen_clock):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_a", access_token="sk_a")
    make_connection(tenant, "stripe", "acct_b", access_token="sk_b")
    platforms.stripe.set("sk_a", Behaviour(body=stripe_list(100)))
    platforms.stripe.set("sk_b", Behaviour(body=stripe_list(200)))
    good = revenue_get(tenant.id, correlation_id=CID).entry
    frozen_clock.advance(31)
    platforms.stripe.set("sk_a", Behaviour(503, stripe_error(503, "api_error")))
    platforms.stripe.set("sk_b", Behaviour(429, stripe_error(429, "rate_limit_error"), {"Retry-After": "20"}))

    read = revenue_get(tenant.id, correlation_id=CID)

    assert read.outcome == "stale"
    kept = Snapshot.from_payload(read.entry.payload)
    before = Snapshot.from_payload(good.payload)
    assert {s.account: s.status for s in kept.sources} == {"acct_a": "upstream", "acct_b": "rate_limited"}
    assert [s.figures for s in kept.sources] == [s.figures for s in before.sources]
    assert (kept.data_as_of, kept.revenue_total, read.entry.data_as_of) == (before.data_as_of, 300, good.data_as_of)
    assert read.entry.etag == kept.etag() != good.etag  # another representation, its own validator
    assert read.entry.expires_at == good.expires_at and read.entry.error_cooldown_until > frozen_clock()


def test_stale_if_error_is_on_by_default_for_fifteen_minutes(settings):
    assert settings.REVENUE_STALE_IF_ERROR_SECONDS == 900


# --- followers and leaders agree on time --------------------------------------------------------


def test_a_follower_waits_at_least_as_long_as_the_leaders_deadline_and_a_check_holds_it(settings):
    assert settings.REVENUE_SINGLEFLIGHT_WAIT_SECONDS >= settings.REVENUE_TENANT_DEADLINE_SECONDS
    assert not [m for m in run_checks() if m.id.startswith("revenue.")]
    settings.REVENUE_SINGLEFLIGHT_WAIT_SECONDS = 5.0
    settings.REVENUE_TENANT_DEADLINE_SECONDS = 20.0
    assert [m.id for m in run_checks() if m.id.startswith("revenue.")] == ["revenue.E001"]


def _gated_leader(platforms, tenant, token: str):
    """A leader refreshing `tenant` in a thread, held inside its platform call by a gate."""
    gate = threading.Event()
    platforms.stripe.set(token, Behaviour(body=stripe_list(700), gate=gate))
    result: list = []

    def lead() -> None:
        try:
            result.append(revenue_get(tenant.id, correlation_id=CID))
        finally:
            connection.close()

    leader = threading.Thread(target=lead)
    leader.start()
    wait_until(lambda: platforms.stripe.calls[token] == 1)
    return gate, leader, result


def _expire(tenant) -> None:
    with tenant_context(tenant.id), connection.cursor() as cursor:
        cursor.execute("UPDATE revenue_cache_entries SET expires_at = now() - interval '1 second'")
    _fresh_entries.clear()  # this process remembered it fresh


def test_a_waiting_follower_holds_no_transaction_open(committed_db, platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_held", access_token="sk_held")
    gate, leader, _ = _gated_leader(platforms, tenant, "sk_held")
    statements: list[tuple[str, bool]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, context["connection"].in_atomic_block))
        return execute(sql, params, many, context)

    def follow() -> None:
        try:
            with connection.execute_wrapper(record):
                revenue_get(tenant.id, correlation_id=CID)
        finally:
            connection.close()

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        wait_until(lambda: _waiting_sessions(tenant))
        (state, query) = _waiting_sessions(tenant)[0]
        # One statement that sets its own timeout and waits; nothing idles in a transaction.
        assert state == "active" and "set_config('lock_timeout'" in query and "advisory_xact_lock_shared" in query
        assert not _idle_in_transaction()
    finally:
        gate.set()
        leader.join(30)
        follower.join(30)
    waits = [(sql, atomic) for sql, atomic in statements if "lock_timeout" in sql]
    assert len(waits) == 1 and waits[0][1] is False  # autocommit: the statement is its own transaction
    assert held_advisory_locks() == 0


def _waiting_sessions(tenant) -> list[tuple[str, str]]:
    """The sessions waiting for the tenant's lock: their state and statement."""
    key = advisory_key(LOCK_NAMESPACE, tenant.id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.state, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND NOT l.granted"
            " AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            [key],
        )
        return cursor.fetchall()


def _idle_in_transaction() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_follower_past_its_wait_gets_the_last_good_snapshot_marked_stale(committed_db, platforms, settings):
    settings.REVENUE_SINGLEFLIGHT_WAIT_SECONDS = 0.2  # the leader is held far longer than this
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_slow", access_token="sk_first")
    platforms.stripe.set("sk_first", Behaviour(body=stripe_list(500)))
    good = revenue_get(tenant.id, correlation_id=CID).entry
    _expire(tenant)
    platforms.stripe.set("sk_first", Behaviour(body=stripe_list(600), gate=(gate := threading.Event())))
    leader = threading.Thread(
        target=lambda: (revenue_get(tenant.id, correlation_id=CID), connection.close()), daemon=True
    )
    leader.start()
    try:
        wait_until(lambda: platforms.stripe.calls["sk_first"] == 2)
        (read,) = run_in_threads(1, lambda i: revenue_get(tenant.id, correlation_id=CID))
        assert not isinstance(read, BaseException), read
        assert read.outcome == "stale" and read.entry.etag == good.etag
    finally:
        gate.set()
        leader.join(30)


def test_a_follower_past_its_wait_with_nothing_to_serve_gets_refresh_timeout(committed_db, platforms, settings):
    settings.REVENUE_SINGLEFLIGHT_WAIT_SECONDS = 0.2
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_new", access_token="sk_new")
    gate, leader, _ = _gated_leader(platforms, tenant, "sk_new")
    try:
        (answer,) = run_in_threads(1, lambda i: revenue_get(tenant.id, correlation_id=CID))
        assert isinstance(answer, RevenueUnavailable) and answer.reason == "refresh_timeout"
    finally:
        gate.set()
        leader.join(30)
