"""Which addresses a check may connect to: the SSRF guard's policy and IP-literal parsing."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import unquote

from yarl import URL

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# (network, what it is, lifted by allow_private). Order matters: the first match names the
# reason, so narrow ranges come before the wide ones that contain them.
_IPV4_RANGES: tuple[tuple[str, str, bool], ...] = (
    ("255.255.255.255/32", "broadcast address", False),
    ("0.0.0.0/8", "this-network address", False),
    ("127.0.0.0/8", "loopback address", True),
    ("10.0.0.0/8", "private address", True),
    ("172.16.0.0/12", "private address", True),
    ("192.168.0.0/16", "private address", True),
    ("169.254.0.0/16", "link-local address", True),
    ("100.64.0.0/10", "shared (CGNAT) address", True),
    ("198.18.0.0/15", "benchmarking address", True),
    ("192.0.0.0/24", "reserved address", False),
    ("192.0.2.0/24", "documentation address", False),
    ("198.51.100.0/24", "documentation address", False),
    ("203.0.113.0/24", "documentation address", False),
    ("192.88.99.0/24", "reserved address", False),
    ("224.0.0.0/4", "multicast address", False),
    ("240.0.0.0/4", "reserved address", False),
)

_IPV6_RANGES: tuple[tuple[str, str, bool], ...] = (
    ("::/128", "unspecified address", False),
    ("::1/128", "loopback address", True),
    # ::ffff:0:0/96 (IPv4-mapped) is handled before this table; the rest of ::/8, including
    # IPv4-compatible ::a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d, is never a target.
    ("::/8", "reserved address", False),
    ("100::/64", "discard-only address", False),
    ("2001::/32", "Teredo address", False),
    ("2001:2::/48", "benchmarking address", True),
    ("2001:10::/28", "reserved address", False),
    ("2001:20::/28", "reserved address", False),
    ("2001:db8::/32", "documentation address", False),
    ("3fff::/20", "documentation address", False),
    ("5f00::/16", "reserved address", False),
    ("fc00::/7", "unique-local address", True),
    ("fe80::/10", "link-local address", True),
    ("fec0::/10", "site-local address", True),
    ("ff00::/8", "multicast address", False),
)

# Cloud metadata and platform endpoints: reachable from inside a VM and full of secrets.
# Blocked even with allow_private; only an allowed network that contains one lifts it.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, Hetzner …
        "169.254.169.253",  # AWS VPC DNS
        "169.254.169.123",  # AWS time sync
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS pod identity agent
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (a public address)
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::253",  # AWS VPC DNS over IPv6
        "fd00:ec2::123",  # AWS time sync over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity agent over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
    )
)

_MAPPED = IPv6Network("::ffff:0:0/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_GLOBAL_UNICAST = IPv6Network("2000::/3")


def _ranges(
    table: tuple[tuple[str, str, bool], ...],
) -> tuple[tuple[int, int, str, bool], ...]:
    # Integer bounds: comparing ints is several times cheaper than `address in network`,
    # and this runs for every connection a worker opens.
    out = []
    for cidr, reason, private in table:
        net = ip_network(cidr)
        out.append((int(net.network_address), int(net.broadcast_address), reason, private))
    return tuple(out)


_V4 = _ranges(_IPV4_RANGES)
_V6 = _ranges(_IPV6_RANGES)


@dataclass(frozen=True)
class TargetPolicy:
    """Which destination addresses a check may connect to."""

    allow_private: bool = False
    allowed_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    _allowed_bounds: tuple[tuple[int, int, int], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        bounds = tuple(
            (n.version, int(n.network_address), int(n.broadcast_address))
            for n in self.allowed_networks
        )
        object.__setattr__(self, "_allowed_bounds", bounds)

    def blocked_reason(self, address: IPv4Address | IPv6Address) -> str | None:
        """Return why a connection to the address is refused, or None when it is allowed."""
        value = int(address)
        version = address.version
        for net_version, low, high in self._allowed_bounds:
            if net_version == version and low <= value <= high:
                return None
        if isinstance(address, IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                form, v4 = embedded
                inner = self.blocked_reason(v4)
                if inner is not None:
                    return f"{form} form of {inner}"
                if address in _NAT64_LOCAL and not self.allow_private:
                    return f"local-use NAT64 address {address}"
                return None
            if address.scope_id is not None:
                address = IPv6Address(value)  # compare without the zone
        if address in METADATA_ADDRESSES:
            return f"cloud metadata address {address}"
        table = _V4 if version == 4 else _V6
        for low, high, reason, private in table:
            if low <= value <= high:
                if private and self.allow_private:
                    return None
                return f"{reason} {address}"
        if version == 6 and address not in _GLOBAL_UNICAST:
            return f"reserved address {address}"
        return None


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """Return (form, IPv4 address) when the IPv6 address carries an IPv4 one, else None."""
    value = int(address)
    if address in _MAPPED:
        return "IPv4-mapped", IPv4Address(value & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return "6to4", IPv4Address((value >> 80) & 0xFFFFFFFF)
    if address in _NAT64_WELL_KNOWN or address in _NAT64_LOCAL:
        return "NAT64", IPv4Address(value & 0xFFFFFFFF)
    return None


# Full stops that URL parsers (UTS #46) treat as ".".
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_HEX = frozenset("0123456789abcdef")
_OCT = frozenset("01234567")
_DEC = frozenset("0123456789")


def parse_ip_literal(host: str) -> IPv4Address | IPv6Address | None:
    """Return the address a host names as an IP literal in any notation, or None for a name.

    Accepts what inet_aton, getaddrinfo and browsers accept: dotted quads, fewer parts
    (127.1), one number (2130706433), octal (0177.0.0.1) and hex (0x7f.1) parts, a trailing
    dot, percent-encoding, full-width digits, and bracketed or bare IPv6 (with or without
    an embedded dotted quad).
    """
    h = host
    if "%" in h and not (h.startswith("[") or ":" in h):
        h = unquote(h)
    if not h.isascii():
        h = unicodedata.normalize("NFKC", h).translate(_DOTS)
    h = h.lower()
    if h.startswith("[") and h.endswith("]"):
        return _parse_ipv6(h[1:-1])
    if ":" in h:
        return _parse_ipv6(h)
    if h.endswith("."):
        h = h[:-1]
    return _parse_ipv4_loose(h)


def _parse_ipv6(text: str) -> IPv6Address | None:
    text = text.replace("%25", "%")
    try:
        return IPv6Address(text)
    except ValueError:
        return None


def _parse_ipv4_loose(text: str) -> IPv4Address | None:
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or len(text) > 64:
        return None
    numbers: list[int] = []
    for part in parts:
        if part.startswith("0x"):
            digits = part[2:]
            if not set(digits) <= _HEX:
                return None
            numbers.append(int(digits, 16) if digits else 0)
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= _OCT:
                return None
            numbers.append(int(part, 8))
        elif part and set(part) <= _DEC:
            numbers.append(int(part))
        else:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for i, n in enumerate(head):
        value |= n << (8 * (3 - i))
    return IPv4Address(value)


# Names that always mean this machine (RFC 6761, and the usual /etc/hosts aliases).
_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback", "localhost6"})
_LOOPBACK_ADDRESSES = (IPv4Address("127.0.0.1"), IPv6Address("::1"))


def host_blocked(host: str, policy: TargetPolicy) -> str | None:
    """Return why a URL host is refused without resolving it, or None when only DNS can tell."""
    address = parse_ip_literal(host)
    if address is not None:
        return policy.blocked_reason(address)
    name = host.lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        for loopback in _LOOPBACK_ADDRESSES:
            reason = policy.blocked_reason(loopback)
            if reason is not None:
                return f"{name} is a {reason}"
    return None


def literal_host_blocked(url: str, policy: TargetPolicy) -> str | None:
    """Return why the URL's literal host (IP in any notation, or localhost) is refused, or None.

    For validating URLs on input; the checker enforces the same policy again on every
    address it actually connects to.
    """
    try:
        host = URL(url).raw_host
    except (ValueError, TypeError):
        return "invalid URL"
    if not host:
        return "URL has no host"
    return host_blocked(host, policy)
