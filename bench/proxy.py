"""`python -m bench.proxy --port P --backend HOST:PORT [--backend ...]`: a tiny TCP round-robin
proxy (asyncio Protocols on uvloop), what a load balancer in front of server instances does.

Each accepted connection goes to the next backend in turn and stays there (HTTP keep-alive
connections therefore spread evenly over the backends, as with a layer-4 balancer). Bytes are
relayed as they come, with flow control both ways. Prints `listening <port>` when ready.
Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


class _Half(asyncio.Protocol):
    """One side of a relayed connection; `peer` is the other side's transport."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.partner: _Half | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
            self.peer.write(data)

    def attach(self, peer: asyncio.Transport) -> None:
        self.peer = peer
        for chunk in self.pending:
            peer.write(chunk)
        self.pending.clear()

    # the peer's buffer is full: stop reading here; it drained: read again
    def pause_writing(self) -> None:
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.resume_reading()

    def eof_received(self) -> bool | None:
        if self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()


class _Client(_Half):
    def __init__(self, backends: itertools.cycle) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.backends = backends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        host, port = next(self.backends)
        asyncio.get_running_loop().create_task(self._connect(host, port))

    async def _connect(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        upstream = _Half()
        try:
            transport, _ = await loop.create_connection(lambda: upstream, host, port)
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        upstream.partner, self.partner = self, upstream
        upstream.attach(self.transport)  # type: ignore[arg-type]
        self.attach(transport)  # type: ignore[arg-type]
        if self.transport is not None and self.transport.is_closing():
            transport.close()


async def serve(port: int, backends: list[tuple[str, int]]) -> None:
    loop = asyncio.get_running_loop()
    cycle = itertools.cycle(backends)
    server = await loop.create_server(lambda: _Client(cycle), "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backend", action="append", required=True, help="HOST:PORT (repeat)")
    args = parser.parse_args()
    backends = []
    for spec in args.backend:
        host, _, port = spec.rpartition(":")
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("loopback backends only")
        backends.append((host, int(port)))
    if uvloop is not None:
        uvloop.install()
    asyncio.run(serve(args.port, backends))


if __name__ == "__main__":
    main()
