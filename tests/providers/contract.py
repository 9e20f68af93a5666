"""The contract every revenue adapter passes.

A provider's test module subclasses `ProviderContract`, names its adapter and fills the
hooks that make its platform produce each signal with `responses`. The tests here then
check, in the platform's own terms: pagination to the end of the window, each error
class from the platform's real signals, Retry-After in seconds and as an HTTP-date, a
timeout, a malformed body, zero revenue when nothing matches, multi-currency results kept
apart, JPY and KWD converted exactly, and no token text in any exception or log line.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import requests
import responses

from providers.base import ProviderContext, RevenueProvider, RevenueResult, SourceKind
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderNetworkError,
    ProviderRateLimited,
    ProviderUnavailable,
)

BASE = "https://platform.test"
TENANT_ZONE = ZoneInfo("Europe/Berlin")
# Distinctive so a leak is easy to find; tests assert it never appears in errors or logs.
CONTRACT_TOKEN = "tok_CONTRACT_SECRET_f00dfacecafe"


def window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start of "today" in the tenant's zone, up to now."""
    end = (now or datetime.now(UTC)).astimezone(TENANT_ZONE)
    return end.replace(hour=0, minute=0, second=0, microsecond=0), end


class ProviderContract:
    """Subclass with `provider_key`, `account_id`, `metadata` and the hooks below."""

    provider_key: ClassVar[str]
    account_id: ClassVar[str]
    metadata: ClassVar[dict[str, Any]] = {}
    access_token: ClassVar[str] = CONTRACT_TOKEN
    kind: ClassVar[SourceKind]
    # Ad platforms report one currency per account: their multi-currency case is N/A.
    multi_currency: ClassVar[bool] = True

    # --- hooks ------------------------------------------------------------------------
    def make_provider(self, base_url: str) -> RevenueProvider:
        raise NotImplementedError

    def mock_sales(self, rsps: responses.RequestsMock, sales: list[tuple[str, str]], *, page_size: int) -> None:
        """Register responses under BASE so that a fetch sees exactly `sales` (currency,
        decimal string in major units) inside the window, split into pages of `page_size`
        (at least one page, even when `sales` is empty), plus whatever the platform would
        also return that must NOT be counted (refunds, test orders, other action types...)."""
        raise NotImplementedError

    def mock_error(self, rsps: responses.RequestsMock, kind: str, *, retry_after: str | None = None) -> None:
        """Register the platform's real signal for `kind`: "auth", "rate_limited" (with the
        `Retry-After` header value when given, else the platform's own hint), "upstream"
        (a 5xx, registered enough times to outlast the retries) or "bad_response"
        (a 200 whose body is not the platform's schema)."""
        raise NotImplementedError

    def request_url(self) -> str:
        """The URL (or a prefix of it) the first data request goes to, for registering a
        transport failure."""
        raise NotImplementedError

    def request_method(self) -> str:
        return "GET"

    # --- helpers ----------------------------------------------------------------------
    def context(self, **overrides: Any) -> ProviderContext:
        start, end = window()
        values: dict[str, Any] = {
            "tenant_id": uuid.UUID("00000000-0000-4000-8000-00000000000a"),
            "connection_id": uuid.UUID("00000000-0000-4000-8000-0000000000c1"),
            "platform_account_id": self.account_id,
            "connection_metadata": self.metadata,
            "access_token": self.access_token,
            "window_start": start,
            "window_end": end,
            "correlation_id": "3f2b8a9e-3c1d-4f5e-9a7b-1c2d3e4f5a6b",
        }
        values.update(overrides)
        return ProviderContext(**values)

    def fetch(self, **overrides: Any) -> RevenueResult:
        return self.make_provider(BASE).fetch_revenue(self.context(**overrides))

    def assert_secret_free(self, exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
        for text in (str(exc), repr(exc), *(r.getMessage() for r in caplog.records), caplog.text):
            assert self.access_token not in text
            assert self.access_token[:12] not in text

    # --- the contract -----------------------------------------------------------------
    @responses.activate
    def test_sums_every_page_in_minor_units(self) -> None:
        currency = "USD"
        sales = [(currency, f"{n}.25") for n in range(1, 8)]
        self.mock_sales(responses.mock, sales, page_size=3)
        result = self.fetch()
        assert result.amounts == {currency: sum(n * 100 + 25 for n in range(1, 8))}
        assert result.count == 7
        assert result.source_key == self.provider_key
        assert result.kind == self.kind
        assert result.as_of.tzinfo is not None

    @responses.activate
    def test_every_result_says_what_it_means(self) -> None:
        """The basis: a measure, an IANA zone and the day in it; sales sources report the
        tenant's day, ad platforms their account's."""
        self.mock_sales(responses.mock, [("USD", "1.00")], page_size=3)
        context = self.context()
        basis = self.make_provider(BASE).fetch_revenue(context).basis
        assert basis is not None and re.fullmatch(r"[a-z_]+", basis.measure)
        ZoneInfo(basis.time_zone)  # a real IANA zone
        if self.kind == SourceKind.SALES:
            assert (basis.time_zone, basis.date) == (str(TENANT_ZONE), context.window_start.date())
            assert basis.attribution is None
        else:
            assert basis.attribution
        if basis.complete_until is not None:
            assert basis.complete_until.tzinfo is not None

    @responses.activate
    def test_zero_revenue_when_nothing_matches(self) -> None:
        self.mock_sales(responses.mock, [], page_size=3)
        result = self.fetch()
        assert sum(result.amounts.values()) == 0
        assert result.count == 0

    @responses.activate
    def test_multiple_currencies_are_kept_apart(self) -> None:
        if not self.multi_currency:
            pytest.skip("the platform reports one currency per account")
        self.mock_sales(responses.mock, [("USD", "10.00"), ("EUR", "5.5"), ("USD", "1.01")], page_size=2)
        result = self.fetch()
        assert result.amounts == {"USD": 1101, "EUR": 550}

    @responses.activate
    def test_zero_and_three_decimal_currencies_are_exact(self) -> None:
        if self.multi_currency:
            self.mock_sales(responses.mock, [("JPY", "1200"), ("KWD", "12.345"), ("JPY", "34")], page_size=2)
            assert self.fetch().amounts == {"JPY": 1234, "KWD": 12345}
        else:
            self.mock_sales(responses.mock, [("JPY", "1200"), ("JPY", "34")], page_size=1)
            assert self.fetch().amounts == {"JPY": 1234}
            responses.mock.reset()
            self.mock_sales(responses.mock, [("KWD", "12.345")], page_size=1)
            assert self.fetch().amounts == {"KWD": 12345}

    @responses.activate
    def test_auth_signal_is_an_auth_error(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        self.mock_error(responses.mock, "auth")
        with pytest.raises(ProviderAuthError) as info:
            self.fetch()
        assert info.value.kind == "auth"
        self.assert_secret_free(info.value, caplog)

    @responses.activate
    def test_rate_limit_carries_retry_after_seconds(self) -> None:
        self.mock_error(responses.mock, "rate_limited", retry_after="7")
        with pytest.raises(ProviderRateLimited) as info:
            self.fetch()
        assert info.value.kind == "rate_limited"
        assert info.value.retry_after == 7

    @responses.activate
    def test_rate_limit_carries_retry_after_http_date(self) -> None:
        when = datetime.now(UTC) + timedelta(seconds=120)
        self.mock_error(responses.mock, "rate_limited", retry_after=format_datetime(when, usegmt=True))
        with pytest.raises(ProviderRateLimited) as info:
            self.fetch()
        assert info.value.retry_after is not None
        assert 100 <= info.value.retry_after <= 121

    @responses.activate
    def test_rate_limit_without_header_still_has_a_backoff(self) -> None:
        self.mock_error(responses.mock, "rate_limited")
        with pytest.raises(ProviderRateLimited) as info:
            self.fetch()
        assert info.value.retry_after is not None and info.value.retry_after >= 1

    @responses.activate
    def test_server_error_is_upstream(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        self.mock_error(responses.mock, "upstream")
        with pytest.raises(ProviderUnavailable) as info:
            self.fetch()
        assert info.value.kind == "upstream"
        self.assert_secret_free(info.value, caplog)

    @responses.activate
    def test_timeout_is_a_network_error(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        responses.add(self.request_method(), self.request_url(), body=requests.exceptions.ReadTimeout("read timed out"))
        with pytest.raises(ProviderNetworkError) as info:
            self.fetch()
        assert info.value.kind == "network"
        self.assert_secret_free(info.value, caplog)

    @responses.activate
    def test_connection_reset_is_a_network_error(self) -> None:
        responses.add(self.request_method(), self.request_url(), body=requests.exceptions.ConnectionError("reset"))
        with pytest.raises(ProviderNetworkError):
            self.fetch()

    @responses.activate
    def test_malformed_json_is_a_bad_response(self) -> None:
        responses.add(self.request_method(), self.request_url(), body=b'{"data": [', content_type="application/json")
        with pytest.raises(ProviderBadResponse):
            self.fetch()

    @responses.activate
    def test_html_body_is_a_bad_response(self) -> None:
        responses.add(
            self.request_method(), self.request_url(), body=b"<html>maintenance</html>", content_type="text/html"
        )
        with pytest.raises(ProviderError) as info:
            self.fetch()
        assert info.value.kind == "bad_response"

    @responses.activate
    def test_schema_violation_is_a_bad_response(self) -> None:
        self.mock_error(responses.mock, "bad_response")
        with pytest.raises(ProviderBadResponse):
            self.fetch()

    def test_token_is_not_in_the_adapters_repr(self) -> None:
        provider = self.make_provider(BASE)
        assert self.access_token not in repr(provider)
        assert self.access_token not in repr(self.context())
