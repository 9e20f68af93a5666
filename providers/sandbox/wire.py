"""The simulator's HTTP/1.1, on one asyncio event loop: a connection is a protocol object,
a platform's latency a timer, so a thousand requests in flight cost no thread each.

Why not `http.server`: a thread per connection, headers parsed through `email`, and every
delayed answer a sleeping thread that wakes to take the interpreter lock. Under 32
keep-alive connections with a 50 ms latency fault it cost 0.66 ms of CPU per Stripe charges
request; this layer 0.33 ms (same machine, same requests, wrk as the client). The refresh
benchmark runs the simulators on the same two cores as the refresher it measures.

What it speaks: request bodies framed by Content-Length (what the adapters send; a chunked
body is refused with 501), keep-alive by default on HTTP/1.1 and on request on HTTP/1.0,
requests on one connection answered in order. Answers carry Content-Length unless a fault
asks otherwise (see `Answer`)."""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from providers.sandbox.core import Headers, Request, Response

logger = logging.getLogger("providers.sandbox")

SERVER = "skeldir-provider-sandbox/1"  # the Server header says what it is: a local simulator
MAX_HEAD_BYTES = 64 * 1024  # as http.server's line limit
MAX_BODY_BYTES = 16 * 1024 * 1024


class Answer:
    """What to send: `response` as it is, or misbehave (`action`): "truncate" (half the
    body under the full Content-Length, then close), "unframed" (no Content-Length, the
    body ends at close), "reset" (a TCP RST, no response). `delay` seconds pass first."""

    __slots__ = ("response", "action", "delay")

    def __init__(self, response: Response | None, action: str = "send", delay: float = 0.0) -> None:
        self.response = response
        self.action = action
        self.delay = delay


class _Refused(Exception):
    """A request the simulator cannot read: answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpConnection(asyncio.Protocol):
    """One client connection: reads requests, hands each to `handle`, writes the answers."""

    def __init__(self, handle: Callable[[Request], Answer], connections: set[HttpConnection], host: str) -> None:
        self._handle = handle
        self._connections = connections
        self._host = host  # for requests without a Host header
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: asyncio.TimerHandle | None = None  # an answer being delayed
        self._closing = False
        self._eof = False  # the client has sent all it will send

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiting is not None and len(self._buffer) > MAX_HEAD_BYTES + MAX_BODY_BYTES:
            self._transport.pause_reading()  # more than a request ahead: wait for the answer
        self._serve()

    def eof_received(self) -> bool | None:
        # A client that half-closes after its request still gets the answer being delayed.
        self._eof = True
        return True if self._waiting is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiting is not None:
            self._waiting.cancel()  # the client gave up (timeouts, resets): nothing to tell it
            self._waiting = None
        self._transport = None
        self._connections.discard(self)

    # the server's side
    def drop(self) -> None:
        """The server stops: an answer still being delayed ends in a reset, as a host that
        went away; an idle connection is closed."""
        if self._transport is None:
            return
        if self._waiting is not None:
            self._reset()
        else:
            self._transport.close()

    def _serve(self) -> None:
        while self._waiting is None and not self._closing and self._transport is not None:
            try:
                parsed = self._read_request()
            except _Refused as refused:
                payload = {"error": f"the simulator cannot read this request: {refused.message}"}
                self._send(Answer(Response.json(refused.status, payload)), keep_alive=False)
                return
            if parsed is None:
                return  # the rest of the request has not arrived yet
            request, keep_alive = parsed
            try:
                answer = self._handle(request)
            except Exception:  # a simulator bug must not look like a platform answer
                logger.exception("sandbox handler failed for %s %s", request.method, request.path)
                answer = Answer(Response.json(500, {"error": "the simulator failed; see its log"}))
            logger.debug("%s %s -> %s", request.method, request.path, answer.response and answer.response.status)
            if answer.delay > 0:
                loop = asyncio.get_running_loop()
                self._waiting = loop.call_later(answer.delay, self._send_delayed, answer, keep_alive)
                return
            self._send(answer, keep_alive)

    def _send_delayed(self, answer: Answer, keep_alive: bool) -> None:
        self._waiting = None
        self._send(answer, keep_alive)
        if self._transport is None or self._closing:
            return
        if self._eof:
            self._closing = True
            self._transport.close()
            return
        self._transport.resume_reading()
        self._serve()  # a request that arrived meanwhile

    def _read_request(self) -> tuple[Request, bool] | None:
        """The next whole request in the buffer and whether the connection stays open
        after it, or None until more has arrived."""
        buffer = self._buffer
        while buffer.startswith(b"\r\n"):  # stray line ends between requests (RFC 9112 2.2)
            del buffer[:2]
        end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise _Refused(431, f"the request head is over {MAX_HEAD_BYTES} bytes")
            return None
        lines = buffer[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            raise _Refused(400, "the request line is not METHOD TARGET HTTP/1.x")
        method, target, version = parts
        pairs = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise _Refused(400, "a header line is not NAME: VALUE")
            pairs.append((name, value.strip()))
        headers = Headers(pairs)
        if "Transfer-Encoding" in headers:
            raise _Refused(501, "only request bodies with a Content-Length are read")
        length_text = headers.get("Content-Length") or "0"
        if not length_text.isdigit():
            raise _Refused(400, "Content-Length is not a number")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise _Refused(413, f"the request body is over {MAX_BODY_BYTES} bytes")
        start = end + 4
        if len(buffer) < start + length:
            return None
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        connection = (headers.get("Connection") or "").lower()
        keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
        path, _, query = target.partition("?")
        host = headers.get("Host") or self._host
        return Request(method, unquote(path), query, headers, body, f"http://{host}"), keep_alive

    def _send(self, answer: Answer, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        response = answer.response
        if answer.action == "reset" or response is None:
            self._reset()
            return
        body = response.body
        head = [f"HTTP/1.1 {response.status} {reason_phrase(response.status)}", f"Server: {SERVER}", f"Date: {_date()}"]
        head.extend(f"{name}: {value}" for name, value in response.headers)
        close = not keep_alive
        if answer.action == "unframed":
            head.append("Connection: close")
            close = True
        else:
            head.append(f"Content-Length: {len(body)}")
            if not keep_alive:
                head.append("Connection: close")
        if answer.action == "truncate":
            body = body[: len(body) // 2]
            close = True
        head.append("\r\n")
        transport.writelines(("\r\n".join(head).encode("latin-1"), body))
        if close:
            self._closing = True
            transport.close()  # after what was written has gone out

    def _reset(self) -> None:
        """RST instead of FIN: the connection dies without a response."""
        transport = self._transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._closing = True
        transport.abort()


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""  # a status Python has no name for: the reason phrase may be empty


_date_cache: tuple[int, str] = (0, "")


def _date() -> str:
    """The Date header, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]
