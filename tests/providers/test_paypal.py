"""PayPal adapter: the shared contract, Transaction Search specifics and the client-credentials refresh hook."""

from __future__ import annotations

import base64
import copy
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from providers.base import ProviderContext, SourceKind, TokenRefreshContext
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderRateLimited,
    ProviderTokenRevoked,
    ProviderUnavailable,
)
from providers.paypal import PayPalProvider
from tests.providers.contract import BASE, CONTRACT_TOKEN, TENANT_ZONE, ProviderContract

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "paypal"
SEARCH_URL = f"{BASE}/v1/reporting/transactions"
TOKEN_URL = f"{BASE}/v1/oauth2/token"
CLIENT_ID = "AeA1QIZXiflr1_-r0U2UbWTziOWX1GRQer5GSRkTkO4Vf0zMr3HaZW5zE-O7yTLvCOq"
CLIENT_SECRET = "ECYYrrSHdKfk_Q0EdvzdGkzj58a66kKaUQ5dZAEv4HvvtDId2_DpSuYDB088BZxGuMji7G4OFUnPog6p"
CREDENTIALS = f"{CLIENT_ID}:{CLIENT_SECRET}"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def transaction(
    transaction_id: str, code: str, currency: str, value: str, status: str = "S", *, refers_to: str | None = None
) -> dict[str, Any]:
    record = load("transaction.json")
    info = record["transaction_info"]
    info.update(transaction_id=transaction_id, transaction_event_code=code, transaction_status=status)
    info["transaction_amount"] = {"currency_code": currency, "value": value}
    info.pop("fee_amount", None)
    if refers_to:
        info.update(paypal_reference_id=refers_to, paypal_reference_id_type="TXN")
    return record


def refund(transaction_id: str, sale_id: str, currency: str, value: str, status: str = "S", code: str = "T1107"):
    """A refund (T1107) or another T11nn/T12nn record naming the sale it concerns."""
    return transaction(transaction_id, code, currency, value, status, refers_to=sale_id)


def search_page(details: list[dict[str, Any]], page: int, total_pages: int) -> dict[str, Any]:
    body = load("transactions_empty.json")
    body.update(transaction_details=details, page=page, total_pages=total_pages, total_items=len(details))
    return body


def excluded_transactions() -> list[dict[str, Any]]:
    """Records Transaction Search lists in the window that are not sales."""
    return [
        refund("1FN09943UY663772K", "0SALE0OUTSIDE0000", "USD", "-5.00"),  # refund of an earlier day's sale
        transaction("4HY58290GN1126442", "T0200", "EUR", "9.10"),  # currency conversion credit
        transaction("9XJ71882CE407044D", "T0400", "USD", "-100.00"),  # withdrawal
        transaction("3KE10755VA6289014", "T0001", "USD", "-20.00"),  # MassPay sent
        transaction("6GA82613MB8873505", "T0006", "USD", "-8.00"),  # a payment we sent
        transaction("7RS33409DL9012733", "T0006", "USD", "30.00", status="V"),  # reversed
        transaction("7RS33409DL9012734", "T0006", "USD", "30.00", status="P"),  # pending
        transaction("7RS33409DL9012735", "T0006", "USD", "30.00", status="D"),  # denied
        refund("5HN27734TS4483224", "7RS33409DL9012733", "USD", "-30.00", code="T1106"),  # its reversal
        refund("5HN27734TS4483225", "0SALE0OUTSIDE0000", "USD", "-9.00", code="T1110"),  # a dispute hold
        transaction("2QP55671XX3340018", "T0021", "BTC", "0.0003"),  # crypto, not ISO money
    ]


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def context(**overrides: Any) -> ProviderContext:
    values: dict[str, Any] = {
        "tenant_id": uuid.UUID("00000000-0000-4000-8000-00000000000a"),
        "connection_id": uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
        "platform_account_id": "XZXSPECPDZHZU",
        "connection_metadata": {},
        "access_token": CONTRACT_TOKEN,
        "window_start": datetime(2024, 5, 2, tzinfo=TENANT_ZONE),
        "window_end": datetime(2024, 5, 2, 11, 30, 15, 500000, tzinfo=TENANT_ZONE),
        "correlation_id": "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b",
    }
    values.update(overrides)
    return ProviderContext(**values)


