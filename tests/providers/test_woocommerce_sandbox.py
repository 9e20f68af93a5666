"""The simulated WooCommerce answers as WooCommerce does where the adapter relies on it:
strict `after`/`before` on the store's wall clock, `dp` rounding, every order status, refunds
made later in the day, a 4-decimal store and orders at midnight on the dot. Plain `requests`
against the simulator's socket; no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import requests

from providers.sandbox import Sandbox

NOW = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
DAY = NOW.replace(hour=0)
STORE_TZ_OFFSET = timedelta(hours=-5)  # the simulated store's zone


def wall(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    sandbox.set_now(NOW)
    return sandbox


def orders(sb: Sandbox, store: str = "store.example.com", **params: Any) -> requests.Response:
    params.setdefault("after", wall(DAY - timedelta(seconds=1)))
    params.setdefault("before", wall(sb.state.now()))
    params.setdefault("dates_are_gmt", "true")
    params.setdefault("per_page", 100)
    params.setdefault("orderby", "date")
    params.setdefault("order", "asc")
    params = {k: v for k, v in params.items() if v is not None}
    return requests.get(
        f"{sb.url}/wp-json/wc/v3/orders",
        params=params,
        auth=("ck_sandbox", "cs_sandbox"),
        headers={"X-Skeldir-Shop": store},
        timeout=10,
    )


def every(sb: Sandbox, **params: Any) -> list[dict[str, Any]]:
    first = orders(sb, **params)
    assert first.status_code == 200, first.text
    found = first.json()
    for page in range(2, int(first.headers["X-WP-TotalPages"]) + 1):
        found += orders(sb, page=page, **params).json()
    return found


def created(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(order["date_created_gmt"]).replace(tzinfo=UTC)


def test_an_order_at_exactly_after_is_not_listed_one_second_earlier_it_is(sb: Sandbox) -> None:
    store = "shop-midnight.example.com"
    exact = every(sb, store=store, after=wall(DAY))
    early = every(sb, store=store, after=wall(DAY - timedelta(seconds=1)))
    assert min(map(created, early)) == DAY  # the quarter-hour order placed at 00:00:00
    assert [o["id"] for o in early[1:]] == [o["id"] for o in exact]
    before = every(sb, store=store, after=wall(DAY - timedelta(seconds=1)), before=wall(DAY + timedelta(hours=1)))
    assert max(map(created, before)) < DAY + timedelta(hours=1)  # the 01:00:00 order is not listed


def test_an_offset_is_read_in_store_time_and_compared_with_the_gmt_column(sb: Sandbox) -> None:
    # WordPress converts "...Z" to the store's wall clock (UTC-05:00) and compares that with
    # date_created_gmt: "05:00:00Z" means "00:00:00" against the GMT column.
    with_offset = every(sb, after=(DAY + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [o["id"] for o in with_offset] == [o["id"] for o in every(sb, after=wall(DAY))]
    # Without dates_are_gmt the store-time column is used and the offset comes out right.
    local = every(sb, after=(DAY + timedelta(hours=5)).isoformat(), dates_are_gmt=None)
    assert min(map(created, local)) > DAY + timedelta(hours=5)


@pytest.mark.parametrize("value", ["2025-06-03", "2025-06-03T00:00", "yesterday", "2025-06-03T00:00:00+5"])
def test_a_date_wordpress_does_not_parse_is_a_400(sb: Sandbox, value: str) -> None:
    answer = orders(sb, after=value)
    assert answer.status_code == 400 and answer.json()["code"] == "rest_invalid_param"


def test_dp_rounds_half_away_from_zero_and_defaults_to_the_stores_decimals(sb: Sandbox) -> None:
    store = "shop-dp4.example.com"
    native = every(sb, store=store)
    assert native and all(len(o["total"].split(".")[1]) == 4 for o in native)
    assert any(not o["total"].endswith("00") for o in native)  # prices really have 4 decimals
    for dp in (2, 0, 6):
        rendered = every(sb, store=store, dp=dp)
        step = Decimal(1).scaleb(-dp)
        assert [o["total"] for o in rendered] == [
            str(Decimal(o["total"]).quantize(step, rounding=ROUND_HALF_UP)) for o in native
        ]
        assert [[r["total"] for r in o["refunds"]] for o in rendered] == [
            ["-" + str(Decimal(r["total"][1:]).quantize(step, rounding=ROUND_HALF_UP)) for r in o["refunds"]]
            for o in native
        ]
    assert [o["total"] for o in every(sb, store=store, dp=-2)] == [o["total"] for o in every(sb, store=store, dp=2)]
    assert orders(sb, dp="two").json()["code"] == "rest_invalid_param"
    usd = every(sb)
    assert all(len(o["total"].split(".")[1]) == 2 for o in usd)  # a plain store: the currency's decimals


def test_every_status_occurs_and_any_lists_all_but_trash(sb: Sandbox) -> None:
    day = {"store": "shop-busy.example.com", "after": wall(DAY - timedelta(seconds=1)), "before": wall(NOW)}
    listed = {o["status"] for o in every(sb, **day)}
    assert listed == {
        "completed",
        "processing",
        "ready-for-pickup",
        "pending",
        "on-hold",
        "cancelled",
        "refunded",
        "failed",
        "checkout-draft",
    }
    trashed = every(sb, status="trash", **day)
    assert trashed and {o["status"] for o in trashed} == {"trash"}
    assert not {o["id"] for o in trashed} & {o["id"] for o in every(sb, **day)}


def test_some_orders_are_partly_refunded_later_the_same_day(sb: Sandbox) -> None:
    sb.set_now(DAY + timedelta(hours=9))
    morning = {o["id"]: o for o in every(sb)}
    sb.set_now(DAY + timedelta(hours=23, minutes=59))
    evening = {o["id"]: o for o in every(sb, before=wall(DAY + timedelta(hours=9)))}
    assert morning.keys() == evening.keys()
    refunded_later = [i for i in morning if not morning[i]["refunds"] and evening[i]["refunds"]]
    assert refunded_later
    for i in refunded_later:
        assert evening[i]["status"] in ("completed", "processing", "ready-for-pickup")
        assert Decimal(evening[i]["refunds"][0]["total"]) < 0 < Decimal(evening[i]["total"])
        assert -Decimal(evening[i]["refunds"][0]["total"]) < Decimal(evening[i]["total"])


def test_answers_are_deterministic(sb: Sandbox) -> None:
    assert (
        orders(sb, store="shop-dp4-midnight.example.com").json()
        == orders(sb, store="shop-dp4-midnight.example.com").json()
    )
