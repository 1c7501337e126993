"""The app's server: responses leave without waiting for Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket
from asyncio import base_events

from kb.web import server


def _nodelay_of_an_accepted_connection() -> int:
    """TCP_NODELAY of a connection accepted on a socket bound the way Streamlit binds it (protocol 0)."""
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def run() -> None:
        listener = socket.socket(family=socket.AF_INET)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        served = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        served.close()

    asyncio.run(run())
    return seen[0]


def test_connections_the_app_accepts_send_without_delay(monkeypatch):
    monkeypatch.setattr(base_events, "_set_nodelay", base_events._set_nodelay)  # restored afterwards
    server.send_without_delay()
    server.send_without_delay()  # twice is once
    assert _nodelay_of_an_accepted_connection() != 0
