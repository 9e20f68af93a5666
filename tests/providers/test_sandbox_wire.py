"""The simulator's HTTP/1.1 (`providers.sandbox.wire`) over raw sockets: keep-alive and
pipelining, closing when asked, precise refusals of what it cannot read, and delayed
answers that hold up nothing else and end in a reset when the simulator stops."""

from __future__ import annotations

import base64
import json
import select
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from providers.sandbox import Sandbox
from providers.sandbox.wire import MAX_HEAD_BYTES

STRIPE_HEADERS = "Authorization: Bearer sk_test_wire\r\nStripe-Version: 2025-01-27.acacia\r\n"


def _charges(account: str) -> bytes:
    """A Stripe charges request for `account`, as the adapter sends it (no query)."""
    return f"GET /v1/charges HTTP/1.1\r\nHost: x\r\n{STRIPE_HEADERS}Stripe-Account: {account}\r\n\r\n".encode()


def _connect(sandbox: Sandbox) -> socket.socket:
    parts = urlsplit(sandbox.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _read_response(sock: socket.socket, buffered: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length, from `buffered` and then the socket."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before a whole response head"
        buffered += chunk
    end = buffered.index(b"\r\n\r\n")
    status_line, *lines = buffered[:end].decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(buffered) < end + 4 + length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside a response body"
        buffered += chunk
    body = bytes(buffered[end + 4 : end + 4 + length])
    del buffered[: end + 4 + length]
    return int(status_line.split(" ")[1]), headers, body


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def own_sandbox() -> Iterator[Sandbox]:
    """A simulator of the test's own, for tests that stop it."""
    sandbox = Sandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def test_requests_on_one_connection_are_answered_in_order_even_when_pipelined(sandbox):
    sock = _connect(sandbox)
    with sock:
        sock.sendall(
            f"GET /v1/charges HTTP/1.1\r\nHost: x\r\n{STRIPE_HEADERS}Stripe-Account: acct_one\r\n\r\n"
            "GET /v1/customers HTTP/1.1\r\nHost: x\r\n\r\n"
            "POST /_sandbox/clock HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n"
            '{"now": null}'.encode()
        )
        buffered = bytearray()
        first, second, third = (_read_response(sock, buffered) for _ in range(3))
    assert first[0] == 200 and json.loads(first[2])["object"] == "list"
    assert first[1]["server"].startswith("skeldir-provider-sandbox") and "date" in first[1]
    assert second[0] == 404 and "/v1/customers" in json.loads(second[2])["error"]
    assert third[0] == 200
    assert sandbox.calls("stripe", "acct_one") == 1


@pytest.mark.parametrize(
    "request_head",
    [
        "GET /_sandbox HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /_sandbox HTTP/1.0\r\nHost: x\r\n\r\n",
    ],
    ids=["http-1.1-connection-close", "http-1.0"],
)
def test_the_connection_closes_after_the_answer_when_the_client_asks(sandbox, request_head):
    sock = _connect(sandbox)
    with sock:
        sock.sendall(request_head.encode())
        status, headers, _ = _read_response(sock, bytearray())
        assert status == 200 and headers["connection"] == "close"
        assert _closed_by_server(sock)


def test_an_http_1_0_client_that_asks_for_keep_alive_keeps_its_connection(sandbox):
    sock = _connect(sandbox)
    with sock:
        buffered = bytearray()
        for _ in range(2):
            sock.sendall(b"GET /_sandbox HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            assert _read_response(sock, buffered)[0] == 200


@pytest.mark.parametrize(
    ("raw", "status", "said"),
    [
        (b"NONSENSE\r\n\r\n", 400, "request line"),
        (b"GET /_sandbox SPDY/3\r\n\r\n", 400, "request line"),
        (b"GET /_sandbox HTTP/1.1\r\nno colon here\r\n\r\n", 400, "header line"),
        (b"POST /_sandbox/clock HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400, "Content-Length"),
        (b"POST /_sandbox/clock HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "Content-Length"),
        (b"POST /_sandbox/clock HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413, "body"),
        (b"GET /_sandbox HTTP/1.1\r\nX-Padding: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n", 431, "head"),
    ],
    ids=["garbage", "not-http", "header-without-colon", "bad-length", "chunked", "huge-body", "huge-head"],
)
def test_a_request_it_cannot_read_gets_a_precise_refusal_and_the_connection_closes(sandbox, raw, status, said):
    sock = _connect(sandbox)
    with sock:
        sock.sendall(raw)
        got, headers, body = _read_response(sock, bytearray())
        assert got == status and headers["connection"] == "close"
        assert said in json.loads(body)["error"]
        assert _closed_by_server(sock)
    assert sandbox.calls() == {}  # nothing reached a platform


def test_a_delayed_answer_holds_up_no_other_connection(sandbox):
    sandbox.set_fault("stripe", "acct_slow", "latency", latency_ms=30_000)
    slow, quick = _connect(sandbox), _connect(sandbox)
    with slow, quick:
        slow.sendall(_charges("acct_slow"))
        quick.sendall(_charges("acct_quick"))
        assert _read_response(quick, bytearray())[0] == 200
        assert select.select([slow], [], [], 0)[0] == []  # the slow one is still waiting
    # Its client gave up; the simulator goes on serving.
    assert sandbox.calls("stripe") == {"acct_slow": 1, "acct_quick": 1}
    sandbox.clear_faults()
    sock = _connect(sandbox)
    with sock:
        sock.sendall(b"GET /_sandbox HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock, bytearray())[0] == 200


def test_a_client_that_half_closes_after_its_request_still_gets_the_delayed_answer(sandbox):
    sandbox.set_fault("stripe", "acct_half", "latency", latency_ms=50)
    sock = _connect(sandbox)
    with sock:
        sock.sendall(_charges("acct_half"))
        sock.shutdown(socket.SHUT_WR)
        status, _, body = _read_response(sock, bytearray())
        assert status == 200 and json.loads(body)["object"] == "list"
        assert _closed_by_server(sock)


def test_stopping_resets_an_answer_still_delayed_and_closes_idle_connections(own_sandbox):
    own_sandbox.set_fault("stripe", "*", "latency", latency_ms=30_000)
    waiting, idle = _connect(own_sandbox), _connect(own_sandbox)
    with waiting, idle:
        idle.sendall(b"GET /_sandbox HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(idle, bytearray())[0] == 200
        waiting.sendall(_charges("acct_a"))
        for _ in range(1000):  # until the request has arrived (at most ~10 s)
            if own_sandbox.calls("stripe", "acct_a"):
                break
            select.select([waiting], [], [], 0.01)
        own_sandbox.stop()
        with pytest.raises(ConnectionResetError):
            waiting.recv(1)
        assert idle.recv(1) == b""  # an orderly close


def test_links_back_to_a_request_without_host_name_the_simulators_own_address(sandbox):
    """WooCommerce's Link header points at the next page on the simulator; an HTTP/1.0
    client may send no Host, and the link must still lead back."""
    sandbox.set_now(datetime(2025, 6, 3, 15, 0, tzinfo=UTC))
    auth = base64.b64encode(b"ck_wire:cs_wire").decode()
    sock = _connect(sandbox)
    with sock:
        sock.sendall(
            f"GET /shop-busy.example.com/wp-json/wc/v3/orders?per_page=1 HTTP/1.0\r\n"
            f"Authorization: Basic {auth}\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        status, headers, _ = _read_response(sock, bytearray())
    assert status == 200
    assert f"<{sandbox.url}/shop-busy.example.com/wp-json/wc/v3/orders?" in headers["link"]
