"""The revenue engine: leader refresh, read-through with singleflight, cooldowns,
partial failures and token refresh, against real PostgreSQL and the real adapters."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.models import PlatformCredential
from connections.selectors import credential_get
from revenue.realtime import RevenueUnavailable, revenue_get, revenue_refresh
from revenue.selectors import cache_entry_get
from revenue.snapshot import Snapshot
from skeldir.tenancy import tenant_context
from tests.factories import make_connection, make_tenant
from tests.stubs import (
    Behaviour,
    google_rows,
    held_advisory_locks,
    run_in_threads,
    stripe_error,
    stripe_list,
    wait_until,
    waiting_advisory_locks,
)

CID = "6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"


def expire(tenant_id) -> None:
    with tenant_context(tenant_id), connection.cursor() as cursor:
        cursor.execute("UPDATE revenue_cache_entries SET expires_at = now() - interval '1 second'")


@pytest.mark.django_db
def test_a_refresh_stores_every_active_account_apart_and_totals_sales_only(platforms):
    tenant = make_tenant(reporting_currency="USD")
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    make_connection(tenant, "stripe", "acct_2", access_token="sk_two")
    make_connection(tenant, "google_ads", "123-456", access_token="ya29.g")
    platforms.stripe.set("sk_one", Behaviour(body=stripe_list(1000, 250)))
    platforms.stripe.set("sk_two", Behaviour(body=stripe_list(5000, currency="eur")))
    platforms.google_customer("123456")
    platforms.google.set("ya29.g", Behaviour(body=google_rows("99.99")))

    result = revenue_refresh(tenant.id, correlation_id=CID)

    assert result.outcome == "refreshed"
    snapshot = Snapshot.from_payload(result.entry.payload)
    assert snapshot.revenue_total == 1250
    assert snapshot.sales_by_currency == {"EUR": 5000, "USD": 1250}
    assert snapshot.claimed_total == 9999
    assert snapshot.event_count == 3
    assert sorted(s.account for s in snapshot.sources) == ["123-456", "acct_1", "acct_2"]
    assert all(s.status == "ok" for s in snapshot.sources)
    assert result.entry.etag == snapshot.etag()
    assert result.entry.expires_at == snapshot.data_as_of + timedelta(seconds=30)
    assert result.entry.error_cooldown_until is None


@pytest.mark.django_db
def test_a_refresh_takes_three_statements_lock_and_read_write_unlock(platforms):
    tenant = make_tenant()
    for n in range(3):
        make_connection(tenant, "stripe", f"acct_{n}", access_token=f"sk_{n}")
        platforms.stripe.set(f"sk_{n}", Behaviour(body=stripe_list(100)))

    with CaptureQueriesContext(connection) as queries:
        assert revenue_refresh(tenant.id, correlation_id=CID).outcome == "refreshed"

    # Inside the test's transaction each statement that sets the tenant itself runs in a
    # savepoint (outside one it is its own transaction); what a refresh costs is the rest.
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    shapes = [" ".join(sql.split()).split("(")[0] for sql in statements]
    assert shapes == [
        "SELECT * FROM revenue_refresh_read",  # the lock, then the tenant, its entry, every credential
        "SELECT * FROM revenue_entry_store_snapshot",
        "SELECT pg_advisory_unlock",
    ], shapes


@pytest.mark.django_db
def test_a_fresh_entry_is_served_without_a_lock_or_a_platform_call(platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    platforms.stripe.set("sk_one", Behaviour(body=stripe_list(100)))
    first = revenue_get(tenant.id, correlation_id=CID)
    second = revenue_get(tenant.id, correlation_id=CID)
    assert (first.outcome, second.outcome) == ("leader", "hit")
    assert second.entry.data_as_of == first.entry.data_as_of
    assert platforms.stripe.total == 1


def test_stampede_fetches_each_source_once_and_followers_wait_for_the_release(committed_db, platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_slow_1", access_token="sk_slow_1")
    make_connection(tenant, "stripe", "acct_slow_2", access_token="sk_slow_2")
    gate = threading.Event()
    platforms.stripe.set("sk_slow_1", Behaviour(body=stripe_list(700), gate=gate))
    platforms.stripe.set("sk_slow_2", Behaviour(body=stripe_list(300), gate=gate))
    callers = 50
    cache_reads = [0] * callers

    def read(i: int):
        def count(execute, sql, params, many, context):
            if sql.lstrip().upper().startswith("SELECT") and "revenue_cache_entries" in sql:
                cache_reads[i] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            return revenue_get(tenant.id, correlation_id=CID)

    releaser = threading.Thread(
        target=lambda: (wait_until(lambda: waiting_advisory_locks() >= callers - 1), gate.set())
    )
    releaser.start()
    results = run_in_threads(callers, read)
    releaser.join()

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert platforms.stripe.calls == {"sk_slow_1": 1, "sk_slow_2": 1}
    assert {r.entry.data_as_of for r in results} == {results[0].entry.data_as_of}
    outcomes = sorted(r.outcome for r in results)
    assert outcomes.count("leader") == 1 and outcomes.count("follower") == callers - 1
    followers = [n for r, n in zip(results, cache_reads, strict=True) if r.outcome == "follower"]
    # One read before trying the lock, one after being woken: a sleep-poll loop would read more.
    assert max(followers) == 2
    assert Snapshot.from_payload(results[0].entry.payload).revenue_total == 1000
    assert held_advisory_locks() == 0


def test_two_tenants_refresh_concurrently_without_blocking_each_other(committed_db, platforms):
    slow, quick = make_tenant("slow"), make_tenant("quick")
    make_connection(slow, "stripe", "acct_slow", access_token="sk_slow")
    make_connection(quick, "stripe", "acct_quick", access_token="sk_quick")
    gate = threading.Event()
    platforms.stripe.set("sk_slow", Behaviour(body=stripe_list(1), gate=gate))
    platforms.stripe.set("sk_quick", Behaviour(body=stripe_list(2)))
    slow_result: list = []
    worker = threading.Thread(
        target=lambda: (
            slow_result.append(revenue_get(slow.id, correlation_id=CID)),
            __import__("django.db").db.connections.close_all(),
        )
    )
    worker.start()
    wait_until(lambda: platforms.stripe.calls["sk_slow"] == 1)
    # The slow tenant's leader is inside its platform call; the other tenant is not held up.
    quick_read = revenue_get(quick.id, correlation_id=CID)
    assert quick_read.outcome == "leader" and not gate.is_set()
    gate.set()
    worker.join(30)
    assert slow_result[0].outcome == "leader"


@pytest.mark.django_db
def test_a_rate_limit_cools_the_tenant_down_for_as_long_as_the_platform_asked(platforms, frozen_clock, settings):
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = 5  # the platform's 7 s is longer: it wins
    settings.REVENUE_STALE_IF_ERROR_SECONDS = 0  # the cooldown itself, not the stale answer during it
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    platforms.stripe.set("sk_one", Behaviour(body=stripe_list(4200)))
    good = revenue_get(tenant.id, correlation_id=CID).entry
    frozen_clock.advance(31)
    platforms.stripe.set(
        "sk_one", Behaviour(429, stripe_error(429, "rate_limit_error", "rate_limit"), {"Retry-After": "7"})
    )

    with pytest.raises(RevenueUnavailable) as info:
        revenue_get(tenant.id, correlation_id=CID)
    assert info.value.retry_after >= 7
    entry = cache_entry_get(tenant.id)
    assert entry.error_cooldown_until - frozen_clock() >= timedelta(seconds=7)
    # The last good figures and their as-of stay, under the source's new state.
    assert (entry.data_as_of, entry.expires_at) == (good.data_as_of, good.expires_at)
    kept, before = Snapshot.from_payload(entry.payload), Snapshot.from_payload(good.payload)
    assert kept.data_as_of == before.data_as_of and kept.revenue_total == 4200
    assert [(s.status, s.figures) for s in kept.sources] == [("rate_limited", before.sources[0].figures)]
    assert "rate_limited" in entry.last_error_message and "sk_one" not in entry.last_error_message

    calls = platforms.stripe.total
    frozen_clock.advance(3)
    with pytest.raises(RevenueUnavailable) as during:
        revenue_get(tenant.id, correlation_id=CID)
    assert during.value.reason == "error_cooldown" and during.value.retry_after == 4
    assert platforms.stripe.total == calls  # no platform call during the cooldown

    frozen_clock.advance(5)
    platforms.stripe.set("sk_one", Behaviour(body=stripe_list(4300)))
    after = revenue_get(tenant.id, correlation_id=CID)
    assert after.outcome == "leader" and platforms.stripe.total == calls + 1
    assert Snapshot.from_payload(after.entry.payload).revenue_total == 4300


@pytest.mark.django_db
def test_a_first_refresh_that_fails_leaves_no_payload_and_a_default_cooldown(platforms, frozen_clock, settings):
    settings.REVENUE_ERROR_COOLDOWN_SECONDS = 10
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    platforms.stripe.set("sk_one", Behaviour(500, stripe_error(500, "api_error")))
    with pytest.raises(RevenueUnavailable) as info:
        revenue_get(tenant.id, correlation_id=CID)
    assert info.value.retry_after == 10
    entry = cache_entry_get(tenant.id)
    assert entry.payload is None and entry.data_as_of is None
    assert "upstream" in entry.last_error_message


def test_no_second_leader_right_after_a_failure(committed_db, platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_one")
    gate = threading.Event()
    platforms.stripe.set("sk_one", Behaviour(500, stripe_error(500, "api_error"), gate=gate))
    callers = 10
    releaser = threading.Thread(
        target=lambda: (wait_until(lambda: waiting_advisory_locks() >= callers - 1), gate.set())
    )
    releaser.start()
    results = run_in_threads(callers, lambda i: revenue_get(tenant.id, correlation_id=CID))
    releaser.join()
    assert all(isinstance(r, RevenueUnavailable) for r in results), results
    # The session's retries of the one refresh are the only calls: no second leader.
    first_refresh_calls = platforms.stripe.total
    assert {r.reason for r in results} == {"error_cooldown"}
    # A caller that saw the entry expired before the failure was written now takes the
    # lock, re-reads, finds the cooldown and calls nothing.
    assert revenue_refresh(tenant.id, correlation_id=CID).outcome == "not_due"
    assert platforms.stripe.total == first_refresh_calls
    assert held_advisory_locks() == 0


@pytest.mark.django_db
def test_one_failing_source_of_three_keeps_its_last_good_figures(platforms, frozen_clock):
    tenant = make_tenant()
    for token in ("sk_a", "sk_b", "sk_c"):
        make_connection(tenant, "stripe", f"acct_{token}", access_token=token)
        platforms.stripe.set(token, Behaviour(body=stripe_list(100)))
    first = Snapshot.from_payload(revenue_get(tenant.id, correlation_id=CID).entry.payload)
    frozen_clock.advance(31)
    platforms.stripe.set("sk_a", Behaviour(body=stripe_list(200)))
    platforms.stripe.set("sk_b", Behaviour(body=stripe_list(300)))
    platforms.stripe.set("sk_c", Behaviour(503, stripe_error(503, "api_error")))

    read = revenue_get(tenant.id, correlation_id=CID)
    snapshot = Snapshot.from_payload(read.entry.payload)
    by_account = {s.account: s for s in snapshot.sources}
    assert (by_account["acct_sk_a"].status, by_account["acct_sk_b"].status) == ("ok", "ok")
    failed = by_account["acct_sk_c"]
    assert failed.status == "upstream"
    assert failed.figures == first.source(failed.connection_id).figures  # last good, own as-of
    assert failed.figures.as_of < snapshot.data_as_of
    assert snapshot.revenue_total == 200 + 300 + 100
    assert read.entry.error_cooldown_until is None and read.entry.expires_at > frozen_clock()
    assert "stripe acct_sk_c: upstream" in read.entry.last_error_message


@pytest.mark.django_db
def test_a_revoked_credential_is_reported_without_cooling_the_tenant_down(platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_ok", access_token="sk_ok")
    revoked = make_connection(tenant, "stripe", "acct_gone", access_token="sk_gone")
    with tenant_context(tenant.id):
        PlatformCredential.objects.filter(platform_connection=revoked).update(
            lifecycle_status="revoked", revoked_at=timezone.now(), next_refresh_due_at=None
        )
    platforms.stripe.set("sk_ok", Behaviour(body=stripe_list(100)))
    read = revenue_get(tenant.id, correlation_id=CID)
    snapshot = Snapshot.from_payload(read.entry.payload)
    assert {s.account: s.status for s in snapshot.sources} == {"acct_ok": "ok", "acct_gone": "reconnect_required"}
    assert platforms.stripe.calls == {"sk_ok": 1}
    assert read.entry.error_cooldown_until is None


@pytest.mark.django_db
def test_a_tenant_without_connections_gets_an_empty_snapshot():
    tenant = make_tenant()
    snapshot = Snapshot.from_payload(revenue_get(tenant.id, correlation_id=CID).entry.payload)
    assert (snapshot.revenue_total, snapshot.sources, snapshot.verified) == (0, (), False)


def _expiring_google(tenant, refresh_token="1//rt-google"):
    conn = make_connection(
        tenant,
        "google_ads",
        "111-222-3333",
        access_token="ya29.old",
        refresh_token=refresh_token,
        expires_at=timezone.now() + timedelta(seconds=60),
    )
    return conn


def test_an_expiring_google_token_is_refreshed_once_by_two_racing_refreshers(committed_db, platforms):
    tenant = make_tenant()
    conn = _expiring_google(tenant)
    gate = threading.Event()
    platforms.google_token.set(
        "1//rt-google",
        Behaviour(
            body={"access_token": "ya29.new", "expires_in": 3599, "scope": "adwords", "token_type": "Bearer"}, gate=gate
        ),
    )
    platforms.google_customer("1112223333")
    platforms.google.set("ya29.new", Behaviour(body=google_rows("10.00")))
    platforms.google.set("ya29.old", Behaviour(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}))

    from providers.registry import provider_get
    from revenue.sources import credential_refresh  # the per-credential lock, raced directly

    with tenant_context(tenant.id):
        tokens = credential_get(connection_id=conn.id)
    releaser = threading.Thread(
        target=lambda: (
            wait_until(lambda: platforms.google_token.total == 1 and waiting_advisory_locks() >= 1),
            gate.set(),
        )
    )
    releaser.start()
    results = run_in_threads(
        2,
        lambda i: credential_refresh(
            tenant_id=tenant.id,
            conn=conn,
            provider=provider_get("google_ads"),
            tokens=tokens,
            correlation_id=CID,
            now=timezone.now(),
        ),
    )
    releaser.join()
    assert [r.access_token for r in results] == ["ya29.new", "ya29.new"], results
    assert platforms.google_token.total == 1
    with tenant_context(tenant.id):
        row = PlatformCredential.objects.get()
    assert (row.lifecycle_status, row.refresh_failure_count) == ("active", 0)
    assert row.expires_at > timezone.now() + timedelta(minutes=55)

    # And the revenue refresh then uses the new token without refreshing again.
    read = revenue_get(tenant.id, correlation_id=CID)
    assert Snapshot.from_payload(read.entry.payload).claimed_total == 1000
    assert platforms.google_token.total == 1 and platforms.google.calls == {"ya29.new": 1}


@pytest.mark.django_db
def test_invalid_grant_revokes_the_credential_and_the_source_asks_for_a_reconnect(platforms):
    tenant = make_tenant()
    _expiring_google(tenant, refresh_token="1//rt-dead")
    make_connection(tenant, "stripe", "acct_ok", access_token="sk_ok")
    # Expired already: the old access token cannot be used while the refresh fails.
    with tenant_context(tenant.id):
        PlatformCredential.objects.filter(platform="google_ads").update(
            expires_at=timezone.now() - timedelta(seconds=1), next_refresh_due_at=timezone.now() - timedelta(minutes=5)
        )
    platforms.google_token.set(
        "1//rt-dead",
        Behaviour(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    )
    platforms.stripe.set("sk_ok", Behaviour(body=stripe_list(100)))

    read = revenue_get(tenant.id, correlation_id=CID)

    snapshot = Snapshot.from_payload(read.entry.payload)
    google = next(s for s in snapshot.sources if s.platform == "google_ads")
    assert google.status == "reconnect_required"
    assert "1//rt-dead" not in (google.error or "") and "1//rt-dead" not in read.entry.last_error_message
    with tenant_context(tenant.id):
        row = PlatformCredential.objects.get(platform="google_ads")
    assert row.lifecycle_status == "revoked" and row.revoked_at is not None and row.next_refresh_due_at is None
    assert read.entry.error_cooldown_until is None  # stripe still works


@pytest.mark.django_db
def test_a_transient_refresh_failure_keeps_using_the_still_valid_token(platforms):
    tenant = make_tenant()
    _expiring_google(tenant)
    with tenant_context(tenant.id):
        PlatformCredential.objects.update(next_refresh_due_at=timezone.now() - timedelta(seconds=1))
    platforms.google_token.set("1//rt-google", Behaviour(503, {"error": "backend_error"}))
    platforms.google_customer("1112223333")
    platforms.google.set("ya29.old", Behaviour(body=google_rows("5.00")))

    read = revenue_get(tenant.id, correlation_id=CID)

    assert Snapshot.from_payload(read.entry.payload).claimed_total == 500
    with tenant_context(tenant.id):
        row = PlatformCredential.objects.get()
    assert (row.lifecycle_status, row.refresh_failure_count, row.last_failure_class) == ("degraded", 1, "upstream")
