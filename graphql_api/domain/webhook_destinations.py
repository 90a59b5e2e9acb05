"""The SSRF guard: a webhook may only reach public addresses, unless the operator allows more.

Checked twice: when a webhook is created, and before every attempt (DNS may have changed).
At delivery the host is resolved once, every address is checked, and the request is sent to a
checked address (see `webhook_delivery`), so a second lookup cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud metadata endpoints: refused whatever the allowlist says.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_URL_LENGTH = 2048


class DestinationError(Exception):
    """A webhook URL that cannot be delivered to."""


class DestinationRefused(DestinationError):
    """Not allowed: wrong scheme, or an address the guard does not let requests reach."""


class UnresolvableHost(DestinationError):
    """DNS gave no address (possibly for now only)."""


@dataclass(frozen=True, slots=True)
class ResolvedDestination:
    """A URL's host and the checked addresses a request to it may connect to."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def _embedded_ipv4(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_not_public(ip: IPAddress) -> str | None:
    """Which kind of non-public address this is, or None for a public one."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return why_not_public(embedded)
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"a {kind} address"
    return None if ip.is_global else "not a public address"


class DestinationPolicy:
    """Which destinations webhooks may reach: public addresses, plus the allowlist."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed_hosts: set[str] = set()
        self.allowed_networks: list[IPNetwork] = []
        for entry in (e.strip() for e in allowed):
            if not entry:
                continue
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.allowed_hosts.add(entry.lower().rstrip("."))

    @classmethod
    def from_setting(cls, value: str) -> DestinationPolicy:
        """WEBHOOK_ALLOWED_HOSTS: comma-separated host names, IP addresses or CIDRs."""
        return cls(value.split(","))

    def check_address(self, host: str, ip: IPAddress) -> None:
        if ip in METADATA_ADDRESSES:
            raise DestinationRefused(f"'{host}' resolves to {ip}, a cloud metadata address")
        reason = why_not_public(ip)
        if reason is None or host in self.allowed_hosts:
            return
        if any(ip in network for network in self.allowed_networks):
            return
        raise DestinationRefused(
            f"'{host}' resolves to {ip}, {reason} (allow it with WEBHOOK_ALLOWED_HOSTS)"
        )

    def parse(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of an http(s) URL; anything else is refused."""
        if len(url) > MAX_URL_LENGTH:
            raise DestinationRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise DestinationRefused("not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise DestinationRefused("only http and https URLs are allowed")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise DestinationRefused("the URL has no host")
        return scheme, host, port or (443 if scheme == "https" else 80)

    async def resolve(self, url: str) -> ResolvedDestination:
        """Resolve the URL's host and check EVERY address; refused if any is not allowed."""
        scheme, host, port = self.parse(url)
        try:
            addresses: tuple[IPAddress, ...] = (ipaddress.ip_address(host),)
        except ValueError:
            addresses = await _lookup(host, port)
        for ip in addresses:
            self.check_address(host, ip)
        return ResolvedDestination(scheme, host, port, addresses)


async def _lookup(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve '{host}': {exc}") from None
    found: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not found:
        raise UnresolvableHost(f"cannot resolve '{host}'")
    return tuple(found)
