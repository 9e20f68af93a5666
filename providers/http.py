"""The one way adapters talk HTTP.

A `ProviderHttp` wraps a `requests.Session` whose adapter carries urllib3's `Retry`
(bounded retries, exponential backoff with jitter, on connection errors and 5xx), sends
connect/read timeouts on every call, forwards the correlation id, caps the size of a
response body, and turns every transport failure into the provider error taxonomy.

Nothing here logs a query string, a header value or a body: tokens travel in headers,
and platforms sometimes echo them back.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import http.cookiejar
import json
import logging
import math
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.util.connection
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from providers import outbound
from providers.errors import (
    ProviderBadResponse,
    ProviderDestinationRefused,
    ProviderNetworkError,
    redact,
)

logger = logging.getLogger("providers.http")

USER_AGENT = "skeldir-revenue/1.0"


@dataclasses.dataclass(frozen=True)
class HttpConfig:
    """Transport settings; the defaults come from `settings.PROVIDER_HTTP` and an
    adapter's OPTIONS may override any of them."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    retries: int = 2
    backoff_factor: float = 0.25
    backoff_jitter: float = 0.25
    backoff_max: float = 2.0
    max_retry_after: float = 2.0  # a 5xx asking for longer is left to the cooldown
    max_response_bytes: int = 10 * 1024 * 1024
    pool_size: int = 32  # kept-alive connections per platform host

    @classmethod
    def from_options(cls, base: Mapping[str, Any] | None = None, **overrides: Any) -> HttpConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            # A misspelt option in REVENUE_PROVIDERS must not be ignored silently.
            raise TypeError(f"unknown HTTP option(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        # Layer by layer, so an option left as None falls back to the settings value
        # rather than erasing it in favour of the dataclass default.
        for layer in (base or {}, overrides):
            values.update((k, v) for k, v in layer.items() if k in fields and v is not None)
        return cls(**values)


class _BoundedRetry(Retry):
    """urllib3's Retry, with the wait a 5xx's `Retry-After` may impose capped, so a
    platform cannot park a refresh for minutes inside the retry loop."""

    max_retry_after: float = 2.0

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.max_retry_after)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # urllib3 also re-sends a 413/429 that carries Retry-After even when the status is
        # not in status_forcelist; a throttle is the adapter's to report (rate_limited,
        # with the wait), not something to hammer the platform with inside the session.
        if status_code not in (self.status_forcelist or ()):
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def new(self, **kw: Any) -> _BoundedRetry:
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        return retry


# http.client reads a response through an 8 KiB buffer, so a 20 KiB page costs three
# poll + recv pairs; in a refresher each one lets another of its threads take the GIL
# and hand it back. A buffer the size of a large page takes what has arrived in one.
_RESPONSE_BUFFER_BYTES = 64 * 1024


class _HTTPResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # unread: replaced before the response is read
        self.fp = sock.makefile("rb", buffering=_RESPONSE_BUFFER_BYTES)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _HTTPResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _HTTPResponse


# Opens the socket to one checked address (a seam tests replace to see where a connection
# would go without sending a packet).
open_socket = urllib3.util.connection.create_connection


class _PublicHTTPSConnection(_HTTPSConnection):
    """An https connection that only ever reaches a public address (providers.outbound).

    The host is resolved once, every address checked, and the socket opened to a checked
    address: the name is never looked up again for this connection, so DNS rebinding
    finds nothing to swap. `self.host` stays the name, so SNI, certificate verification
    and the Host header are for the name. A refusal raises ProviderDestinationRefused,
    which urllib3 neither wraps nor retries, before any packet is sent.
    """

    def _new_conn(self) -> socket.socket:
        addresses = outbound.resolve_public(self._dns_host, self.port)
        error: Exception | None = None
        for address in addresses:
            try:
                sock = open_socket(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                error = ConnectTimeoutError(self, f"Connection to {self.host} timed out")
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {type(exc).__name__}")
                error.__cause__ = exc
            else:
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
        assert error is not None  # resolve_public returns at least one address
        raise error


class _HTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _PublicHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _HTTPAdapter(HTTPAdapter):
    """requests' adapter, whose pools read responses through `_HTTPResponse`."""

    pool_classes: dict[str, type[urllib3.HTTPConnectionPool]] = {
        "http": _HTTPConnectionPool,
        "https": _HTTPSConnectionPool,
    }

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self.pool_classes)


