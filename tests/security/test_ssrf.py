"""SSRF through a tenant's WooCommerce store URL (issue "Security hardening", finding 3).

The attack: `POST /api/v1/connections` with a `store_url` naming loopback, the private
network, the metadata service or `user:pass@`, making the server connect there and read
open from closed ports off the error. Replayed against a live server: every such URL is a
400 problem, nothing is stored, and a local listener on the named port receives nothing.

No test sends a packet off this machine: DNS is stood in for (`outbound.getaddrinfo`), and
the guarded connection's socket opener (`providers.http.open_socket`) is replaced by one
that records where it was asked to connect and only ever connects to loopback (the
listener, or a local TLS "store" standing in for a public address).
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.checks import run_checks

from connections.models import PlatformConnection, PlatformCredential
from providers import http, outbound
from providers.base import CredentialCheckContext
from providers.errors import ProviderDestinationRefused, ProviderNetworkError, ProviderUnavailable
from providers.shopify import ShopifyProvider
from providers.woocommerce import WooCommerceProvider
from skeldir.tenancy import tenant_context
from tests.factories import make_tenant

CONNECTIONS = "/api/v1/connections"
STORE_HOST = "shop.example.com"
PUBLIC_IP = "93.184.216.34"  # a public address: never actually contacted (see open_socket)
CONSUMER_SECRET = "cs_ssrfsecret0123456789"


# --- the local endpoints ------------------------------------------------------------------


class Listener:
    """A TCP socket listening on 127.0.0.1. The kernel completes a connection into the
    backlog before the client's connect() returns, so once a request has been answered,
    anything that tried to connect is waiting in the backlog: `received()` drains it
    without blocking (no thread to race with, no sleep)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def received(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a certificate it signed for shop.example.com (and one for
    another name), so the guarded client can verify a local TLS server by host name."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def build(subject: str, key, issuer_name, issuer_key, *, ca: bool, san: str | None = None):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_name or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key((issuer_key or key).public_key()), critical=False
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256()), name

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, ca_name = build("Skeldir SSRF test CA", ca_key, None, None, ca=True)
    files = {"ca": folder / "ca.pem"}
    files["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for label, host in (("store", STORE_HOST), ("other", "other.example.net")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert, _ = build(host, key, ca_name, ca_key, ca=False, san=host)
        files[f"{label}_cert"] = folder / f"{label}.pem"
        files[f"{label}_key"] = folder / f"{label}.key"
        files[f"{label}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{label}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return files


class TlsStore:
    """A one-answer-per-connection HTTPS server on 127.0.0.1, standing in for a store at a
    public address: it records the SNI and the request head of every exchange."""

    def __init__(self, cert: Path, key: str | Path, answer: bytes) -> None:
        self.answer = answer
        self.sni: list[str | None] = []
        self.requests: list[str] = []
        self.handshake_failures = 0
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    self.requests.append(head.decode("latin-1"))
                    tls.sendall(self.answer)
            except (ssl.SSLError, OSError):
                self.handshake_failures += 1
                conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone would not)
        self.sock.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def answer(status: str, body: object, *, headers: dict[str, str] | None = None) -> bytes:
    payload = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@pytest.fixture
def tls_store(tls_files) -> Iterator[Callable[..., TlsStore]]:
    started: list[TlsStore] = []

    def start(response: bytes = answer("200 OK", []), *, cert: str = "store") -> TlsStore:
        store = TlsStore(tls_files[f"{cert}_cert"], tls_files[f"{cert}_key"], response)
        started.append(store)
        return store

    yield start
    for store in started:
        store.close()


# --- DNS and sockets, stood in for ---------------------------------------------------------


class Resolver:
    """`outbound.getaddrinfo` for the test: each name answers from `answers` (one list of
    addresses per successive lookup, the last repeating); `localhost` goes to the system
    resolver (the hosts file); any other name does not resolve. No DNS query is sent."""

    def __init__(self, answers: dict[str, list[list[str]]] | None = None) -> None:
        self.answers = answers or {}
        self.lookups: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - getaddrinfo's names
        self.lookups.append(host)
        if host == "localhost":
            return socket.getaddrinfo(host, port, family, type, proto, flags)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        series = self.answers[host]
        addresses = series[min(len([h for h in self.lookups if h == host]), len(series)) - 1]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]


