"""A small DNS server on loopback (asyncio UDP, messages built with dnspython) for tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class DnsServer:
    """Answers from a table {(name, type): [values]}; names in `servfail` fail, others NXDOMAIN.

    Names in `silent` get no answer at all (for timeouts).
    """

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    servfail: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    port: int = 0
    queries: int = 0
    _transport: asyncio.DatagramTransport | None = None

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        server = self

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                server._transport = transport  # type: ignore[assignment]

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                reply = server._answer(data)
                if reply is not None and server._transport is not None:
                    server._transport.sendto(reply, addr)

        transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", 0))
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def _answer(self, data: bytes) -> bytes | None:
        self.queries += 1
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rtype = dns.rdatatype.to_text(question.rdtype)
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif (name, rtype) in self.records:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, 60, "IN", rtype, self.records[(name, rtype)]
                )
            )
        elif not any(n == name for n, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
