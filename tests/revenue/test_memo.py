"""The per-process memos of the hot path: bounded in number and never serving anything
past its own expiry."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revenue.realtime import _fresh_entries, revenue_get
from skeldir.memo import BoundedMemo
from tests.factories import make_connection, make_tenant
from tests.stubs import Behaviour, stripe_list

CID = "6f1c2b8a-0d8e-4b51-9d0c-3e2f1a4b5c6d"


def test_the_memo_forgets_at_the_deadline_and_beyond_its_size():
    memo: BoundedMemo[str] = BoundedMemo(maxsize=2)
    now = time.time()
    memo.put("a", "A", deadline=now + 10)
    assert memo.get("a", now) == "A"
    assert memo.get("a", now + 10) is None  # at the deadline: gone
    memo.put("a", "A", deadline=now + 10)
    memo.put("b", "B", deadline=now + 10)
    memo.get("a", now)  # a is now the most recently used
    memo.put("c", "C", deadline=now + 10)
    assert (memo.get("a", now), memo.get("b", now), memo.get("c", now)) == ("A", None, "C")
    assert len(memo) == 2
    BoundedMemo(maxsize=0).put("x", "X", deadline=now + 10)  # size 0 turns it off


@pytest.mark.django_db
def test_a_remembered_fresh_entry_is_served_without_the_database(platforms):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_1")
    platforms.stripe.set("sk_1", Behaviour(body=stripe_list(100)))
    first = revenue_get(tenant.id, correlation_id=CID)
    with CaptureQueriesContext(connection) as queries:
        again = revenue_get(tenant.id, correlation_id=CID)
    assert again.outcome == "hit" and again.entry == first.entry
    assert queries.captured_queries == []


@pytest.mark.django_db
def test_a_remembered_entry_is_never_served_past_its_expiry(platforms, frozen_clock):
    tenant = make_tenant()
    make_connection(tenant, "stripe", "acct_1", access_token="sk_1")
    platforms.stripe.set("sk_1", Behaviour(body=stripe_list(100)))
    first = revenue_get(tenant.id, correlation_id=CID)
    frozen_clock.advance(31)  # past the 30 s TTL
    platforms.stripe.set("sk_1", Behaviour(body=stripe_list(200)))
    second = revenue_get(tenant.id, correlation_id=CID)
    assert second.outcome == "leader" and second.entry.data_as_of > first.entry.data_as_of
    assert platforms.stripe.total == 2


@pytest.mark.django_db
def test_the_memo_is_keyed_by_tenant(platforms):
    a, b = make_tenant("a"), make_tenant("b")
    make_connection(a, "stripe", "acct_a", access_token="sk_a")
    make_connection(b, "stripe", "acct_b", access_token="sk_b")
    platforms.stripe.set("sk_a", Behaviour(body=stripe_list(1)))
    platforms.stripe.set("sk_b", Behaviour(body=stripe_list(2)))
    read_a = revenue_get(a.id, correlation_id=CID)
    read_b = revenue_get(b.id, correlation_id=CID)
    assert read_a.entry.payload["tenant_id"] == str(a.id)
    assert read_b.entry.payload["tenant_id"] == str(b.id)
    assert revenue_get(a.id, correlation_id=CID).entry.payload["tenant_id"] == str(a.id)
    assert _fresh_entries.get(uuid.uuid4(), time.time()) is None
