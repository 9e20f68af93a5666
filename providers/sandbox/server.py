"""The HTTP side: one ThreadingHTTPServer, a dispatcher that routes a request to the
control API or to a platform (counting it and applying any fault first), and the
`Sandbox` object tests and the management command drive."""

from __future__ import annotations

import dataclasses
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

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
from providers.sandbox.woocommerce import WooCommerce

logger = logging.getLogger("providers.sandbox")

DEFAULT_LATENCY_MS = 200
DEFAULT_OVERSIZED_BYTES = 11 * 1024 * 1024  # just over the default 10 MiB response cap


def default_platforms() -> tuple[Platform, ...]:
    return (Stripe(), Shopify(), PayPal(), WooCommerce(), GoogleAds(), MetaAds())


@dataclasses.dataclass
class Answer:
    """What the handler thread should do: send `response` normally, or misbehave."""

    response: Response | None
    action: str = "send"  # "send" | "truncate" | "unframed" | "reset"


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
        if fault is not None:
            answer = self._fault(fault, platform, request, endpoint)
            if answer is not None:
                return answer
        truncate = fault is not None and fault.fault == "truncated"
        return Answer(self._respond(platform, handler, request), "truncate" if truncate else "send")

    def _respond(self, platform: Platform, handler: str, request: Request) -> Response:
        try:
            response = getattr(platform, handler)(request, Call(now=self.state.now(), state=self.state))
        except BadRequest as error:
            response = platform.bad_request(error, request)
        response.headers.extend(platform.default_headers())
        return response

    def _fault(self, fault: Fault, platform: Platform, request: Request, endpoint: str) -> Answer | None:
        """The answer a fault imposes, or None when the normal answer follows (after a
        delay, or to be truncated)."""
        kind = fault.fault
        if kind in ("latency", "timeout"):
            default = DEFAULT_LATENCY_MS if kind == "latency" else self.state.settings.timeout_ms
            delay_ms = fault.latency_ms if fault.latency_ms is not None else default
            if self.state.stopping.wait(delay_ms / 1000):
                return Answer(None, "reset")
            return None
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
        reason = BaseHTTPRequestHandler.responses.get(status, ("Error",))[0]
        text = (
            f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
            "</center><hr><center>nginx</center></body></html>"
        )
    return Response.text(status, text, "text/html; charset=utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the platforms; every answer is framed
    # Headers and body go out in separate writes: without TCP_NODELAY a keep-alive client
    # waits for the delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "skeldir-provider-sandbox/1"  # the Server header says what it is: a local simulator

    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _serve(self) -> None:
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length and length.isdigit() else b""
        path, _, query = self.path.partition("?")
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method=self.command,
            path=unquote(path),
            query_string=query,
            headers=self.headers,
            body=body,
            base_url=f"http://{host}",
        )
        try:
            answer = self.server.dispatcher.handle(request)
        except Exception:  # a simulator bug must not look like a platform answer
            logger.exception("sandbox handler failed for %s %s", self.command, request.path)
            answer = Answer(Response.json(500, {"error": "the simulator failed; see its log"}))
        try:
            self._send(answer)
        except OSError:  # the client gave up (timeouts, resets): nothing to tell it
            self.close_connection = True

    def _send(self, answer: Answer) -> None:
        if answer.action == "reset" or answer.response is None:
            # RST instead of FIN: the connection dies without a response.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        response = answer.response
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        body = response.body
        if answer.action == "unframed":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        if answer.action == "truncate":
            body = body[: len(body) // 2]
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    # http.server logs the request line, query string included (Meta accepts tokens
    # there): log method and path only, and never a header.
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        logger.debug("%s %s -> %s", self.command, self.path.partition("?")[0], code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("sandbox: %s", (format % args).split("?")[0])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A refresher opens dozens of connections at once; the default backlog (5) drops them.
    request_queue_size = 256
    dispatcher: Dispatcher

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox connection error from %s", client_address, exc_info=True)


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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self.state.stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.dispatcher = self.dispatcher
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="provider-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.state.stopping.set()  # wakes handlers stalled by latency/timeout faults
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host, port = self._server.server_address[:2]
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