class Sockets:
    """`http.open_socket` for the test: records each address the guarded connection asked
    for. A loopback address is really connected to (so the listener would see a guard
    that let it through); any other address goes to the local TLS store when one is set
    (standing in for the public host), else is refused. Never a packet off the machine."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []
        self.store: TlsStore | None = None

    def __call__(self, address, timeout=None, source_address=None, socket_options=None):
        self.asked.append(address)
        if ipaddress.ip_address(address[0]).is_loopback:
            return urllib3.util.connection.create_connection(address, timeout)
        if self.store is None:
            raise ConnectionRefusedError("test socket: only loopback is ever connected")
        return socket.create_connection(("127.0.0.1", self.store.port), timeout)


@pytest.fixture
def resolver(monkeypatch) -> Resolver:
    fake = Resolver()
    monkeypatch.setattr(outbound, "getaddrinfo", fake)
    return fake


@pytest.fixture
def sockets(monkeypatch) -> Sockets:
    fake = Sockets()
    monkeypatch.setattr(http, "open_socket", fake)
    return fake


@pytest.fixture
def production_woocommerce(settings, monkeypatch, tls_files, resolver, sockets):
    """The WooCommerce adapter as in production (no override base URL), trusting the test
    CA (read when the adapter is built, i.e. after this), with no allow-list."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files["ca"]))
    settings.PROVIDER_OUTBOUND_ALLOWED = []
    providers = copy.deepcopy(settings.REVENUE_PROVIDERS)
    providers["woocommerce"]["OPTIONS"]["base_url"] = ""
    settings.REVENUE_PROVIDERS = providers  # the registry rebuilds its adapters
    return settings


@pytest.fixture
def manager(live_url, mint):
    tenant = make_tenant("security-ssrf")
    headers = {"Authorization": f"Bearer {mint(tenant.id, scopes=['manager'])}"}
    return tenant, headers


def _connect(live_url: str, headers: dict[str, str], store_url: str) -> requests.Response:
    return requests.post(
        f"{live_url}{CONNECTIONS}",
        json={
            "platform": "woocommerce",
            "store_url": store_url,
            "consumer_key": "ck_ssrf0123",
            "consumer_secret": CONSUMER_SECRET,
        },
        headers={**headers, "X-Correlation-ID": str(uuid.uuid4())},
        timeout=15,
    )


def _stored(tenant) -> tuple[int, int]:
    with tenant_context(tenant.id):
        return PlatformConnection.objects.count(), PlatformCredential.objects.count()


def _woo_check(store_url: str) -> CredentialCheckContext:
    return CredentialCheckContext(
        platform_account_id=store_url,
        connection_metadata={},
        access_token=f"ck_ssrf0123:{CONSUMER_SECRET}",
        correlation_id=str(uuid.uuid4()),
    )


# --- the attack, replayed -------------------------------------------------------------------

ATTACKS = {
    "https loopback": ("https://127.0.0.1:{port}/", "store_url: the host is a loopback address."),
    "plain http": ("http://127.0.0.1:{port}/", "store_url: the URL must be https."),
    "userinfo": ("https://user:pass@127.0.0.1:{port}/", "store_url: the URL must not carry a user name or password."),
    "ipv6 loopback": ("https://[::1]:{port}/", "store_url: the host is a loopback address."),
    "ipv4-mapped": ("https://[::ffff:127.0.0.1]:{port}/", "store_url: the host is an IPv4-mapped IPv6 address."),
    "metadata service": ("https://169.254.169.254/latest/meta-data/", "store_url: the host is a link-local address."),
    "private network": ("https://10.0.0.1/", "store_url: the host is a private address."),
    "a name for loopback": ("https://localhost:{port}/", "store_url: " + outbound.NOT_PUBLIC + "; nothing was stored."),
    "a name for nothing": (
        "https://internal.invalid:{port}/",
        "store_url: " + outbound.NOT_PUBLIC + "; nothing was stored.",
    ),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_store_url_aimed_inside_is_a_400_that_stores_and_sends_nothing(
    attack, live_url, manager, listener, production_woocommerce, sockets
):
    url, detail = attack
    tenant, headers = manager
    # The operator allow-list names every host:port of the attack, so only the address rule
    # stands between the request and the listener.
    production_woocommerce.PROVIDER_OUTBOUND_ALLOWED = [
        f"{host}:{listener.port}"
        for host in ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "localhost", "internal.invalid")
    ]
    answer = _connect(live_url, headers, url.format(port=listener.port))
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["detail"].startswith(detail)
    assert _stored(tenant) == (0, 0)
    assert listener.received() == 0
    assert sockets.asked == []  # not even a socket opened, to any address


