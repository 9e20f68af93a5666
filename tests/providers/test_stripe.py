"""Stripe adapter: the shared contract plus Stripe's own signals, against recorded-shape fixtures."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from providers.base import ProviderContext, SourceKind
from providers.errors import ProviderAuthError, ProviderBadResponse, ProviderRateLimited, ProviderUnavailable
from providers.stripe import StripeProvider
from tests.providers.contract import BASE, CONTRACT_TOKEN, TENANT_ZONE, ProviderContract

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"
CHARGES_URL = f"{BASE}/v1/charges"
DISPUTES_URL = f"{BASE}/v1/disputes"
# Stripe's amount unit per currency, from its currency table (independent of the adapter's copy).
STRIPE_EXPONENT = {"JPY": 0, "KWD": 3}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def charge(charge_id: str, currency: str, amount: int, **fields: Any) -> dict[str, Any]:
    body = load("charge.json")
    body.update({"id": charge_id, "currency": currency.lower(), "amount": amount, "amount_captured": amount, **fields})
    return body


def dispute(dispute_id: str, charge_id: str, amount: int, status: str, currency: str = "usd") -> dict[str, Any]:
    body = load("dispute.json")
    body.update({"id": dispute_id, "charge": charge_id, "amount": amount, "status": status, "currency": currency})
    return body


def listed(url: str, *objects: dict[str, Any], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "url": urlsplit(url).path, "has_more": has_more, "data": list(objects)}


def no_disputes() -> None:
    responses.get(DISPUTES_URL, json=load("disputes_empty.json"))


def excluded_charges() -> list[dict[str, Any]]:
    """Charges Stripe lists in the window that are not revenue."""
    return [
        charge("ch_x_failed", "usd", 900, amount_captured=0, status="failed", captured=False, paid=False),
        charge("ch_x_pending", "usd", 800, amount_captured=0, status="pending", captured=False),
        charge("ch_x_uncaptured", "usd", 700, amount_captured=0, captured=False),
        charge("ch_x_refunded", "usd", 600, amount_refunded=600, refunded=True),
    ]


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def context(**overrides: Any) -> ProviderContext:
    values: dict[str, Any] = {
        "tenant_id": uuid.UUID("00000000-0000-4000-8000-00000000000a"),
        "connection_id": uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
        "platform_account_id": "acct_1Nv0FGQ9RKHgCVdK",
        "connection_metadata": {},
        "access_token": CONTRACT_TOKEN,
        "window_start": datetime(2024, 5, 2, tzinfo=TENANT_ZONE),  # 2024-05-01T22:00:00Z
        "window_end": datetime(2024, 5, 2, 11, 30, 15, 500000, tzinfo=TENANT_ZONE),  # 09:30:15.5Z
        "correlation_id": "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b",
    }
    values.update(overrides)
    return ProviderContext(**values)


def provider() -> StripeProvider:
    return StripeProvider(base_url=BASE)


class TestStripeContract(ProviderContract):
    provider_key = "stripe"
    account_id = "acct_1Nv0FGQ9RKHgCVdK"
    kind = SourceKind.SALES

    def make_provider(self, base_url: str) -> StripeProvider:
        return StripeProvider(base_url=base_url)

    def request_url(self) -> str:
        return CHARGES_URL

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        charges = [
            charge(f"ch_sale_{n:04d}", currency, int(Decimal(value).scaleb(STRIPE_EXPONENT.get(currency, 2))))
            for n, (currency, value) in enumerate(sales)
        ]
        pages = [charges[i : i + page_size] for i in range(0, len(charges), page_size)] or [[]]
        pages[0] = pages[0] + excluded_charges()
        index_after = {page[-1]["id"]: n + 1 for n, page in enumerate(pages[:-1])}

        def reply(request: Any) -> tuple[int, dict[str, str], str]:
            cursor = query(request).get("starting_after", [None])[0]
            n = 0 if cursor is None else index_after[cursor]
            body = {"object": "list", "url": "/v1/charges", "has_more": n < len(pages) - 1, "data": pages[n]}
            return 200, {}, json.dumps(body)

        rsps.add_callback("GET", CHARGES_URL, callback=reply, content_type="application/json")
        rsps.get(DISPUTES_URL, json=load("disputes_empty.json"))

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        if kind == "auth":
            body = load("error_authentication.json")
            body["error"]["message"] = f"Invalid API Key provided: {self.access_token}"  # worst case: echoed whole
            rsps.get(CHARGES_URL, status=401, json=body)
        elif kind == "rate_limited":
            headers = {"Retry-After": retry_after} if retry_after else {"Stripe-Should-Retry": "true"}
            rsps.get(CHARGES_URL, status=429, json=load("error_rate_limit.json"), headers=headers)
        elif kind == "upstream":
            rsps.get(CHARGES_URL, status=500, json=load("error_api.json"), headers={"Stripe-Should-Retry": "true"})
        elif kind == "bad_response":
            broken = load("charge.json")
            del broken["amount_captured"]
            rsps.get(CHARGES_URL, json={"object": "list", "url": "/v1/charges", "has_more": False, "data": [broken]})
        else:
            raise AssertionError(kind)


# --- the request --------------------------------------------------------------------------


@responses.activate
def test_request_is_the_documented_charges_list_call() -> None:
    no_disputes()
    responses.get(CHARGES_URL, json=load("charges_page1.json"))
    responses.get(CHARGES_URL, json=load("charges_page2.json"))
    provider().fetch_revenue(context())

    first, second = responses.calls[0].request, responses.calls[1].request
    assert first.method == "GET"
    assert urlsplit(first.url).path == "/v1/charges"
    assert query(first) == {"created[gte]": ["1714600800"], "created[lt]": ["1714642216"], "limit": ["100"]}
    assert first.headers["Authorization"] == f"Bearer {CONTRACT_TOKEN}"
    assert first.headers["Stripe-Version"] == "2026-09-30.endive"
    assert first.headers["X-Correlation-ID"] == "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b"
    assert "Stripe-Account" not in first.headers
    assert query(second) == {
        "created[gte]": ["1714600800"],
        "created[lt]": ["1714642216"],
        "limit": ["100"],
        "starting_after": ["ch_3PqA04LkdIwHu7ix1ddddddd"],
    }
    disputes = responses.calls[2].request
    assert urlsplit(disputes.url).path == "/v1/disputes"
    assert query(disputes) == {"created[gte]": ["1714600800"], "limit": ["100"]}
    assert disputes.headers["Stripe-Version"] == "2026-09-30.endive"
    assert len(responses.calls) == 3


@responses.activate
def test_connect_account_is_read_with_the_stripe_account_header() -> None:
    no_disputes()
    responses.get(CHARGES_URL, json=load("charges_empty.json"))
    provider().fetch_revenue(context(connection_metadata={"connect": True}))
    assert responses.calls[0].request.headers["Stripe-Account"] == "acct_1Nv0FGQ9RKHgCVdK"


@responses.activate
@pytest.mark.parametrize("metadata", [{}, {"connect": False}, {"connect": "true"}])
def test_stripe_account_header_is_sent_only_for_connect(metadata: dict[str, Any]) -> None:
    no_disputes()
    responses.get(CHARGES_URL, json=load("charges_empty.json"))
    provider().fetch_revenue(context(connection_metadata=metadata))
    assert "Stripe-Account" not in responses.calls[0].request.headers


# --- what counts --------------------------------------------------------------------------


@responses.activate
def test_counts_captured_succeeded_charges_net_of_refunds_in_iso_minor_units() -> None:
    no_disputes()
    responses.get(CHARGES_URL, json=load("charges_page1.json"))
    responses.get(CHARGES_URL, json=load("charges_page2.json"))
    result = provider().fetch_revenue(context())
    # USD 20.00 + (50.00 - 15.00 refunded); failed, pending, uncaptured and fully refunded left out.
    # JPY is zero-decimal; Stripe's ISK 400000 is 4,000 kronur (ISO: no decimals); KWD 12.340.
    assert result.amounts == {"USD": 5500, "JPY": 1200, "ISK": 4000, "KWD": 12340}
    assert result.count == 5


@responses.activate
def test_empty_window_is_zero() -> None:
    responses.get(CHARGES_URL, json=load("charges_empty.json"))
    no_disputes()
    result = provider().fetch_revenue(context())
    assert (result.amounts, result.count) == ({}, 0)


def charges_then(*charges: dict[str, Any]) -> None:
    responses.get(CHARGES_URL, json=listed(CHARGES_URL, *charges))


@responses.activate
def test_basis_says_what_the_figure_is_and_whose_day() -> None:
    charges_then(charge("ch_1", "usd", 1000))
    no_disputes()
    basis = provider().fetch_revenue(context()).basis
    assert basis is not None
    assert basis.measure == "captured_minus_refunds_and_lost_disputes"
    assert (basis.time_zone, basis.date.isoformat()) == ("Europe/Berlin", "2024-05-02")


@responses.activate
def test_partial_refund_is_netted_and_the_charge_still_counts() -> None:
    charges_then(charge("ch_1", "usd", 5000, amount_refunded=1500))
    no_disputes()
    result = provider().fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 3500}, 1)


@responses.activate
def test_a_refund_made_today_of_a_charge_made_today_is_netted() -> None:
    # The charge (created 09:00 Berlin) was refunded in full at 11:00: amount_refunded says so.
    charges_then(
        charge("ch_refunded_later", "usd", 4200, amount_refunded=4200, refunded=True, created=1714633200),
        charge("ch_kept", "usd", 1000),
    )
    no_disputes()
    result = provider().fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 1000}, 1)


@responses.activate
def test_partial_capture_counts_what_was_captured() -> None:
    charges_then(charge("ch_partial", "usd", 8000, amount_captured=5000))
    no_disputes()
    assert provider().fetch_revenue(context()).amounts == {"USD": 5000}


@responses.activate
@pytest.mark.parametrize(
    "fields",
    [
        {"captured": False, "amount_captured": 0},  # authorised, not captured
        {"status": "pending"},  # captured but not succeeded (an asynchronous bank debit)
        {"status": "failed", "captured": False, "amount_captured": 0, "paid": False},
    ],
)
def test_uncaptured_pending_and_failed_charges_count_zero(fields: dict[str, Any]) -> None:
    charges_then(charge("ch_x", "usd", 700, **fields))
    no_disputes()
    result = provider().fetch_revenue(context())
    assert (result.amounts, result.count) == ({}, 0)


@responses.activate
def test_lost_dispute_is_subtracted_other_disputes_are_not() -> None:
    charges_then(
        charge("ch_lost", "usd", 3000),
        charge("ch_lost_part", "usd", 3000),
        charge("ch_won", "usd", 2000),
        charge("ch_open", "usd", 1000),
        charge("ch_inquiry", "usd", 500),
    )
    responses.get(
        DISPUTES_URL,
        json=listed(
            DISPUTES_URL,
            dispute("dp_1", "ch_lost", 3000, "lost"),
            dispute("dp_2", "ch_lost_part", 1200, "lost"),
            dispute("dp_3", "ch_won", 2000, "won"),
            dispute("dp_4", "ch_open", 1000, "needs_response"),
            dispute("dp_5", "ch_inquiry", 500, "warning_closed"),
            dispute("dp_6", "ch_from_last_week", 9900, "lost"),  # an older charge's dispute
        ),
    )
    result = provider().fetch_revenue(context())
    # 0 + (3000 - 1200) + 2000 + 1000 + 500
    assert (result.amounts, result.count) == ({"USD": 5300}, 4)


@responses.activate
def test_refund_and_lost_dispute_together_never_go_below_zero() -> None:
    charges_then(charge("ch_both", "usd", 3000, amount_refunded=2000), charge("ch_ok", "usd", 100))
    responses.get(DISPUTES_URL, json=listed(DISPUTES_URL, dispute("dp_1", "ch_both", 3000, "lost")))
    result = provider().fetch_revenue(context())
    assert (result.amounts, result.count) == ({"USD": 100}, 1)


@responses.activate
def test_lost_dispute_in_a_zero_decimal_currency() -> None:
    charges_then(charge("ch_jpy", "jpy", 5000))
    responses.get(DISPUTES_URL, json=listed(DISPUTES_URL, dispute("dp_1", "ch_jpy", 2000, "lost", currency="jpy")))
    assert provider().fetch_revenue(context()).amounts == {"JPY": 3000}


@responses.activate
def test_disputes_are_followed_across_pages() -> None:
    charges_then(charge("ch_a", "usd", 1000), charge("ch_b", "usd", 1000))
    responses.get(DISPUTES_URL, json=listed(DISPUTES_URL, dispute("dp_page1", "ch_a", 1000, "lost"), has_more=True))
    responses.get(DISPUTES_URL, json=listed(DISPUTES_URL, dispute("dp_page2", "ch_b", 400, "lost")))
    result = provider().fetch_revenue(context())
    assert result.amounts == {"USD": 600}
    second = responses.calls[2].request
    assert query(second) == {"created[gte]": ["1714600800"], "limit": ["100"], "starting_after": ["dp_page1"]}


@responses.activate
def test_charge_with_an_unknown_status_is_a_bad_response() -> None:
    charges_then(charge("ch_new", "usd", 1000, status="requires_review"))
    with pytest.raises(ProviderBadResponse, match="ch_new: unknown status 'requires_review'"):
        provider().fetch_revenue(context())


@responses.activate
def test_charge_in_an_unknown_currency_is_a_bad_response() -> None:
    charges_then(charge("ch_x", "xyz", 1000))
    with pytest.raises(ProviderBadResponse, match="ch_x"):
        provider().fetch_revenue(context())


@responses.activate
def test_failed_charge_missing_a_money_field_is_still_a_bad_response() -> None:
    broken = charge("ch_failed", "usd", 900, status="failed", captured=False, amount_captured=0)
    del broken["amount_refunded"]
    charges_then(broken)
    with pytest.raises(ProviderBadResponse, match="amount_refunded"):
        provider().fetch_revenue(context())


@responses.activate
@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"status": "charge_refunded"}, "unknown status 'charge_refunded'"),  # removed from the API in 2022
        ({"amount": None}, "amount"),
        ({"currency": "xyz"}, "dp_1"),
        ({"currency": "eur"}, "dispute dp_1 is in EUR, its charge in USD"),
        ({"charge": {"id": "ch_a"}}, "charge is not a charge id"),
    ],
)
def test_unexpected_dispute_is_a_bad_response(changes: dict[str, Any], named: str) -> None:
    charges_then(charge("ch_a", "usd", 1000))
    body = dispute("dp_1", "ch_a", 1000, "lost")
    body.update(changes)
    responses.get(DISPUTES_URL, json=listed(DISPUTES_URL, body))
    with pytest.raises(ProviderBadResponse, match=named):
        provider().fetch_revenue(context())


@responses.activate
def test_disputes_call_refused_is_classified_like_the_charges_call() -> None:
    charges_then(charge("ch_a", "usd", 1000))
    responses.get(DISPUTES_URL, status=403, json=load("error_permission.json"))
    with pytest.raises(ProviderAuthError):
        provider().fetch_revenue(context())


# --- throttling and errors ----------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("headers", "wait"), [({"Stripe-Should-Retry": "true"}, 1), ({"Stripe-Should-Retry": "false"}, 30), ({}, 30)]
)
def test_429_without_retry_after_honours_stripe_should_retry(headers: dict[str, str], wait: int) -> None:
    responses.get(CHARGES_URL, status=429, json=load("error_rate_limit.json"), headers=headers)
    with pytest.raises(ProviderRateLimited) as info:
        provider().fetch_revenue(context())
    assert info.value.retry_after == wait
    assert "rate_limit" in str(info.value)
    assert len(responses.calls) == 1  # a throttle is reported, not re-sent inside the session


@responses.activate
def test_retry_after_header_wins_over_stripe_should_retry() -> None:
    responses.get(
        CHARGES_URL,
        status=429,
        json=load("error_rate_limit.json"),
        headers={"Retry-After": "12", "Stripe-Should-Retry": "true"},
    )
    with pytest.raises(ProviderRateLimited) as info:
        provider().fetch_revenue(context())
    assert info.value.retry_after == 12
    assert len(responses.calls) == 1


@responses.activate
def test_restricted_key_without_permission_is_auth_and_does_not_quote_the_key() -> None:
    responses.get(CHARGES_URL, status=403, json=load("error_permission.json"))
    with pytest.raises(ProviderAuthError) as info:
        provider().fetch_revenue(context())
    assert info.value.status == 403
    assert "rk_live" not in str(info.value)


@responses.activate
def test_invalid_request_is_upstream_with_status_and_stripe_message() -> None:
    responses.get(CHARGES_URL, status=400, json=load("error_invalid_request.json"))
    with pytest.raises(ProviderUnavailable) as info:
        provider().fetch_revenue(context())
    assert info.value.status == 400
    assert "HTTP 400" in str(info.value)
    assert "Invalid integer: yesterday" in str(info.value)


@responses.activate
def test_server_error_is_retried_then_upstream() -> None:
    responses.get(CHARGES_URL, status=500, json=load("error_api.json"))
    with pytest.raises(ProviderUnavailable):
        provider().fetch_revenue(context())
    assert len(responses.calls) == 3  # PROVIDER_HTTP retries=2


@responses.activate
def test_bad_gateway_html_page_is_still_upstream() -> None:
    responses.get(CHARGES_URL, status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(ProviderUnavailable):
        provider().fetch_revenue(context())


@responses.activate
def test_missing_charge_field_is_named() -> None:
    broken = load("charge.json")
    del broken["amount_refunded"]
    responses.get(CHARGES_URL, json={"object": "list", "url": "/v1/charges", "has_more": False, "data": [broken]})
    with pytest.raises(ProviderBadResponse, match="amount_refunded"):
        provider().fetch_revenue(context())


@responses.activate
def test_non_integer_amount_is_a_bad_response() -> None:
    responses.get(
        CHARGES_URL,
        json={"object": "list", "url": "/v1/charges", "has_more": False, "data": [charge("ch_1", "usd", "10.99")]},
    )
    with pytest.raises(ProviderBadResponse, match="amount_captured"):
        provider().fetch_revenue(context())


@responses.activate
def test_has_more_on_an_empty_page_is_a_bad_response() -> None:
    responses.get(CHARGES_URL, json={"object": "list", "url": "/v1/charges", "has_more": True, "data": []})
    with pytest.raises(ProviderBadResponse, match="has_more"):
        provider().fetch_revenue(context())


@responses.activate
def test_a_cursor_that_never_ends_hits_the_page_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("providers.stripe.MAX_PAGES", 3)
    looping = {"object": "list", "url": "/v1/charges", "has_more": True, "data": [charge("ch_same", "usd", 100)]}
    responses.get(CHARGES_URL, json=looping)
    with pytest.raises(ProviderBadResponse, match="more than 3 pages"):
        provider().fetch_revenue(context())
    assert len(responses.calls) == 3


@responses.activate
def test_no_token_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(
        CHARGES_URL, status=400, json={"error": {"type": "invalid_request_error", "message": f"bad {CONTRACT_TOKEN}"}}
    )
    with pytest.raises(ProviderUnavailable) as info:
        provider().fetch_revenue(context())
    assert CONTRACT_TOKEN not in str(info.value)
    assert CONTRACT_TOKEN not in caplog.text
    assert "created" not in caplog.text  # no query string in the log line
