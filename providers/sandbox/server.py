"""The dispatcher that routes a request to the control API or to a platform (counting it
and applying any fault first), and the `Sandbox` object tests and the management command
drive: the HTTP server of `wire` on an event loop in a thread of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from providers.sandbox import control
from providers.sandbox.core import (
    PLATFORM_FAULTS,
    BadRequest,
    Call,
    Consent,
    Fault,
    Platform,
    Request,
    Response,
    SandboxState,
    Settings,
    make_fault,
)
from providers.sandbox.google_ads import GoogleAds
from providers.sandbox.meta_ads import MetaAds
from providers.sandbox.paypal import PayPal
from providers.sandbox.shopify import Shopify
from providers.sandbox.stripe import Stripe
from providers.sandbox.wire import Answer, HttpConnection, reason_phrase
from providers.sandbox.woocommerce import WooCommerce

logger = logging.getLogger("providers.sandbox")

DEFAULT_LATENCY_MS = 200
DEFAULT_OVERSIZED_BYTES = 11 * 1024 * 1024  # just over the default 10 MiB response cap


def default_platforms() -> tuple[Platform, ...]:
    return (Stripe(), Shopify(), PayPal(), WooCommerce(), GoogleAds(), MetaAds())


class Dispatcher:
    def __init__(self, state: SandboxState, platforms: Iterable[Platform]) -> None:
        self.state = state
        self.platforms = {p.key: p for p in platforms}
        self.routes = [(p, r) for p in self.platforms.values() for r in p.routes]

    def handle(self, request: Request) -> Answer:
        if request.path == "/_sandbox" or request.path.startswith("/_sandbox/"):
            return Answer(control.handle(request, self))
        for platform, route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if match and route.method == request.method:
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                return self._platform(platform, route.handler, route.endpoint, request)
        return Answer(Response.json(404, {"error": f"the simulator has no endpoint {request.method} {request.path}"}))

    def _platform(self, platform: Platform, handler: str, endpoint: str, request: Request) -> Answer:
        try:
            account = platform.account(request, endpoint)
        except BadRequest:
            account = "unknown"
        self.state.count(platform.key, account, endpoint)
        fault = self.state.take_fault(platform.key, account, endpoint)
        delay = 0.0
        if fault is not None and fault.fault in ("latency", "timeout"):
            default = DEFAULT_LATENCY_MS if fault.fault == "latency" else self.state.settings.timeout_ms
            delay = (fault.latency_ms if fault.latency_ms is not None else default) / 1000
        elif fault is not None:
            answer = self._fault(fault, platform, request, endpoint)
            if answer is not None:
                return answer
        truncate = fault is not None and fault.fault == "truncated"
        # The answer is made now and sent after the delay, as from a platform behind a slow
        # network: the delay is a timer, no thread waits it out.
        return Answer(self._respond(platform, handler, request), "truncate" if truncate else "send", delay)

    def _respond(self, platform: Platform, handler: str, request: Request) -> Response:
        try:
            response = getattr(platform, handler)(request, Call(now=self.state.now(), state=self.state))
        except BadRequest as error:
            response = platform.bad_request(error, request)
        response.headers.extend(platform.default_headers())
        return response

    def _fault(self, fault: Fault, platform: Platform, request: Request, endpoint: str) -> Answer | None:
        """The answer a fault other than a delay imposes, or None when the normal answer
        follows (to be truncated)."""
        kind = fault.fault
        if kind == "truncated":
            return None
        if kind == "reset":
            return Answer(None, "reset")
        if kind in PLATFORM_FAULTS:
            response = platform.error(kind, request, endpoint=endpoint, retry_after=fault.retry_after)
            response.headers.extend(platform.default_headers())
            return Answer(response)
        if kind == "malformed":
            return Answer(Response(200, b'{"data": [{"id": "1", "amount": 12', [("Content-Type", "application/json")]))
        if kind == "html":
            return Answer(_html_page(fault.status if fault.status is not None else 200))
        if kind == "oversized":
            size = fault.size_bytes if fault.size_bytes is not None else DEFAULT_OVERSIZED_BYTES
            head, tail = b'{"data":[],"padding":"', b'"}'
            body = head + b"x" * max(0, size - len(head) - len(tail)) + tail
            response = Response(200, body, [("Content-Type", "application/json")])
            return Answer(response, "send" if fault.declare_length else "unframed")
        raise AssertionError(f"unhandled fault {kind}")


def _html_page(status: int) -> Response:
    if status == 200:
        text = (
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
            "<body><h1>Checking your browser before accessing the site.</h1></body></html>"
        )
    else:
        reason = reason_phrase(status) or "Error"
        text = (
            f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
            "</center><hr><center>nginx</center></body></html>"
        )
    return Response.text(status, text, "text/html; charset=utf-8")


class Sandbox:
    """The simulator, in a background thread.

    >>> with Sandbox() as sandbox:                       # port 0: a free port
    ...     sandbox.set_fault("stripe", "acct_1", "429", retry_after=3, times=1)
    ...     requests.get(f"{sandbox.url}/v1/charges", headers=...)
    ...     sandbox.calls("stripe", "acct_1")            # -> 1
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout_ms: int = 30_000,
        page_cap: int | None = None,
        token_ttl: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.state = SandboxState(Settings(timeout_ms=timeout_ms, page_cap=page_cap, token_ttl=token_ttl), clock)
        self.dispatcher = Dispatcher(self.state, default_platforms())
        self._connections: set[HttpConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # lifecycle
    def start(self) -> Sandbox:
        if self._loop is not None:
            raise RuntimeError("the sandbox is already running")
        started: concurrent.futures.Future[asyncio.AbstractEventLoop] = concurrent.futures.Future()
        thread = threading.Thread(target=self._serve, args=(started,), name="provider-sandbox", daemon=True)
        thread.start()
        self._loop = started.result(timeout=30)  # re-raises what kept it from listening
        self._thread = thread
        return self

    def _serve(self, started: concurrent.futures.Future[asyncio.AbstractEventLoop]) -> None:
        loop = asyncio.new_event_loop()
        try:
            server = loop.run_until_complete(
                loop.create_server(
                    self._connection,
                    self.host,
                    self.port,
                    # A refresher opens dozens of connections at once: a short backlog drops them.
                    backlog=256,
                    reuse_address=True,
                )
            )
        except Exception as error:  # noqa: BLE001 (start() re-raises it)
            loop.close()
            started.set_exception(error)
            return
        self._address = server.sockets[0].getsockname()[:2]
        started.set_result(loop)
        try:
            loop.run_forever()
        finally:
            server.close()
            for connection in list(self._connections):
                connection.drop()
            loop.run_until_complete(self._closed())
            loop.close()

    def _connection(self) -> HttpConnection:
        host, port = self._address or (self.host, self.port)
        return HttpConnection(self.dispatcher.handle, self._connections, f"{host}:{port}")

    async def _closed(self) -> None:
        """Until every dropped connection has closed (a few turns of the loop)."""
        for _ in range(100):
            if not self._connections:
                return
            await asyncio.sleep(0)

    def stop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = self._thread = self._address = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._address is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host, port = self._address
        return f"http://{host!s}:{port}"

    # control
    def calls(self, platform: str | None = None, account: str | None = None) -> Any:
        """Requests seen: {platform: {account: n}}; {account: n} for one platform; an int
        for one account (0 when none)."""
        counts = self.state.calls()
        if platform is None:
            return counts
        per_account = counts.get(platform, {})
        if account is None:
            return per_account
        return per_account.get(account, 0)

    def endpoint_calls(self, platform: str, endpoint: str | None = None) -> Any:
        """Requests seen per endpoint ("data", "token", "authorize", "identity", "revoke"):
        {endpoint: n} for a platform, or an int for one endpoint (0 when none)."""
        per_endpoint = self.state.endpoint_calls().get(platform, {})
        return per_endpoint if endpoint is None else per_endpoint.get(endpoint, 0)

    def register_app(self, platform: str, client_id: str, client_secret: str) -> None:
        """Register an OAuth app (client id and secret) with a platform's authorization
        server, as a developer does in the platform's dashboard. Kept across reset()."""
        if platform not in self.dispatcher.platforms:
            raise ValueError(f"unknown platform {platform!r}")
        self.state.register_app(platform, client_id, client_secret)

    def set_consent(self, platform: str, accounts: list[str] | None = None, *, deny: bool = False) -> None:
        """What the simulated user grants at the next authorize redirects: these accounts
        (None: the platform's default for the app), or a refusal (`deny`)."""
        if platform not in self.dispatcher.platforms:
            raise ValueError(f"unknown platform {platform!r}")
        self.state.set_consent(platform, Consent(accounts=tuple(accounts) if accounts is not None else None, deny=deny))

    def set_fault(self, platform: str, account: str, fault: str, **params: Any) -> None:
        """Make requests for (platform, account) misbehave; account "*" means every account.
        Params: latency_ms, retry_after, times, status, size_bytes, declare_length, endpoint."""
        self.state.set_fault(make_fault(platform, account, fault, self.dispatcher.platforms, **params))

    def clear_faults(self, platform: str | None = None, account: str | None = None) -> None:
        self.state.clear_faults(platform, account)

    def revoke(self, platform: str, credential: str) -> None:
        """Refuse this exact credential from now on (an access token, API key, consumer key,
        PayPal client id, or a Google refresh token — which also kills the tokens it minted)."""
        if platform not in self.dispatcher.platforms:
            raise ValueError(f"unknown platform {platform!r}")
        self.state.revoke(platform, credential)

    def set_now(self, moment: datetime | None) -> None:
        """Pin the simulated clock (aware datetime), or None to follow real time."""
        self.state.set_now(moment)

    def configure(self, **settings: Any) -> None:
        """Change timeout_ms, page_cap or token_ttl until the next reset()."""
        self.state.settings = dataclasses.replace(self.state.settings, **settings)

    def reset(self) -> None:
        """Back to the initial state: no faults, no counts, nothing revoked, no codes, grants
        or consent settings, real clock, constructor settings. Registered apps stay."""
        self.state.reset()
