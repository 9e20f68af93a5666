"""The demo behind `make run`: a tenant on all six platforms, refreshed through the real
adapters over HTTP against the local simulator (not canned numbers)."""

from __future__ import annotations

import io
import re
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command

from revenue.realtime import revenue_refresh
from revenue.snapshot import Snapshot


def _seed() -> uuid.UUID:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return uuid.UUID(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_the_demo_tenant_reads_all_six_platforms_through_the_adapters(simulated_platforms, settled_day):
    tenant_id = _seed()
    assert _seed() == tenant_id  # a second run reuses what exists

    result = revenue_refresh(tenant_id, correlation_id=str(uuid.uuid4()))

    snapshot = Snapshot.from_payload(result.entry.payload)
    assert result.outcome == "refreshed"
    assert {s.platform: s.status for s in snapshot.sources} == dict.fromkeys(
        ["stripe", "shopify", "paypal", "woocommerce", "google_ads", "meta_ads"], "ok"
    )
    assert snapshot.revenue_total > 0 and snapshot.claimed_total > 0
    calls = simulated_platforms.calls()
    assert set(calls) == {"stripe", "shopify", "paypal", "woocommerce", "google_ads", "meta_ads"}


@pytest.mark.django_db
def test_the_demo_summary_prints_each_figure_with_what_it_means(simulated_platforms, settled_day):
    tenant_id = _seed()
    revenue_refresh(tenant_id, correlation_id=str(uuid.uuid4()))
    out = io.StringIO()

    call_command("demo_summary", "--tenant", str(tenant_id), stdout=out)

    text = out.getvalue()
    sales = re.match(r"Revenue today: ([0-9.]+) [A-Z]{3} from sales", text)
    assert sales and Decimal(sales.group(1)) > 0
    for measure in (
        "captured_minus_refunds_and_lost_disputes",
        "received_minus_refunded",
        "completed_sales_minus_refunds",
        "paid_orders_minus_refunds",
        "conversions_value_by_conversion_date",
        "omni_purchase_value",
    ):
        assert measure in text, measure
    assert "attribution action_report_time=conversion" in text
    assert "complete until " in text  # PayPal's reporting lag
