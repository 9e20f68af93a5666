"""Where a URL a tenant chose may send us: public https hosts only.

A WooCommerce store URL (and a Shopify shop domain) is typed by a tenant, and the server
then connects to it. Unchecked, that lets a tenant make the server call its own loopback,
the cloud metadata service or the private network, and read open and closed ports off
the error text. The rule, applied in two places:

- `url_refusal(url)`, a pure check (no DNS) used by the connections API for a clear 400
  and by `ProviderHttp` before any request: the scheme is https; no `user:pass@`; the
  port is 443 unless the operator allow-list `PROVIDER_OUTBOUND_ALLOWED` names exactly
  that host and port; a host written as an IP address must be a public one.
- `resolve_public(host, port)`, called by the guarded connection class in
  `providers.http` when it opens a socket: the port rule again, then the host resolved
  ONCE, every address it resolves to checked, and the socket opened to one of those
  checked addresses (never to the name again, so a second DNS answer cannot swap in
  127.0.0.1). TLS still sends SNI for, and verifies the certificate against, the host
  name; the Host header is the host name.

An address is refused (the reason names the first that applies):
  IPv4-mapped IPv6 (`::ffff:0:0/96`, whatever it maps), unspecified (`0.0.0.0`, `::`),
  loopback (`127.0.0.0/8`, `::1`), link-local (`169.254.0.0/16` — the metadata service —,
  `fe80::/10`), multicast (`224.0.0.0/4`, `ff00::/8`), shared address space
  (`100.64.0.0/10`, carrier-grade NAT), IPv6 site-local (`fec0::/10`), 6to4
  (`2002::/16`) or Teredo (`2001::/32`) embedding an IPv4 address refused here, private
  (`ipaddress`' `is_private`: `10/8`, `172.16/12`, `192.168/16`, `0/8`, the documentation
  ranges `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, the benchmark
  range `198.18/15`, IPv6 unique-local `fc00::/7`, …), reserved (`240.0.0.0/4`,
  `255.255.255.255`, IPv6 `::/8` which holds NAT64 `64:ff9b::/96` and IPv4-compatible
  addresses), and anything else `ipaddress` does not call global.

A host that does not resolve is refused with the same sentence as one that resolves to a
refused address, and no connection is attempted for either, so the answer tells nothing
about the inside network (which names exist, which ports are open). The allow-list waives
the port rule only: addresses are always checked. A store on a private network is reached
through an operator's override base URL (`WOOCOMMERCE_API_BASE_URL`), never a tenant's.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from providers.errors import ProviderDestinationRefused

HTTPS_PORT = 443
# The one sentence for every host that resolves to nothing, or to anything refused.
NOT_PUBLIC = "the host does not resolve to a public address; only public https hosts are called"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")


def address_refusal(ip: IPAddress) -> str | None:
    """Why `ip` is never called (see the module docstring), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if ip.is_site_local:
            return "a site-local address"
        if ip.sixtofour is not None and address_refusal(ip.sixtofour):
            return "a 6to4 address embedding a refused IPv4 address"
        if ip.teredo is not None and any(address_refusal(v4) for v4 in ip.teredo):
            return "a Teredo address embedding a refused IPv4 address"
    for refused, reason in (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE, "a shared (CGNAT) address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "an address that is not globally routable"),
    ):
        if refused:
            return reason
    return None


def url_refusal(url: str) -> str | None:
    """Why a request to `url` (a URL a tenant chose) is never sent, in one sentence without
    the URL's userinfo; None when it may be. No DNS: see `resolve_public` for that."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the URL is not valid"
    if parts.scheme.lower() != "https":
        return "the URL must be https"
    if "@" in parts.netloc:
        return "the URL must not carry a user name or password"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "the URL has no host"
    port = HTTPS_PORT if port is None else port
    if not port_allowed(host, port):
        return f"port {port} is not allowed (only 443, or a host:port in PROVIDER_OUTBOUND_ALLOWED)"
    literal = _ip_literal(host)
    if literal is not None:
        reason = address_refusal(literal)
        if reason:
            return f"the host is {reason}"
    return None


def port_allowed(host: str, port: int) -> bool:
    return port == HTTPS_PORT or (host.lower().rstrip("."), port) in allowed_destinations()


def resolve_public(host: str, port: int) -> list[IPAddress]:
    """The addresses to connect to for `host`:`port`, resolved once and every one checked.

    Raises ProviderDestinationRefused when the port is not allowed, the host does not
    resolve, or ANY of its addresses is refused (a name answering both a public and a
    private address is refused whole: which one a client tries first is not ours to bet on).
    """
    host = host.strip("[]")
    if not port_allowed(host, port):
        raise ProviderDestinationRefused(
            f"port {port} is not allowed (only 443, or a host:port in PROVIDER_OUTBOUND_ALLOWED)"
        )
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):  # gaierror is an OSError
            raise ProviderDestinationRefused(NOT_PUBLIC) from None
        addresses = _unique(ipaddress.ip_address(sockaddr[0].split("%", 1)[0]) for *_, sockaddr in found)
    if not addresses or any(address_refusal(ip) for ip in addresses):
        raise ProviderDestinationRefused(NOT_PUBLIC)
    return addresses


# The resolver, named here so tests can stand in for DNS without touching the network.
getaddrinfo = socket.getaddrinfo


@functools.cache
def allowed_destinations() -> frozenset[tuple[str, int]]:
    """`settings.PROVIDER_OUTBOUND_ALLOWED` as (host, port) pairs: `staging.example.com:8443`,
    `[2001:db8::1]:8443`. Raises ValueError for an entry that is not host:port (the system
    check providers.E006 reports it at startup)."""
    return frozenset(parse_destination(entry) for entry in getattr(settings, "PROVIDER_OUTBOUND_ALLOWED", ()) or ())


def parse_destination(entry: str) -> tuple[str, int]:
    try:
        parts = urlsplit(f"//{entry.strip()}")
        host, port = parts.hostname, parts.port
    except (ValueError, AttributeError):
        host, port = None, None
    if not host or port is None or "@" in entry or parts.path or parts.query or parts.fragment:
        raise ValueError(f"{entry!r} is not host:port")
    return host.rstrip("."), port


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "PROVIDER_OUTBOUND_ALLOWED":
        allowed_destinations.cache_clear()


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))
