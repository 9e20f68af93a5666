"""The normalised snapshot: totals, currencies, round trip, ETag."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from revenue.snapshot import Figures, Snapshot, SourceState, day_window, payload_etag

NOW = datetime(2026, 11, 27, 15, 30, 12, 345678, tzinfo=UTC)
START, END = day_window(NOW, "Asia/Tokyo")


def source(platform: str, kind: str, amounts: dict[str, int], *, status="ok", window_start=START, count=1):
    return SourceState(
        connection_id=str(uuid.uuid4()),
        platform=platform,
        account=f"{platform}-acct",
        kind=kind,
        status=status,
        figures=Figures(amounts=amounts, count=count, as_of=NOW, window_start=window_start),
        error=None if status == "ok" else "stripe: rate limited",
        retry_not_before=NOW + timedelta(seconds=7) if status == "rate_limited" else None,
    )


def snapshot(*sources: SourceState, currency: str = "JPY") -> Snapshot:
    return Snapshot(
        tenant_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        interval="day",
        window_start=START,
        window_end=END,
        currency=currency,
        sources=tuple(sources),
        data_as_of=NOW,
    )


def test_the_day_starts_at_midnight_in_the_tenants_zone():
    assert START.isoformat() == "2026-11-28T00:00:00+09:00"
    assert END == NOW


def test_revenue_total_sums_sales_in_the_reporting_currency_only():
    snap = snapshot(
        source("stripe", "sales", {"JPY": 1200, "USD": 500}, count=3),
        source("shopify", "sales", {"JPY": 34}, count=2),
        source("google_ads", "claimed", {"JPY": 99_999}),
    )
    assert snap.revenue_total == 1234
    assert snap.sales_by_currency == {"JPY": 1234, "USD": 500}
    assert snap.claimed_total == 99_999  # beside the total, never added to it
    assert snap.event_count == 5
    assert snap.platforms == ["google_ads", "shopify", "stripe"]


def test_failed_sources_keep_last_good_figures_of_this_window_only():
    snap = snapshot(
        source("stripe", "sales", {"JPY": 1000}, status="rate_limited"),
        source("paypal", "sales", {"JPY": 7}, status="upstream", window_start=START - timedelta(days=1)),
    )
    assert snap.revenue_total == 1000  # yesterday's figures of paypal do not count today
    assert [s.platform for s in snap.stale_sources] == ["stripe", "paypal"]


def test_serialisation_round_trips_exactly_and_the_etag_is_stable():
    snap = snapshot(
        source("stripe", "sales", {"KWD": 12_345}),
        source("meta_ads", "claimed", {"JPY": 5}, status="auth"),
        SourceState("c", "woocommerce", "https://shop", "sales", "reconnect_required", None, "must reconnect"),
    )
    payload = snap.to_payload()
    again = Snapshot.from_payload(payload)
    assert again == snap
    assert again.to_payload() == payload
    assert again.etag() == snap.etag() == payload_etag(payload)
    assert snap.etag().startswith('"') and len(snap.etag()) == 66


def test_the_etag_changes_with_the_data():
    one = snapshot(source("stripe", "sales", {"JPY": 1}))
    two = snapshot(source("stripe", "sales", {"JPY": 2}))
    assert one.etag() != two.etag()
