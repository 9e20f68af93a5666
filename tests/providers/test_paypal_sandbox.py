"""The PayPal simulator's merchant history: refunds and reversals naming their sales, pending
and denied payments, the reporting lag with `last_refreshed_datetime`, and the adapter's
figure over real HTTP checked against a count made here from the raw listing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from providers.base import ProviderContext, TokenRefreshContext
from providers.money import decimal_to_minor
from providers.paypal import PayPalProvider
from providers.sandbox import Sandbox
from providers.sandbox.paypal import LATEST_REFUND, last_refreshed

NOW = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
DAY_START = NOW.replace(hour=0)


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    sandbox.set_now(NOW)
    return sandbox


def token(sb: Sandbox, client: str = "client-1") -> str:
    response = requests.post(
        f"{sb.url}/v1/oauth2/token", auth=(client, "s"), data={"grant_type": "client_credentials"}, timeout=10
    )
    return response.json()["access_token"]


def search(sb: Sandbox, access: str, start: datetime, end: datetime, **params: Any) -> dict[str, Any]:
    params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "page_size": 500, **params}
    response = requests.get(
        f"{sb.url}/v1/reporting/transactions",
        params=params,
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def infos(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [d["transaction_info"] for d in body.get("transaction_details", [])]


def test_refunds_name_their_sales_some_the_same_day_some_earlier(sb: Sandbox) -> None:
    listed = infos(search(sb, token(sb), DAY_START, NOW))
    sales = {i["transaction_id"]: i for i in listed if i["transaction_event_code"] in ("T0005", "T0006", "T0007")}
    refunds = [i for i in listed if i["transaction_event_code"] == "T1107"]
    assert refunds
    for refund in refunds:
        assert refund["transaction_status"] == "S" and refund["paypal_reference_id_type"] == "TXN"
        assert decimal_to_minor(refund["transaction_amount"]["value"], "USD") < 0
    same_day = [r for r in refunds if r["paypal_reference_id"] in sales]
    earlier = [r for r in refunds if r["paypal_reference_id"] not in sales]
    assert same_day and earlier  # a refund today of a sale made today, and of earlier days' sales
    for refund in same_day:
        sale = sales[refund["paypal_reference_id"]]
        assert sale["transaction_initiation_date"] < refund["transaction_initiation_date"]
        assert sale["transaction_amount"]["currency_code"] == refund["transaction_amount"]["currency_code"]
        assert -decimal_to_minor(refund["transaction_amount"]["value"], "USD") <= decimal_to_minor(
            sale["transaction_amount"]["value"], "USD"
        )
    # the earlier days' sales are found where they were made, at most LATEST_REFUND back
    history = {i["transaction_id"] for i in infos(search(sb, token(sb), DAY_START - LATEST_REFUND, NOW))}
    assert all(r["paypal_reference_id"] in history for r in earlier)


def test_a_reversed_sale_is_completed_until_its_reversal_shows_then_v(sb: Sandbox) -> None:
    access = token(sb)
    listed = infos(search(sb, access, NOW - timedelta(days=3), NOW))
    reversals = [i for i in listed if i["transaction_event_code"] == "T1106"]
    by_id = {i["transaction_id"]: i for i in listed}
    reversed_sales = [by_id[r["paypal_reference_id"]] for r in reversals if r["paypal_reference_id"] in by_id]
    assert reversed_sales
    reversal = next(r for r in reversals if r["paypal_reference_id"] in by_id)
    sale = by_id[reversal["paypal_reference_id"]]
    assert sale["transaction_status"] == "V"
    assert sale["transaction_updated_date"] == reversal["transaction_initiation_date"]
    assert reversal["transaction_amount"]["value"] == "-" + sale["transaction_amount"]["value"]

    sb.set_now(datetime.fromisoformat(reversal["transaction_initiation_date"]) - timedelta(minutes=1))
    before = {i["transaction_id"]: i for i in infos(search(sb, token(sb), NOW - timedelta(days=3), NOW))}
    assert before[sale["transaction_id"]]["transaction_status"] == "S"
    assert reversal["transaction_id"] not in before


def test_pending_denied_and_every_status_filter(sb: Sandbox) -> None:
    access = token(sb)
    start = NOW - timedelta(days=3)
    everything = infos(search(sb, access, start, NOW))
    statuses = {i["transaction_status"] for i in everything}
    assert statuses == {"S", "P", "D", "V"}
    for status in statuses:
        only = infos(search(sb, access, start, NOW, transaction_status=status))
        assert only and [i["transaction_id"] for i in only] == [
            i["transaction_id"] for i in everything if i["transaction_status"] == status
        ]


def test_transactions_appear_only_after_the_reporting_lag(sb: Sandbox) -> None:
    body = search(sb, token(sb), DAY_START, NOW)
    refreshed = datetime.fromisoformat(body["last_refreshed_datetime"])
    assert NOW - timedelta(hours=3) <= refreshed < NOW
    assert body["last_refreshed_datetime"].endswith("+00:00")
    assert all(datetime.fromisoformat(i["transaction_initiation_date"]) <= refreshed for i in infos(body))
    # once the store refreshes past NOW, what happened between the old cut-off and NOW shows
    sb.set_now(NOW + timedelta(hours=3))
    later = infos(search(sb, token(sb), DAY_START, NOW))
    assert len(later) > len(infos(body))
    assert {i["transaction_id"] for i in infos(body)} <= {i["transaction_id"] for i in later}


def test_the_cut_off_never_goes_back_and_lags_at_most_three_hours() -> None:
    moments = [DAY_START + timedelta(minutes=7 * n) for n in range(3 * 24 * 60 // 7)]
    cut_offs = [last_refreshed(m) for m in moments]
    assert cut_offs == sorted(cut_offs)
    assert all(timedelta(0) < m - c <= timedelta(hours=3) for m, c in zip(moments, cut_offs, strict=True))


def test_same_moment_same_answer(sb: Sandbox) -> None:
    access = token(sb)
    assert (
        search(sb, access, DAY_START, NOW)["transaction_details"]
        == search(sb, access, DAY_START, NOW)["transaction_details"]
    )


def test_adapter_figure_is_the_days_completed_sales_net_of_their_refunds(sb: Sandbox) -> None:
    """Counted here from the raw listing, independently of the adapter's code."""
    zone = ZoneInfo("America/New_York")
    start, end = NOW.astimezone(zone).replace(hour=0), NOW.astimezone(zone)
    provider = PayPalProvider(base_url=sb.url)
    access = provider.refresh_token(
        TokenRefreshContext(
            tenant_id=uuid.uuid4(),
            connection_id=uuid.uuid4(),
            platform_account_id="M",
            connection_metadata={},
            refresh_token="client-net-multi:s",
            correlation_id="c",
        )
    ).access_token
    result = provider.fetch_revenue(
        ProviderContext(
            tenant_id=uuid.uuid4(),
            connection_id=uuid.uuid4(),
            platform_account_id="M",
            connection_metadata={},
            access_token=access,
            window_start=start,
            window_end=end,
            correlation_id="c",
        )
    )
    body = search(sb, access, start.replace(microsecond=0), end.replace(microsecond=0))
    listed = infos(body)

    def minor(info: dict[str, Any]) -> int:
        return decimal_to_minor(info["transaction_amount"]["value"], info["transaction_amount"]["currency_code"])

    net = {
        i["transaction_id"]: minor(i)
        for i in listed
        if i["transaction_event_code"] in ("T0005", "T0006", "T0007") and i["transaction_status"] == "S"
    }
    refunded = 0
    for info in listed:
        if info["transaction_event_code"] in ("T1106", "T1107") and info.get("paypal_reference_id") in net:
            net[info["paypal_reference_id"]] += minor(info)
            refunded += 1
    currency = {i["transaction_id"]: i["transaction_amount"]["currency_code"] for i in listed}
    expected: dict[str, int] = {}
    for tid, value in net.items():
        if value > 0:
            expected[currency[tid]] = expected.get(currency[tid], 0) + value
    assert refunded and len(expected) > 1
    assert result.amounts == expected
    assert result.count == sum(1 for v in net.values() if v > 0)
    assert result.basis is not None
    assert result.basis.complete_until == datetime.fromisoformat(body["last_refreshed_datetime"])
    assert result.basis.measure == "completed_sales_minus_refunds"
    assert (result.basis.time_zone, result.basis.date) == ("America/New_York", start.date())
