"""providers.http: Retry-After parsing, bounded retries, the body cap, the correlation id and log hygiene."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests
import responses
from requests.structures import CaseInsensitiveDict
from responses import registries

from providers.errors import ProviderBadResponse, ProviderNetworkError
from providers.http import HttpConfig, HttpResponse, ProviderHttp, retry_after_seconds

URL = "https://platform.test/v1/things"
NOW = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


def client(*, retries: int = 2, cap: int = 1024, retry_methods: tuple[str, ...] = ("GET",)) -> ProviderHttp:
    config = HttpConfig(retries=retries, backoff_factor=0.0, backoff_jitter=0.0, max_response_bytes=cap)
    return ProviderHttp(platform="test", config=config, retry_methods=retry_methods)


def get(http: ProviderHttp, url: str = URL, method: str = "GET") -> HttpResponse:
    return http.request(method, url, correlation_id="corr-123")


# --- retry_after_seconds ------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("7", 7), (" 12 ", 12), ("0", 1), ("3600", 3600)])
def test_retry_after_delta_seconds(value: str, seconds: int) -> None:
    assert retry_after_seconds(CaseInsensitiveDict({"Retry-After": value})) == seconds


def test_retry_after_http_date() -> None:
    headers = CaseInsensitiveDict({"Retry-After": format_datetime(NOW + timedelta(seconds=120), usegmt=True)})
    assert retry_after_seconds(headers, now=NOW) == 120


def test_retry_after_http_date_in_the_past_is_at_least_one_second() -> None:
    headers = CaseInsensitiveDict({"Retry-After": "Wed, 01 May 2024 00:00:00 GMT"})
    assert retry_after_seconds(headers, now=NOW) == 1


def test_retry_after_header_name_is_case_insensitive() -> None:
    assert retry_after_seconds(CaseInsensitiveDict({"retry-after": "5"})) == 5


@responses.activate
def test_retry_after_from_a_real_response_with_a_lower_case_header() -> None:
    responses.get(URL, status=429, headers={"retry-after": "9"})
    assert retry_after_seconds(get(client()).headers) == 9


@pytest.mark.parametrize("value", ["soon", "", "-5", "1.5", "Mon, 99 Foo 2024 25:00:00 GMT"])
def test_garbage_retry_after_is_none(value: str) -> None:
    assert retry_after_seconds(CaseInsensitiveDict({"Retry-After": value})) is None


def test_missing_retry_after_is_none() -> None:
    assert retry_after_seconds(CaseInsensitiveDict()) is None


# --- the body cap -------------------------------------------------------------------------


@responses.activate
def test_declared_content_length_over_the_cap_is_refused() -> None:
    responses.get(URL, body=b"x" * 50, headers={"Content-Length": "5000"}, auto_calculate_content_length=False)
    with pytest.raises(ProviderBadResponse, match="5000 bytes exceeds the 100-byte cap"):
        get(client(cap=100))


@responses.activate
def test_streamed_body_over_the_cap_is_refused() -> None:
    responses.get(URL, body=b"x" * 500)  # no Content-Length: only counting the stream can tell
    with pytest.raises(ProviderBadResponse, match="exceeds the 100-byte cap"):
        get(client(cap=100))


@responses.activate
def test_body_at_the_cap_is_read() -> None:
    responses.get(URL, body=b"x" * 100)
    assert get(client(cap=100)).body == b"x" * 100


@responses.activate
def test_truncated_body_is_a_bad_response() -> None:
    responses.get(URL, body=b'{"data": [1, 2', headers={"Content-Length": "90"})
    with pytest.raises(ProviderBadResponse, match="truncated"):
        get(client())


# --- retries ------------------------------------------------------------------------------


def test_server_errors_are_retried_the_configured_number_of_times_then_returned() -> None:
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        for _ in range(3):
            rsps.get(URL, status=503, json={"error": "unavailable"})
        response = get(client(retries=2))
        assert response.status == 503
        assert len(rsps.calls) == 3


def test_a_server_error_then_success_returns_the_success() -> None:
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        rsps.get(URL, status=502)
        rsps.get(URL, status=500)
        rsps.get(URL, json={"ok": True})
        assert get(client(retries=2)).json() == {"ok": True}
        assert len(rsps.calls) == 3


def test_zero_retries_means_one_call() -> None:
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        rsps.get(URL, status=500)
        assert get(client(retries=0)).status == 500
        assert len(rsps.calls) == 1


@responses.activate
def test_a_429_with_retry_after_is_returned_not_re_sent() -> None:
    responses.get(URL, status=429, headers={"Retry-After": "30"})
    assert get(client(retries=2)).status == 429
    assert len(responses.calls) == 1


@responses.activate
def test_client_errors_are_not_retried() -> None:
    responses.get(URL, status=400)
    get(client(retries=2))
    assert len(responses.calls) == 1


@responses.activate
def test_post_is_retried_only_when_the_adapter_says_so() -> None:
    responses.post(URL, status=503)
    assert get(client(retries=2), method="POST").status == 503
    assert len(responses.calls) == 1
    responses.calls.reset()
    get(client(retries=2, retry_methods=("GET", "POST")), method="POST")
    assert len(responses.calls) == 3


# --- headers, transport errors, logs ------------------------------------------------------


@responses.activate
def test_correlation_id_and_defaults_are_sent() -> None:
    responses.get(URL, json={})
    client().request("GET", URL, correlation_id="corr-123", headers={"Authorization": "Bearer t"})
    sent = responses.calls[0].request.headers
    assert sent["X-Correlation-ID"] == "corr-123"
    assert sent["Accept"] == "application/json"
    assert sent["User-Agent"] == "skeldir-revenue/1.0"
    assert sent["Authorization"] == "Bearer t"


@responses.activate
def test_log_records_carry_no_query_string_or_credentials(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(re.compile(r"https://(user:pw-SECRET@)?platform\.test/v1/things.*"), json={})
    get(client(), url="https://user:pw-SECRET@platform.test/v1/things?access_token=tok-SECRET&page=2")
    records = [r for r in caplog.records if r.name == "providers.http"]
    assert records
    for record in records:
        assert record.url == URL  # type: ignore[attr-defined]
        assert record.correlation_id == "corr-123"  # type: ignore[attr-defined]
        assert "SECRET" not in record.getMessage()
    assert "SECRET" not in caplog.text
    assert "page=2" not in caplog.text


@responses.activate
def test_timeout_is_a_network_error_without_the_query_string(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ProviderNetworkError, match="timed out") as info:
        get(client(), url=f"{URL}?access_token=tok-SECRET")
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in caplog.text


@responses.activate
def test_connection_error_is_a_network_error() -> None:
    responses.get(URL, body=requests.exceptions.ConnectionError("connection reset by peer"))
    with pytest.raises(ProviderNetworkError, match="failed to connect"):
        get(client())


# --- HttpResponse.json and HttpConfig -----------------------------------------------------


@responses.activate
def test_json_keeps_decimals_exact() -> None:
    responses.get(URL, body=b'{"value": 123.45, "count": 3}', content_type="application/json")
    body = get(client()).json()
    assert body == {"value": Decimal("123.45"), "count": 3}
    assert isinstance(body["value"], Decimal)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/problem+json", "text/javascript"]
)
@responses.activate
def test_json_content_types_platforms_send_are_accepted(content_type: str) -> None:
    responses.get(URL, body=b"{}", content_type=content_type)
    assert get(client()).json() == {}


@responses.activate
def test_html_is_not_json() -> None:
    responses.get(URL, body=b"<html>maintenance</html>", content_type="text/html")
    with pytest.raises(ProviderBadResponse, match="text/html"):
        get(client()).json()


@responses.activate
def test_unparseable_json_is_a_bad_response() -> None:
    responses.get(URL, body=b'{"data": [', content_type="application/json")
    with pytest.raises(ProviderBadResponse, match="not valid JSON"):
        get(client()).json()


def test_config_overrides_settings_keeps_them_for_empty_options_and_refuses_unknown_ones() -> None:
    config = HttpConfig.from_options({"retries": 5, "read_timeout": 4.0}, retries=1, read_timeout=None)
    assert (config.retries, config.read_timeout) == (1, 4.0)
    with pytest.raises(TypeError, match="unknown HTTP option"):
        HttpConfig.from_options({}, read_timout=2)


@responses.activate
def test_a_cookie_one_response_sets_is_not_sent_with_the_next_request() -> None:
    # One session serves every tenant's calls to a platform (a load balancer's or a bot
    # filter's cookie must not carry one tenant's session into another's request).
    responses.get(URL, body=b"{}", headers={"Set-Cookie": "__cf_bm=tenant-a-session; Path=/; HttpOnly"})
    http = ProviderHttp(platform="stripe", config=HttpConfig())
    http.request("GET", URL, correlation_id="c1")
    http.request("GET", URL, correlation_id="c2")
    assert [call.request.headers.get("Cookie") for call in responses.calls] == [None, None]
    assert len(http.session.cookies) == 0


@responses.activate
def test_a_redirect_is_returned_not_followed_so_token_headers_stay_with_the_platform() -> None:
    responses.get(URL, status=302, headers={"Location": "https://elsewhere.test/collect"})
    responses.get("https://elsewhere.test/collect", body=b"{}")
    http = ProviderHttp(platform="shopify", config=HttpConfig())
    response = http.request("GET", URL, correlation_id="c1", headers={"X-Shopify-Access-Token": "shpat_secret"})
    assert response.status == 302
    assert [call.request.url for call in responses.calls] == [URL]