def refresh_context(credentials: str = CREDENTIALS) -> TokenRefreshContext:
    return TokenRefreshContext(
        tenant_id=uuid.UUID("00000000-0000-4000-8000-00000000000a"),
        connection_id=uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
        platform_account_id="XZXSPECPDZHZU",
        connection_metadata={},
        refresh_token=credentials,
        correlation_id="7d0c2b1a-0000-4000-8000-000000000001",
    )


def provider() -> PayPalProvider:
    return PayPalProvider(base_url=BASE)


class TestPayPalContract(ProviderContract):
    provider_key = "paypal"
    account_id = "XZXSPECPDZHZU"
    kind = SourceKind.SALES

    def make_provider(self, base_url: str) -> PayPalProvider:
        return PayPalProvider(base_url=base_url)

    def request_url(self) -> str:
        return SEARCH_URL

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        details = [
            transaction(f"{n:04d}SALE0000000000", "T0006" if n % 2 else "T0007", currency, value)
            for n, (currency, value) in enumerate(sales)
        ]
        pages = [details[i : i + page_size] for i in range(0, len(details), page_size)] or [[]]
        pages[0] = pages[0] + excluded_transactions()
        total_pages = len(pages) if sales else 0  # PayPal reports an empty search as page 1 of 0

        def reply(request: Any) -> tuple[int, dict[str, str], str]:
            page = int(query(request)["page"][0])
            return 200, {}, json.dumps(search_page(pages[page - 1], page, total_pages))

        rsps.add_callback("GET", SEARCH_URL, callback=reply, content_type="application/json")

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        if kind == "auth":
            rsps.get(SEARCH_URL, status=401, json=load("error_invalid_token.json"))
        elif kind == "rate_limited":
            headers = {"Retry-After": retry_after} if retry_after else {}
            rsps.get(SEARCH_URL, status=429, json=load("error_rate_limit.json"), headers=headers)
        elif kind == "upstream":
            rsps.get(SEARCH_URL, status=500, json=load("error_internal.json"))
        elif kind == "bad_response":
            broken = transaction("5TY05013RG002845M", "T0006", "USD", "1.00")
            del broken["transaction_info"]["transaction_amount"]
            rsps.get(SEARCH_URL, json=search_page([broken], 1, 1))
        else:
            raise AssertionError(kind)


# --- the request --------------------------------------------------------------------------


@responses.activate
def test_request_is_the_documented_transaction_search() -> None:
    responses.get(SEARCH_URL, json=load("transactions_page1.json"))
    responses.get(SEARCH_URL, json=load("transactions_page2.json"))
    provider().fetch_revenue(context())

    first, second = (call.request for call in responses.calls)
    assert first.method == "GET"
    assert urlsplit(first.url).path == "/v1/reporting/transactions"
    assert query(first) == {
        "start_date": ["2024-05-01T22:00:00Z"],
        "end_date": ["2024-05-02T09:30:15Z"],
        "fields": ["transaction_info"],
        "page_size": ["500"],
        "page": ["1"],
    }
    assert first.headers["Authorization"] == f"Bearer {CONTRACT_TOKEN}"
    assert first.headers["X-Correlation-ID"] == "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b"
    assert query(second)["page"] == ["2"]


# --- what counts --------------------------------------------------------------------------


@responses.activate
def test_counts_completed_incoming_payments_once() -> None:
    responses.get(SEARCH_URL, json=load("transactions_page1.json"))
    responses.get(SEARCH_URL, json=load("transactions_page2.json"))
    result = provider().fetch_revenue(context())
    # T0006 USD 12.50 (listed twice, counted once) less its T1107 refund of 5.00, T0007 EUR
    # 1250.0, T0011 JPY 1200; conversions, withdrawals, MassPay, payments sent and pending
    # records are not sales.
    assert result.amounts == {"USD": 750, "EUR": 125000, "JPY": 1200}
    assert result.count == 3


@responses.activate
def test_empty_search_with_zero_pages_is_one_request() -> None:
    responses.get(SEARCH_URL, json=load("transactions_empty.json"))
    result = provider().fetch_revenue(context())
    assert (result.amounts, result.count) == ({}, 0)
    assert len(responses.calls) == 1


