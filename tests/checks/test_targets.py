"""The SSRF policy over addresses, IP-literal notations and URL hosts."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest

from betteruptime.checks.targets import TargetPolicy, literal_host_blocked, parse_ip_literal

DEFAULT = TargetPolicy()
PRIVATE_OK = TargetPolicy(allow_private=True)

# (address, a word the default policy's reason must contain)
BLOCKED_BY_DEFAULT = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.1.1", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.255", "CGNAT"),
    ("198.18.0.1", "benchmarking"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("0.0.0.0", "this-network"),
    ("0.1.2.3", "this-network"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.0.8", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:2::1", "benchmarking"),
    ("::127.0.0.1", "reserved"),  # IPv4-compatible
    ("::8.8.8.8", "reserved"),  # IPv4-compatible, even of a public address
    ("4000::1", "reserved"),  # outside 2000::/3
    # Cloud metadata
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),
    ("168.63.129.16", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("fd20:ce::254", "metadata"),
    # Embedded IPv4 in IPv6 forms
    ("::ffff:127.0.0.1", "IPv4-mapped form of loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped form of private"),
    ("::ffff:169.254.169.254", "IPv4-mapped form of cloud metadata"),
    ("2002:7f00:1::", "6to4 form of loopback"),
    ("2002:a9fe:a9fe::1", "6to4 form of cloud metadata"),
    ("64:ff9b::7f00:1", "NAT64 form of loopback"),
    ("64:ff9b::a00:1", "NAT64 form of private"),
    ("64:ff9b:1::7f00:1", "NAT64 form of loopback"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # mapped public: the same as connecting to 8.8.8.8
    "2002:808:808::1",  # 6to4 of a public address
    "64:ff9b::808:808",  # well-known NAT64 prefix of a public address
]


@pytest.mark.parametrize(("address", "word"), BLOCKED_BY_DEFAULT)
def test_default_policy_blocks_each_category(address: str, word: str) -> None:
    reason = DEFAULT.blocked_reason(ip_address(address))
    assert reason is not None
    assert word.lower() in reason.lower()


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert DEFAULT.blocked_reason(ip_address(address)) is None
    assert PRIVATE_OK.blocked_reason(ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "192.168.0.10",
        "172.20.0.1",
        "169.254.10.10",
        "100.64.1.1",
        "::1",
        "fd12::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "2002:c0a8:1::",
        "64:ff9b:1::808:808",
    ],
)
def test_allow_private_lifts_private_ranges(address: str) -> None:
    assert PRIVATE_OK.blocked_reason(ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)
def test_allow_private_keeps_metadata_and_non_targets_blocked(address: str) -> None:
    assert PRIVATE_OK.blocked_reason(ip_address(address)) is not None


def test_allowed_networks_allow_only_what_they_list() -> None:
    policy = TargetPolicy(allowed_networks=(ip_network("10.1.0.0/16"), ip_network("fd00:1::/64")))
    assert policy.blocked_reason(IPv4Address("10.1.2.3")) is None
    assert policy.blocked_reason(IPv6Address("fd00:1::5")) is None
    assert policy.blocked_reason(IPv6Address("::ffff:10.1.2.3")) is None  # mapped form follows
    assert policy.blocked_reason(IPv4Address("10.2.0.1")) is not None
    assert policy.blocked_reason(IPv4Address("127.0.0.1")) is not None
    assert policy.blocked_reason(IPv4Address("169.254.169.254")) is not None
    assert policy.blocked_reason(IPv4Address("8.8.8.8")) is None


def test_metadata_is_allowed_only_when_a_listed_network_contains_it() -> None:
    metadata = IPv4Address("169.254.169.254")
    assert TargetPolicy(allow_private=True).blocked_reason(metadata) is not None
    listed = TargetPolicy(allowed_networks=(ip_network("169.254.169.254/32"),))
    assert listed.blocked_reason(metadata) is None
    assert listed.blocked_reason(IPv4Address("169.254.169.253")) is not None


def test_policy_is_hashable_and_comparable() -> None:
    a = TargetPolicy(allowed_networks=(ip_network("10.0.0.0/8"),))
    b = TargetPolicy(allowed_networks=(ip_network("10.0.0.0/8"),))
    assert a == b
    assert hash(a) == hash(b)


LOOPBACK_NOTATIONS = [
    "127.0.0.1",
    "2130706433",
    "0x7f000001",
    "0X7F000001",
    "0x7f.1",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "0177.1",
    "017700000001",
    "127.1",
    "127.0.1",
    "127.0.0.1.",
    "%31%32%37.0.0.1",
    "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # full-width digits
    "127\u30020\u30020\u30021",  # ideographic full stops
    "0x7f.0x0.0x0.0x1",
    "0x7F.00.0.01",
]


@pytest.mark.parametrize("host", LOOPBACK_NOTATIONS)
def test_parse_ip_literal_reads_every_ipv4_notation(host: str) -> None:
    assert parse_ip_literal(host) == IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
        ("[FD00:EC2::254]", "fd00:ec2::254"),
        ("[fe80::1%25eth0]", "fe80::1%eth0"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.65535", "1.2.255.255"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
    ],
)
def test_parse_ip_literal_values(host: str, expected: str) -> None:
    assert parse_ip_literal(host) == ip_address(expected)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "",
        "1.2.3.4.5",
        "256.0.0.1",
        "4294967296",
        "1.2.3.256",
        "1.256.3",
        "08.0.0.1",  # 8 is not an octal digit
        "0x1g.0.0.1",
        "1..2.3",
        "[::1",
        "[not-an-ip]",
        "1.2.3.4x",
        "0x7f.example",
        "9" * 100,
    ],
)
def test_parse_ip_literal_rejects_names_and_invalid_numbers(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1:8080/x",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]:80/",
        "http://user:pw@10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://0.0.0.0/",
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
    ],
)
def test_literal_host_blocked_refuses_literal_private_hosts(url: str) -> None:
    reason = literal_host_blocked(url, DEFAULT)
    assert reason is not None


@pytest.mark.parametrize(
    "url", ["https://example.com/", "http://8.8.8.8/", "http://[2606:4700:4700::1111]/"]
)
def test_literal_host_blocked_allows_public_and_names(url: str) -> None:
    assert literal_host_blocked(url, DEFAULT) is None


def test_literal_host_blocked_follows_the_policy() -> None:
    assert literal_host_blocked("http://127.0.0.1:8000/", PRIVATE_OK) is None
    assert literal_host_blocked("http://localhost:8000/", PRIVATE_OK) is None
    assert literal_host_blocked("http://169.254.169.254/", PRIVATE_OK) is not None
    allowed = TargetPolicy(allowed_networks=(ip_network("10.0.0.0/24"),))
    assert literal_host_blocked("http://10.0.0.5/", allowed) is None
    assert literal_host_blocked("http://10.0.1.5/", allowed) is not None


def test_literal_host_blocked_never_echoes_credentials() -> None:
    reason = literal_host_blocked("http://admin:hunter2@127.0.0.1/", DEFAULT)
    assert reason is not None
    assert "hunter2" not in reason
    assert "admin" not in reason


def test_literal_host_blocked_reports_urls_without_host() -> None:
    assert literal_host_blocked("http:///path", DEFAULT) is not None
