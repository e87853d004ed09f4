"""Where a callback may go (SPEC §13): the destination host is resolved when sending and the delivery
is refused (recorded, never sent, not retried) if any address it resolves to is not a public unicast
address, unless it lies in ``CALLBACK_ALLOWED_NETWORKS`` (DEBUG adds loopback). The connection then
goes to the checked addresses only (``PinnedAdapter``), so a DNS answer that changes between check
and connect cannot redirect it; the Host header, TLS SNI and certificate checks still use the URL's
host name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

DEBUG_NETWORKS = ("127.0.0.0/8", "::1/128")
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 / RFC 8215).
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DeliveryRefused(Exception):
    """The destination is not allowed: the delivery is recorded refused and never sent."""


def allowed_networks() -> list[IPNetwork]:
    """CALLBACK_ALLOWED_NETWORKS, plus loopback when DEBUG is on (seed 000 posts to 127.0.0.1)."""
    names = list(settings.CALLBACK_ALLOWED_NETWORKS or [])
    if settings.DEBUG:
        names.extend(DEBUG_NETWORKS)
    return [ipaddress.ip_network(name, strict=False) for name in names]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (6to4, Teredo, NAT64)."""
    embedded = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    if any(address in network for network in NAT64_NETWORKS):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def address_refusal(address: str | IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not receive a callback, or None when it may.

    Anything but a public unicast address is refused, unless it lies in one of ``allowed``. An
    IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is judged as the IPv4 address it is.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    allowed = list(allowed)
    if any(ip.version == network.version and ip in network for network in allowed):
        return None
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is {kind.replace('_', '-')}"
    if not ip.is_global:
        return f"{ip} is not a public address"
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(ip):
            reason = address_refusal(inner, allowed)
            if reason:
                return f"{ip} leads to {reason}"
    return None


def resolve_destination(url: str) -> list[str]:
    """The addresses ``url``'s host resolves to now, all of them allowed; DeliveryRefused otherwise.

    Raises ``socket.gaierror`` when the name does not resolve (a network error: retried).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryRefused("only http:// and https:// URLs are allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryRefused(f"bad port in URL: {exc}") from exc
    infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise socket.gaierror(f"{parts.hostname} resolves to no address")
    allowed = allowed_networks()
    for address in addresses:
        reason = address_refusal(address, allowed)
        if reason:
            raise DeliveryRefused(f"{parts.hostname} resolves to {address}: {reason}")
    return addresses


class _PinnedConnectionMixin:
    """Connect to the checked addresses instead of resolving the host again.

    urllib3 resolves the host inside ``_new_conn``; this is the one method replaced, so the Host
    header, TLS SNI and certificate verification keep using the URL's host name.
    """

    pinned_addresses: Sequence[str] = ()

    def _new_conn(self) -> socket.socket:
        error: OSError | None = None
        for address in self.pinned_addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} ({address}) timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to ``addresses`` (checked by resolve_destination).

    requests and urllib3 offer no option to connect to a given address while keeping the host name
    for Host and TLS; this subclasses their documented extension points (``ConnectionCls``,
    ``pool_classes_by_scheme``) for one delivery attempt.
    """

    def __init__(self, addresses: Sequence[str]):
        self.addresses = tuple(addresses)
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pinned = {"pinned_addresses": self.addresses}
        http = type("PinnedHTTPConnection", (_PinnedConnectionMixin, HTTPConnection), pinned)
        https = type("PinnedHTTPSConnection", (_PinnedConnectionMixin, HTTPSConnection), pinned)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