@responses.activate
def test_window_longer_than_31_days_is_split_and_the_boundary_counted_once() -> None:
    boundary = transaction("5TY05013RG002845M", "T0006", "USD", "12.50")
    responses.get(SEARCH_URL, json=search_page([transaction("1AB", "T0006", "USD", "1.00"), boundary], 1, 1))
    responses.get(
        SEARCH_URL, json=search_page([copy.deepcopy(boundary), transaction("2CD", "T0007", "USD", "2.00")], 1, 1)
    )
    result = provider().fetch_revenue(
        context(window_start=datetime(2024, 4, 1, tzinfo=TENANT_ZONE))  # 31 days + 11.5 hours
    )
    ranges = [(query(c.request)["start_date"][0], query(c.request)["end_date"][0]) for c in responses.calls]
    assert ranges == [
        ("2024-03-31T22:00:00Z", "2024-05-01T22:00:00Z"),
        ("2024-05-01T22:00:00Z", "2024-05-02T09:30:15Z"),
    ]
    assert result.amounts == {"USD": 1550}
    assert result.count == 3


# --- the rule: completed sales net of their refunds -------------------------------------------


def fetch(*pages: list[dict[str, Any]], **overrides: Any) -> Any:
    """The result for a search answered by these pages, in order."""
    for n, details in enumerate(pages, start=1):
        responses.get(SEARCH_URL, json=search_page(details, n, len(pages)))
    return provider().fetch_revenue(context(**overrides))


@responses.activate
def test_partial_refund_is_netted_against_its_sale() -> None:
    result = fetch(
        [
            transaction("5TY05013RG002845M", "T0006", "USD", "100.00"),
            refund("1FN09943UY663772K", "5TY05013RG002845M", "USD", "-30.00"),
            refund("1FN09943UY663772L", "5TY05013RG002845M", "USD", "-20.50"),  # a second, later part
            transaction("8BC77025UF1193521", "T0007", "USD", "10.00"),
        ]
    )
    assert result.amounts == {"USD": 4950 + 1000}
    assert result.count == 2


@responses.activate
def test_fully_refunded_sale_counts_zero_and_never_below() -> None:
    result = fetch(
        [
            transaction("5TY05013RG002845M", "T0006", "EUR", "40.00"),
            refund("1FN09943UY663772K", "5TY05013RG002845M", "EUR", "-40.00"),
            transaction("8BC77025UF1193521", "T0006", "EUR", "15.00"),
            refund("1FN09943UY663772L", "8BC77025UF1193521", "EUR", "-10.00"),
            refund("1FN09943UY663772M", "8BC77025UF1193521", "EUR", "-10.00"),  # more than the sale
        ]
    )
    assert (result.amounts, result.count) == ({}, 0)


@responses.activate
def test_refund_today_of_a_sale_created_today_is_netted_wherever_it_is_listed() -> None:
    # The refund comes on the first page, the sale it names on the second.
    result = fetch(
        [refund("1FN09943UY663772K", "5TY05013RG002845M", "JPY", "-200")],
        [transaction("5TY05013RG002845M", "T0006", "JPY", "1200")],
    )
    assert result.amounts == {"JPY": 1000}
    assert result.count == 1
    assert len(responses.calls) == 2


@responses.activate
def test_refund_of_a_sale_outside_the_window_is_ignored() -> None:
    result = fetch(
        [
            refund("1FN09943UY663772K", "3XB98814KD7732016", "USD", "-80.00"),  # yesterday's sale
            transaction("5TY05013RG002845M", "T0006", "USD", "25.00"),
        ]
    )
    assert result.amounts == {"USD": 2500}
    assert result.count == 1


@responses.activate
def test_pending_sale_counts_zero_and_so_does_a_pending_refund() -> None:
    result = fetch(
        [
            transaction("7RS33409DL9012733", "T0006", "USD", "30.00", status="P"),
            transaction("5TY05013RG002845M", "T0006", "USD", "25.00"),
            refund("1FN09943UY663772K", "5TY05013RG002845M", "USD", "-25.00", status="P"),
        ]
    )
    assert result.amounts == {"USD": 2500}
    assert result.count == 1


@responses.activate
def test_denied_sale_counts_zero() -> None:
    result = fetch([transaction("7RS33409DL9012733", "T0006", "USD", "30.00", status="D")])
    assert (result.amounts, result.count) == ({}, 0)