def test_without_the_allow_list_another_port_is_refused_before_dns(
    live_url, manager, listener, production_woocommerce, resolver
):
    tenant, headers = manager
    answer = _connect(live_url, headers, f"https://localhost:{listener.port}/")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(
        f"store_url: port {listener.port} is not allowed (only 443, or a host:port in PROVIDER_OUTBOUND_ALLOWED)."
    )
    assert resolver.lookups == [] and listener.received() == 0
    assert _stored(tenant) == (0, 0)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_open_and_a_closed_port_answer_the_same(
    host, live_url, manager, listener, closed_port, production_woocommerce
):
    """No oracle: the answer for a listening port is the answer for a closed one, byte for
    byte once the port number is taken out (refused before any connection either way)."""
    tenant, headers = manager
    production_woocommerce.PROVIDER_OUTBOUND_ALLOWED = [f"{host}:{listener.port}", f"{host}:{closed_port}"]
    answers = []
    for port in (listener.port, closed_port):
        got = _connect(live_url, headers, f"https://{host}:{port}/")
        answers.append((got.status_code, got.json()["code"], got.json()["detail"].replace(str(port), "<port>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    assert listener.received() == 0
    assert _stored(tenant) == (0, 0)


# --- the guarded connection -------------------------------------------------------------------


def test_the_connection_goes_to_the_checked_address_with_sni_and_host_for_the_name(
    production_woocommerce, resolver, sockets, tls_store
):
    resolver.answers[STORE_HOST] = [[PUBLIC_IP]]
    sockets.store = store = tls_store()
    WooCommerceProvider().verify_credentials(_woo_check(f"https://{STORE_HOST}/shop"))
    assert resolver.lookups == [STORE_HOST]
    assert sockets.asked == [(PUBLIC_IP, 443)]
    assert store.sni == [STORE_HOST]  # TLS is for the name, not the address
    request_line, *header_lines = store.requests[0].split("\r\n")
    assert request_line.startswith("GET /shop/wp-json/wc/v3/orders?per_page=1 ")
    assert f"Host: {STORE_HOST}" in header_lines


def test_the_certificate_is_verified_for_the_name(production_woocommerce, resolver, sockets, tls_store):
    """A server at the checked address whose certificate is for another name is refused."""
    resolver.answers[STORE_HOST] = [[PUBLIC_IP]]
    sockets.store = store = tls_store(cert="other")
    with pytest.raises(ProviderNetworkError) as failed:
        WooCommerceProvider().verify_credentials(_woo_check(f"https://{STORE_HOST}"))
    assert not isinstance(failed.value, ProviderDestinationRefused)
    assert store.requests == []  # no request was sent over the refused handshake


def test_dns_rebinding_finds_the_checked_address_already_connected(
    production_woocommerce, resolver, sockets, tls_store
):
    """The name answers a public address, then 127.0.0.1. The first connection goes to the
    public address it checked (one lookup, never repeated for that connection); the next
    connection looks up again, finds loopback and is refused without a socket."""
    resolver.answers[STORE_HOST] = [[PUBLIC_IP], ["127.0.0.1"]]
    sockets.store = store = tls_store()
    provider = WooCommerceProvider()
    provider.verify_credentials(_woo_check(f"https://{STORE_HOST}"))
    assert (resolver.lookups, sockets.asked) == ([STORE_HOST], [(PUBLIC_IP, 443)])
    with pytest.raises(ProviderDestinationRefused, match="does not resolve to a public address"):
        provider.verify_credentials(_woo_check(f"https://{STORE_HOST}"))
    assert resolver.lookups == [STORE_HOST, STORE_HOST]
    assert sockets.asked == [(PUBLIC_IP, 443)]  # loopback was never asked for
    assert len(store.requests) == 1


def test_a_name_with_one_private_address_among_public_ones_is_refused_whole(production_woocommerce, resolver, sockets):
    resolver.answers[STORE_HOST] = [[PUBLIC_IP, "10.0.0.1"]]
    with pytest.raises(ProviderDestinationRefused):
        WooCommerceProvider().verify_credentials(_woo_check(f"https://{STORE_HOST}"))
    assert sockets.asked == []


def test_a_redirect_is_not_followed(production_woocommerce, resolver, sockets, tls_store, listener):
    resolver.answers[STORE_HOST] = [[PUBLIC_IP]]
    location = f"https://127.0.0.1:{listener.port}/wp-json/wc/v3/orders"
    sockets.store = store = tls_store(answer("302 Found", {}, headers={"Location": location}))
    with pytest.raises(ProviderUnavailable, match="unexpected HTTP 302"):
        WooCommerceProvider().verify_credentials(_woo_check(f"https://{STORE_HOST}"))
    assert len(store.requests) == 1
    assert sockets.asked == [(PUBLIC_IP, 443)]
    assert listener.received() == 0


def test_the_operator_allow_list_lets_a_configured_host_and_port_through(
    live_url, manager, production_woocommerce, resolver, sockets, tls_store
):
    tenant, headers = manager
    resolver.answers[STORE_HOST] = [[PUBLIC_IP]]
    sockets.store = store = tls_store()
    store_url = f"https://{STORE_HOST}:8443/shop"

    refused = _connect(live_url, headers, store_url)
    assert refused.status_code == 400 and "port 8443 is not allowed" in refused.json()["detail"]
    assert sockets.asked == [] and _stored(tenant) == (0, 0)

    production_woocommerce.PROVIDER_OUTBOUND_ALLOWED = [f"{STORE_HOST}:8443"]
    connected = _connect(live_url, headers, store_url)
    assert connected.status_code == 201, connected.text
    assert connected.json()["account_id"] == store_url
    assert sockets.asked == [(PUBLIC_IP, 8443)]
    assert store.sni == [STORE_HOST]
    assert _stored(tenant) == (1, 1)


def test_the_allow_list_waives_the_port_only_never_the_address(production_woocommerce, resolver, sockets):
    production_woocommerce.PROVIDER_OUTBOUND_ALLOWED = [f"{STORE_HOST}:8443"]
    resolver.answers[STORE_HOST] = [["169.254.169.254"]]
    with pytest.raises(ProviderDestinationRefused):
        WooCommerceProvider().verify_credentials(_woo_check(f"https://{STORE_HOST}:8443"))
    assert sockets.asked == []


def test_the_platform_text_in_an_api_error_is_sanitised_and_cut(
    live_url, manager, production_woocommerce, resolver, sockets, tls_store
):
    tenant, headers = manager
    resolver.answers[STORE_HOST] = [[PUBLIC_IP]]
    message = "Denied\r\nX-Injected: 1 " + "A" * 5_000 + f" {CONSUMER_SECRET}"
    sockets.store = tls_store(answer("401 Unauthorized", {"code": "woocommerce_rest_cannot_view", "message": message}))
    refused = _connect(live_url, headers, f"https://{STORE_HOST}/")
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert len(detail) < 400 and "\r" not in detail and "\n" not in detail
    assert "X-Injected: 1" in detail  # collapsed onto the one line, not a header
    assert CONSUMER_SECRET not in refused.text
    assert _stored(tenant) == (0, 0)


def test_shopify_without_an_override_is_guarded_too(resolver, sockets):
    """Shopify shops are myshopify.com names (Shopify's DNS), but the adapter goes through
    the same guard: a shop name answering a private address is never connected to."""
    resolver.answers["acme.myshopify.com"] = [["10.0.0.1"]]
    provider = ShopifyProvider()
    assert provider.http.public_only and not ShopifyProvider(base_url="http://127.0.0.1:1").http.public_only
    with pytest.raises(ProviderDestinationRefused):
        provider.verify_credentials(
            CredentialCheckContext(
                platform_account_id="acme.myshopify.com",
                connection_metadata={},
                access_token="shpat_ssrf",
                correlation_id=str(uuid.uuid4()),
            )
        )
    assert sockets.asked == []


def test_the_simulator_override_is_not_guarded():
    """An operator's override base URL (the simulator on loopback) is the operator's choice."""
    assert not WooCommerceProvider(base_url="http://127.0.0.1:8100").http.public_only
    assert WooCommerceProvider().http.public_only


# --- the address rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 - an address under test, not a bind
        ("::", "the unspecified address"),
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.1.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("192.0.2.10", "a private address"),  # documentation (TEST-NET-1)
        ("198.51.100.10", "a private address"),  # documentation (TEST-NET-2)
        ("203.0.113.10", "a private address"),  # documentation (TEST-NET-3)
        ("198.18.0.1", "a private address"),  # benchmarking
        ("2001:db8::1", "a private address"),  # documentation
        ("fd00::1", "a private address"),  # unique local
        ("240.0.0.1", "a private address"),  # reserved (ipaddress also calls it private)
        ("::ffff:127.0.0.1", "an IPv4-mapped IPv6 address"),
        ("::ffff:8.8.8.8", "an IPv4-mapped IPv6 address"),
        ("fec0::1", "a site-local address"),
        ("2002:7f00:1::", "a 6to4 address embedding a refused IPv4 address"),
        ("2002:a00:1::", "a 6to4 address embedding a refused IPv4 address"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo address embedding a refused IPv4 address"),
        ("64:ff9b::a00:1", "a reserved address"),  # NAT64 to 10.0.0.1
        ("::127.0.0.1", "a reserved address"),  # IPv4-compatible
    ],
)
def test_refused_addresses(address, reason):
    assert outbound.address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2002:5db8:d822::1"])
def test_public_addresses_pass(address):
    assert outbound.address_refusal(ipaddress.ip_address(address)) is None


def test_a_malformed_allow_list_entry_fails_the_system_check(settings):
    settings.PROVIDER_OUTBOUND_ALLOWED = ["staging.example.com:8443", "no-port.example.com", "https://x.example.com:1"]
    errors = [e for e in run_checks() if e.id == "providers.E006"]
    assert [e.msg for e in errors] == [
        "PROVIDER_OUTBOUND_ALLOWED: 'no-port.example.com' is not host:port.",
        "PROVIDER_OUTBOUND_ALLOWED: 'https://x.example.com:1' is not host:port.",
    ]