class _PublicHTTPAdapter(_HTTPAdapter):
    """Only https, only to public addresses (see `_PublicHTTPSConnection`)."""

    pool_classes = {"https": _PublicHTTPSConnectionPool}


def build_session(
    config: HttpConfig, *, retry_methods: Iterable[str] = ("GET",), public_only: bool = False
) -> requests.Session:
    """The session of one adapter. `public_only`: for URLs a tenant chose, every connection
    goes straight (no proxy: it would resolve the name again) to a checked public address."""
    retry = _BoundedRetry(
        total=config.retries,
        connect=config.retries,
        read=config.retries,
        status=config.retries,
        other=0,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset(m.upper() for m in retry_methods),
        backoff_factor=config.backoff_factor,
        backoff_jitter=config.backoff_jitter,
        backoff_max=config.backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,  # the adapter classifies the final 5xx itself
    )
    retry.max_retry_after = config.max_retry_after
    session = requests.Session()
    # requests re-reads proxy settings from the environment on every call (a scan of
    # os.environ each time); read them once here instead, with the CA bundle override.
    session.trust_env = False
    if not public_only:
        session.proxies.update(urllib.request.getproxies())
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    # One adapter serves every concurrent fetch of its platform in this process.
    adapter_class = _PublicHTTPAdapter if public_only else _HTTPAdapter
    adapter = adapter_class(max_retries=retry, pool_connections=4, pool_maxsize=config.pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # One session serves every tenant's calls to a platform: a cookie one tenant's
    # response sets must not ride along on the next tenant's request.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> int | None:
    """`Retry-After` as whole seconds (at least 1), from delta-seconds or an HTTP-date.

    `headers` should be case-insensitive (requests' are); a missing or unparseable value
    gives None so the caller falls back to its default backoff.
    """
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return max(1, int(raw))
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(1, math.ceil((when - now).total_seconds()))


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: requests.structures.CaseInsensitiveDict  # type: ignore[type-arg]
    body: bytes
    platform: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """Parse the body as JSON, with decimals kept exact (`parse_float=Decimal`).

        Liberal about content types that platforms really send (`application/json`,
        `application/*+json`, Meta's legacy `text/javascript`); an HTML error page or
        any other type is a bad response, as is a body that does not parse.
        """
        content_type = self.headers.get("Content-Type", "").lower()
        if content_type and "json" not in content_type and "javascript" not in content_type:
            raise ProviderBadResponse(
                f"expected JSON, got content type {content_type.split(';')[0]!r} (HTTP {self.status})",
                platform=self.platform,
                status=self.status,
            )
        try:
            return json.loads(self.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise ProviderBadResponse(
                f"response body is not valid JSON (HTTP {self.status})", platform=self.platform, status=self.status
            ) from None


class ProviderHttp:
    """Per-adapter HTTP client. Thread-safe for concurrent fetches of different
    connections (requests' connection pool is; no per-call state is kept here).

    `public_only` is for adapters whose URLs a tenant chose (a WooCommerce store, a
    Shopify shop): every request must pass `providers.outbound` (https, port 443 or
    allow-listed, no userinfo, a public address, connected to the address checked), or
    it raises ProviderDestinationRefused without sending anything.
    """

    def __init__(
        self,
        *,
        platform: str,
        config: HttpConfig,
        retry_methods: Iterable[str] = ("GET",),
        public_only: bool = False,
    ) -> None:
        self.platform = platform
        self.config = config
        self.public_only = public_only
        self.session = build_session(config, retry_methods=retry_methods, public_only=public_only)

    def __repr__(self) -> str:
        return f"<ProviderHttp platform={self.platform!r}>"

    def request(
        self,
        method: str,
        url: str,
        *,
        correlation_id: str,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        json_body: Any = None,
        data: Any = None,
        auth: tuple[str, str] | None = None,
        secrets: Iterable[str | None] = (),
    ) -> HttpResponse:
        """Send one request (with the session's bounded retries) and read at most
        `max_response_bytes` of the body. Raises only `ProviderNetworkError` and
        `ProviderBadResponse`; status codes are the caller's to classify."""
        secrets = tuple(secrets) + (auth[1] if auth else None,)
        send_headers = {"X-Correlation-ID": correlation_id, "Accept": "application/json", **(headers or {})}
        where = _loggable(url)
        started = time.monotonic()
        refusal = outbound.url_refusal(url) if self.public_only else None
        if refusal:
            self._log(method, where, None, started, correlation_id, "destination_refused")
            raise ProviderDestinationRefused(refusal, platform=self.platform)
        try:
            response = self.session.request(
                method,
                url,
                headers=send_headers,
                params=params,
                json=json_body,
                data=data,
                auth=auth,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                stream=True,
                # A platform API does not redirect; following one would carry the
                # platform's own token headers (requests strips only Authorization) to
                # whatever host the Location names. The 3xx is the adapter's to classify.
                allow_redirects=False,
            )
        except ProviderDestinationRefused as exc:
            self._log(method, where, None, started, correlation_id, "destination_refused")
            raise ProviderDestinationRefused(exc.message, platform=self.platform) from None
        except requests.Timeout:
            self._log(method, where, None, started, correlation_id, "timeout")
            raise ProviderNetworkError(f"{method} {where} timed out", platform=self.platform) from None
        except (requests.ConnectionError, requests.exceptions.RetryError) as exc:
            self._log(method, where, None, started, correlation_id, "connection_error")
            reason = redact(type(exc).__name__, secrets)
            raise ProviderNetworkError(
                f"{method} {where} failed to connect ({reason})", platform=self.platform
            ) from None
        except requests.RequestException as exc:
            self._log(method, where, None, started, correlation_id, "request_error")
            raise ProviderNetworkError(
                f"{method} {where} failed ({type(exc).__name__})", platform=self.platform
            ) from None
        try:
            body = self._read_capped(response, method, where)
        finally:
            response.close()
        self._log(method, where, response.status_code, started, correlation_id, "response")
        return HttpResponse(status=response.status_code, headers=response.headers, body=body, platform=self.platform)

    def _read_capped(self, response: requests.Response, method: str, where: str) -> bytes:
        cap = self.config.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise ProviderBadResponse(
                f"{method} {where} response of {declared} bytes exceeds the {cap}-byte cap",
                platform=self.platform,
                status=response.status_code,
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > cap:
                    raise ProviderBadResponse(
                        f"{method} {where} response exceeds the {cap}-byte cap",
                        platform=self.platform,
                        status=response.status_code,
                    )
                chunks.append(chunk)
        except requests.exceptions.ChunkedEncodingError:
            raise ProviderBadResponse(
                f"{method} {where} response body was truncated", platform=self.platform, status=response.status_code
            ) from None
        except requests.Timeout:
            raise ProviderNetworkError(f"{method} {where} timed out reading the body", platform=self.platform) from None
        except requests.ConnectionError:
            raise ProviderNetworkError(
                f"{method} {where} connection lost reading the body", platform=self.platform
            ) from None
        return b"".join(chunks)

    def _log(
        self, method: str, where: str, status: int | None, started: float, correlation_id: str, event: str
    ) -> None:
        logger.info(
            "provider_http_%s",
            event,
            extra={
                "event": f"provider_http_{event}",
                "platform": self.platform,
                "method": method,
                "url": where,
                "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "correlation_id": correlation_id,
            },
        )


def _loggable(url: str) -> str:
    """Scheme, host and path only: query strings may carry identifiers or, on some
    platforms, credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