@responses.activate
def test_reversed_sale_counts_zero_and_its_reversal_does_not_go_below() -> None:
    result = fetch(
        [
            transaction("7RS33409DL9012733", "T0006", "USD", "30.00", status="V"),
            refund("5HN27734TS4483224", "7RS33409DL9012733", "USD", "-30.00", code="T1106"),
            transaction("5TY05013RG002845M", "T0006", "USD", "25.00"),
        ]
    )
    assert result.amounts == {"USD": 2500}
    assert result.count == 1


@responses.activate
def test_lost_chargeback_counts_like_a_refund_and_a_won_one_gives_it_back() -> None:
    result = fetch(
        [
            transaction("5TY05013RG002845M", "T0006", "USD", "100.00"),
            refund("9TA25768318048050", "5TY05013RG002845M", "USD", "-100.00", code="T1110"),  # hold: not a loss
            refund("9TA25768318048051", "5TY05013RG002845M", "USD", "100.00", code="T1111"),  # hold released
            refund("63J34064G5584560B", "5TY05013RG002845M", "USD", "-100.00", code="T1201"),  # chargeback lost
            transaction("8BC77025UF1193521", "T0006", "USD", "40.00"),
            refund("63J34064G5584560C", "8BC77025UF1193521", "USD", "-40.00", code="T1201"),
            refund("63J34064G5584560D", "8BC77025UF1193521", "USD", "40.00", code="T1202"),  # reversed in our favour
        ]
    )
    assert result.amounts == {"USD": 4000}
    assert result.count == 1


@responses.activate
def test_transaction_listed_on_both_sides_of_a_split_boundary_is_netted_once() -> None:
    sale = transaction("5TY05013RG002845M", "T0006", "USD", "50.00")
    back = refund("1FN09943UY663772K", "5TY05013RG002845M", "USD", "-20.00")
    responses.get(SEARCH_URL, json=search_page([sale, back], 1, 1))
    responses.get(SEARCH_URL, json=search_page([copy.deepcopy(sale), copy.deepcopy(back)], 1, 1))
    result = provider().fetch_revenue(context(window_start=datetime(2024, 4, 1, tzinfo=TENANT_ZONE)))
    assert result.amounts == {"USD": 3000}


@pytest.mark.parametrize("status", ["X", "s", "", None, "COMPLETED"])
@responses.activate
def test_unknown_status_is_a_bad_response(status: str | None) -> None:
    with pytest.raises(ProviderBadResponse, match="5TY05013RG002845M: unknown transaction_status"):
        fetch([transaction("5TY05013RG002845M", "T0006", "USD", "12.00", status=status)])  # type: ignore[arg-type]


@responses.activate
def test_unknown_status_of_a_refund_is_a_bad_response() -> None:
    with pytest.raises(ProviderBadResponse, match="unknown transaction_status"):
        fetch([refund("1FN09943UY663772K", "5TY05013RG002845M", "USD", "-1.00", status="R")])


@responses.activate
def test_missing_status_is_a_bad_response() -> None:
    record = transaction("5TY05013RG002845M", "T0006", "USD", "12.00")
    del record["transaction_info"]["transaction_status"]
    with pytest.raises(ProviderBadResponse, match="'transaction_status' is missing"):
        fetch([record])


@responses.activate
def test_refund_missing_its_amount_is_a_bad_response() -> None:
    record = refund("1FN09943UY663772K", "5TY05013RG002845M", "USD", "-1.00")
    del record["transaction_info"]["transaction_amount"]
    with pytest.raises(ProviderBadResponse, match="1FN09943UY663772K: 'transaction_amount' is missing"):
        fetch([transaction("5TY05013RG002845M", "T0006", "USD", "12.00"), record])


@pytest.mark.parametrize("currency", ["XYZ", "BTC", ""])
@responses.activate
def test_unknown_currency_is_a_bad_response(currency: str) -> None:
    with pytest.raises(ProviderBadResponse, match="5TY05013RG002845M"):
        fetch([transaction("5TY05013RG002845M", "T0006", currency, "12.00")])


@responses.activate
def test_refund_without_a_reference_is_a_bad_response() -> None:
    with pytest.raises(ProviderBadResponse, match="T1107 has no paypal_reference_id"):
        fetch([transaction("1FN09943UY663772K", "T1107", "USD", "-5.00")])


@responses.activate
def test_refund_in_another_currency_than_its_sale_is_a_bad_response() -> None:
    with pytest.raises(ProviderBadResponse, match="refund in EUR of a sale in USD"):
        fetch(
            [
                transaction("5TY05013RG002845M", "T0006", "USD", "12.00"),
                refund("1FN09943UY663772K", "5TY05013RG002845M", "EUR", "-5.00"),
            ]
        )


# --- the basis: what the figure means, and how far PayPal's reporting is complete -------------


@responses.activate
def test_basis_is_the_tenants_day_complete_until_last_refreshed_datetime() -> None:
    responses.get(SEARCH_URL, json=load("transactions_page1.json"))
    responses.get(SEARCH_URL, json=load("transactions_page2.json"))
    result = provider().fetch_revenue(context())
    assert result.basis is not None
    assert result.basis.measure == "completed_sales_minus_refunds"
    assert (result.basis.time_zone, result.basis.date.isoformat()) == ("Europe/Berlin", "2024-05-02")
    # "last_refreshed_datetime": "2024-05-02T06:59:59+0000", PayPal's own offset form
    assert result.basis.complete_until == datetime(2024, 5, 2, 6, 59, 59, tzinfo=UTC)


@responses.activate
def test_complete_until_is_the_earliest_refresh_of_the_fetch() -> None:
    first, second = search_page([], 1, 2), search_page([], 2, 2)
    first["last_refreshed_datetime"] = "2024-05-02T08:00:00Z"
    second["last_refreshed_datetime"] = "2024-05-02T09:15:00+02:00"  # 07:15 UTC
    responses.get(SEARCH_URL, json=first)
    responses.get(SEARCH_URL, json=second)
    result = provider().fetch_revenue(context())
    assert result.basis is not None
    assert result.basis.complete_until == datetime(2024, 5, 2, 7, 15, tzinfo=UTC)


@responses.activate
def test_without_last_refreshed_datetime_the_basis_allows_paypals_three_hours() -> None:
    body = search_page([], 1, 0)
    del body["last_refreshed_datetime"]
    responses.get(SEARCH_URL, json=body)
    result = provider().fetch_revenue(context())
    assert result.basis is not None and result.basis.complete_until is not None
    assert result.as_of - result.basis.complete_until == timedelta(hours=3)


@responses.activate
def test_complete_until_is_never_later_than_the_fetch() -> None:
    body = search_page([], 1, 0)
    body["last_refreshed_datetime"] = "2999-01-01T00:00:00Z"
    responses.get(SEARCH_URL, json=body)
    result = provider().fetch_revenue(context())
    assert result.basis is not None and result.basis.complete_until == result.as_of


@pytest.mark.parametrize("value", ["yesterday", "2024-05-02T06:59:59", 1714633199])
@responses.activate
def test_malformed_last_refreshed_datetime_is_a_bad_response(value: Any) -> None:
    body = search_page([], 1, 0)
    body["last_refreshed_datetime"] = value
    responses.get(SEARCH_URL, json=body)
    with pytest.raises(ProviderBadResponse, match="last_refreshed_datetime"):
        provider().fetch_revenue(context())


# --- throttling and errors ----------------------------------------------------------------


@responses.activate
def test_rate_limit_reached_without_retry_after_uses_the_default_backoff() -> None:
    responses.get(SEARCH_URL, status=429, json=load("error_rate_limit.json"))
    with pytest.raises(ProviderRateLimited) as info:
        provider().fetch_revenue(context())
    assert info.value.retry_after == 30
    assert "RATE_LIMIT_REACHED" in str(info.value)
    assert len(responses.calls) == 1


@responses.activate
def test_rate_limit_reached_name_is_a_throttle_whatever_the_status() -> None:
    responses.get(SEARCH_URL, status=422, json=load("error_rate_limit.json"))
    with pytest.raises(ProviderRateLimited):
        provider().fetch_revenue(context())


@responses.activate
def test_not_authorized_is_auth() -> None:
    responses.get(SEARCH_URL, status=403, json=load("error_not_authorized.json"))
    with pytest.raises(ProviderAuthError) as info:
        provider().fetch_revenue(context())
    assert not isinstance(info.value, ProviderTokenRevoked)
    assert "NOT_AUTHORIZED" in str(info.value)


@responses.activate
def test_invalid_request_is_upstream_with_status() -> None:
    responses.get(SEARCH_URL, status=400, json=load("error_invalid_request.json"))
    with pytest.raises(ProviderUnavailable) as info:
        provider().fetch_revenue(context())
    assert info.value.status == 400
    assert "INVALID_REQUEST" in str(info.value)


@responses.activate
def test_missing_total_pages_is_a_bad_response() -> None:
    body = load("transactions_page1.json")
    del body["total_pages"]
    responses.get(SEARCH_URL, json=body)
    with pytest.raises(ProviderBadResponse, match="total_pages"):
        provider().fetch_revenue(context())


@responses.activate
def test_malformed_amount_is_a_bad_response_naming_the_transaction() -> None:
    responses.get(SEARCH_URL, json=search_page([transaction("5TY05013RG002845M", "T0006", "USD", "12.505")], 1, 1))
    with pytest.raises(ProviderBadResponse, match="5TY05013RG002845M"):
        provider().fetch_revenue(context())


@responses.activate
def test_page_cap_stops_a_runaway_total_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("providers.paypal.MAX_PAGES", 2)
    responses.get(SEARCH_URL, json=search_page([], 1, 10_000))
    with pytest.raises(ProviderBadResponse, match="more than 2 pages"):
        provider().fetch_revenue(context())


# --- the refresh hook ---------------------------------------------------------------------


def test_paypal_declares_token_refresh() -> None:
    assert PayPalProvider.supports_token_refresh is True


@responses.activate
def test_refresh_runs_the_client_credentials_grant() -> None:
    responses.post(TOKEN_URL, json=load("token.json"))
    before = datetime.now(UTC)
    token = provider().refresh_token(refresh_context())

    request = responses.calls[0].request
    assert request.method == "POST"
    assert urlsplit(request.url).path == "/v1/oauth2/token"
    basic = base64.b64encode(CREDENTIALS.encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body) == {"grant_type": ["client_credentials"]}
    assert request.headers["X-Correlation-ID"] == "7d0c2b1a-0000-4000-8000-000000000001"

    assert token.access_token == load("token.json")["access_token"]
    assert token.refresh_token is None  # the stored client credentials stay as they are
    assert token.token_type == "Bearer"
    assert token.scope is not None and "reporting/search/read" in token.scope
    assert token.expires_at is not None
    assert before + timedelta(seconds=32400) <= token.expires_at <= datetime.now(UTC) + timedelta(seconds=32400)
    assert token.access_token not in repr(token)


@responses.activate
def test_invalid_client_is_revoked_and_never_quotes_the_credentials(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = load("token_invalid_client.json")
    body["error_description"] = f"Client Authentication failed for {CREDENTIALS} ({CLIENT_SECRET})"
    responses.post(TOKEN_URL, status=401, json=body)
    with pytest.raises(ProviderTokenRevoked) as info:
        provider().refresh_token(refresh_context())
    assert info.value.kind == "auth"
    for text in (str(info.value), repr(info.value), caplog.text):
        assert CLIENT_SECRET not in text
        assert CREDENTIALS not in text


@pytest.mark.parametrize("credentials", ["no-colon-here", ":secret-only", "id-only:"])
def test_malformed_stored_credentials_are_revoked_without_a_request(credentials: str) -> None:
    with responses.RequestsMock() as rsps:  # any request would fail the test
        with pytest.raises(ProviderTokenRevoked) as info:
            provider().refresh_token(refresh_context(credentials))
        assert len(rsps.calls) == 0
    assert credentials.strip(":") not in str(info.value)


@responses.activate
def test_refresh_outage_is_transient_not_revoked() -> None:
    responses.post(TOKEN_URL, status=503, json=load("error_internal.json"))
    with pytest.raises(ProviderUnavailable) as info:
        provider().refresh_token(refresh_context())
    assert not isinstance(info.value, ProviderAuthError)
    assert len(responses.calls) == 3  # the grant is safe to repeat, so POST is retried


@responses.activate
def test_refresh_rate_limited() -> None:
    responses.post(TOKEN_URL, status=429, json=load("error_rate_limit.json"), headers={"Retry-After": "20"})
    with pytest.raises(ProviderRateLimited) as info:
        provider().refresh_token(refresh_context())
    assert info.value.retry_after == 20


@responses.activate
def test_refresh_without_access_token_is_a_bad_response() -> None:
    body = load("token.json")
    del body["access_token"]
    responses.post(TOKEN_URL, json=body)
    with pytest.raises(ProviderBadResponse, match="access_token"):
        provider().refresh_token(refresh_context())
