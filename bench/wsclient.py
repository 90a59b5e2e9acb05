"""`python -m bench.wsclient`: one load-generator process holding many websocket subscribers
(graphql-transport-ws), driven by JSON commands on stdin, one reply line each on stdout.

A client this light is deliberate: a subscriber costs a few µs per message here (a regex over
the frame, no JSON parse, no per-connection task), so a handful of these processes keep up with
far more deliveries than one server process sends. Frames are parsed by hand (RFC 6455);
permessage-deflate is offered like a browser offers it (`deflate`), and inflated here.

Commands (`{"cmd": ...}`):
- open: {host, port, secret, query, deflate, parallel, conns: [{subs: [[tag, variables]...],
  never_read}]} -> {opened, failed, seconds, errors}. A `never_read` connection subscribes and
  then never reads again (small receive buffer, reading paused): the server's socket fills up.
- redis: {url, channels} -> subscribe with redis-py to these channels too (the Redis hop alone,
  the floor under the server's latency).
- reset -> forget the latency samples and event log (not which subscriptions were seen).
- stats -> {received, lat_us (base64 array of uint32 µs), pub_ns (their publish times), seen, errors, error_samples, closed,
  open, events (log mode: [tag, typename, role, recv_ns]), redis_received, redis_lat_us, cpu_s}
- close -> close every connection and exit.

Latency: a TextDelta whose text is `b|<n>|<monotonic_ns at publish>|...` yields one sample,
receipt time minus publish time (CLOCK_MONOTONIC is system-wide on Linux). The receipt time is
taken when the frame's bytes reach this process, before parsing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import resource
import socket
import sys
import time
import zlib
from array import array
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

SAMPLE = re.compile(rb'"text":"b\|(\d+)\|(\d+)\|')
TYPENAME = re.compile(rb'"__typename":"(\w+)"')
ROLE = re.compile(rb'"role":"(\w+)"')
OP_ID = re.compile(rb'"id":"([^"]+)"')
ZERO_MASK = b"\x00\x00\x00\x00"  # a valid mask key: the payload goes out unchanged
INFLATE_TAIL = b"\x00\x00\xff\xff"


def frame(payload: bytes, opcode: int = 1) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + ZERO_MASK + payload


class Stats:
    def __init__(self) -> None:
        self.lat_us = array("I")
        self.pub_ns = array("Q")
        self.received = 0
        self.seen: set[str] = set()
        self.errors = 0
        self.error_samples: list[str] = []
        self.closed = 0
        self.events: list[list[Any]] = []
        self.log_events = False
        self.redis_lat_us = array("I")
        self.redis_received = 0

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:300])


class Conn(asyncio.Protocol):
    def __init__(
        self,
        stats: Stats,
        host: str,
        port: int,
        deflate: bool,
        tags: dict[str, str],
        never_read: bool,
    ) -> None:
        self.stats = stats
        self.host, self.port = host, port
        self.deflate_offered = deflate
        self.tags = tags  # operation id -> tag
        self.never_read = never_read
        self.buf = bytearray()
        self.open = False
        self.inflater: Any = None
        self.no_context_takeover = False
        self.fragments: list[bytes] | None = None
        self.fragments_compressed = False
        loop = asyncio.get_running_loop()
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.acked: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    # -- transport callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        extensions = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            if self.deflate_offered
            else ""
        )
        self.transport.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: graphql-transport-ws\r\n{extensions}\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.open:
            self.stats.closed += 1
        for future in (self.upgraded, self.acked):
            if not future.done():
                future.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(head.splitlines()[0]))
                return
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-extensions" and "permessage-deflate" in value:
                    self.inflater = zlib.decompressobj(-15)
                    self.no_context_takeover = "server_no_context_takeover" in value
            self.open = True
            self.upgraded.set_result(None)
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length, pos = b1 & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, pos = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + length:
                return
            payload = bytes(buf[pos : pos + length])
            del buf[: pos + length]
            opcode = b0 & 0x0F
            if opcode == 9:  # ping
                self.transport.write(frame(payload, 10))  # type: ignore[union-attr]
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]
                return
            elif opcode in (0, 1, 2):
                if opcode:
                    self.fragments = [payload]
                    self.fragments_compressed = bool(b0 & 0x40)
                elif self.fragments is not None:
                    self.fragments.append(payload)
                if b0 & 0x80 and self.fragments is not None:
                    message = b"".join(self.fragments)
                    if self.fragments_compressed:
                        if self.no_context_takeover:
                            self.inflater = zlib.decompressobj(-15)
                        message = self.inflater.decompress(message + INFLATE_TAIL)
                    self.fragments = None
                    self.on_message(message, now)

    # -- graphql-transport-ws

    def on_message(self, message: bytes, now: int) -> None:
        stats = self.stats
        if b'"type":"next"' in message:
            op = OP_ID.search(message)
            tag = self.tags.get(op.group(1).decode()) if op else None
            if tag is not None:
                stats.seen.add(tag)
            sample = SAMPLE.search(message)
            if sample is not None:
                stats.received += 1
                published = int(sample.group(2))
                stats.lat_us.append(max(0, (now - published) // 1000))
                stats.pub_ns.append(published)
            if stats.log_events:
                typename = TYPENAME.search(message)
                role = ROLE.search(message)
                stats.events.append([
                    tag,
                    typename.group(1).decode() if typename else None,
                    role.group(1).decode() if role else None,
                    now,
                ])  # fmt: skip
            if b'"errors"' in message:
                stats.error(message.decode(errors="replace"))
            return
        kind = json.loads(message).get("type")
        if kind == "connection_ack":
            if not self.acked.done():
                self.acked.set_result(None)
        elif kind == "ping":
            self.send({"type": "pong"})
        elif kind in ("error", "complete"):
            stats.error(message.decode(errors="replace"))

    def send(self, message: dict[str, Any]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(json.dumps(message, separators=(",", ":")).encode()))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(b"\x03\xe8", 8))
            self.transport.close()


class Client:
    def __init__(self) -> None:
        self.stats = Stats()
        self.conns: list[Conn] = []
        self.redis_tasks: list[asyncio.Task[None]] = []
        self.never_read_ports: list[int] = []

    async def open_one(self, spec: dict[str, Any], conn_spec: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        host, port = spec["host"], int(spec["port"])
        never_read = bool(conn_spec.get("never_read"))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if never_read:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            await loop.sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        subs = conn_spec["subs"]
        tags = {str(i + 1): str(tag) for i, (tag, _) in enumerate(subs)}
        _, conn = await loop.create_connection(
            lambda: Conn(self.stats, host, port, bool(spec.get("deflate")), tags, never_read),
            sock=sock,
        )
        self.conns.append(conn)
        await asyncio.wait_for(conn.upgraded, 60)
        conn.send({"type": "connection_init", "payload": {"apiKey": spec["secret"]}})
        await asyncio.wait_for(conn.acked, 60)
        for i, (_, variables) in enumerate(subs):
            conn.send({
                "id": str(i + 1), "type": "subscribe",
                "payload": {"query": spec["query"], "variables": variables},
            })  # fmt: skip
        if never_read:
            conn.transport.pause_reading()  # type: ignore[union-attr]
            self.never_read_ports.append(sock.getsockname()[1])

    async def open(self, spec: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        semaphore = asyncio.Semaphore(int(spec.get("parallel", 16)))
        errors: list[str] = []
        failed = 0

        async def one(conn_spec: dict[str, Any]) -> None:
            nonlocal failed
            async with semaphore:
                try:
                    await self.open_one(spec, conn_spec)
                except Exception as error:  # noqa: BLE001
                    failed += 1
                    if len(errors) < 5:
                        errors.append(f"{type(error).__name__}: {error}")

        await asyncio.gather(*(one(c) for c in spec["conns"]))
        return {
            "opened": len(spec["conns"]) - failed,
            "failed": failed,
            "seconds": time.perf_counter() - start,
            "errors": errors,
            "ports": self.never_read_ports,
        }

    async def redis(self, spec: dict[str, Any]) -> dict[str, Any]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(spec["url"])
        pubsub = client.pubsub()
        channels = list(spec["channels"])
        for i in range(0, len(channels), 500):
            await pubsub.subscribe(*channels[i : i + 500])
        stats = self.stats

        async def pump() -> None:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None:
                    continue
                now = time.monotonic_ns()
                sample = SAMPLE.search(message["data"])
                if sample is not None:
                    stats.redis_received += 1
                    stats.redis_lat_us.append(max(0, (now - int(sample.group(2))) // 1000))

        self.redis_tasks.append(asyncio.create_task(pump()))
        return {"channels": len(channels)}

    def reset(self, spec: dict[str, Any]) -> dict[str, Any]:
        stats = self.stats
        stats.lat_us = array("I")
        stats.pub_ns = array("Q")
        stats.redis_lat_us = array("I")
        stats.received = stats.redis_received = 0
        stats.events = []
        stats.log_events = bool(spec.get("log_events", stats.log_events))
        if spec.get("forget_seen"):
            stats.seen = set()
        return {}

    def report(self) -> dict[str, Any]:
        stats = self.stats
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "received": stats.received,
            "lat_us": base64.b64encode(stats.lat_us.tobytes()).decode(),
            "pub_ns": base64.b64encode(stats.pub_ns.tobytes()).decode(),
            "redis_received": stats.redis_received,
            "redis_lat_us": base64.b64encode(stats.redis_lat_us.tobytes()).decode(),
            "seen": len(stats.seen),
            "errors": stats.errors,
            "error_samples": stats.error_samples,
            "closed": stats.closed,
            "open": sum(1 for c in self.conns if c.open and not c.lost),
            "events": stats.events,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }

    def close(self) -> dict[str, Any]:
        for conn in self.conns:
            conn.close()
        for task in self.redis_tasks:
            task.cancel()
        return {}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    client = Client()
    out = sys.stdout
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        kind = command["cmd"]
        if kind == "open":
            reply = await client.open(command)
        elif kind == "redis":
            reply = await client.redis(command)
        elif kind == "reset":
            reply = client.reset(command)
        elif kind == "stats":
            reply = client.report()
        elif kind == "close":
            reply = client.close()
            await asyncio.sleep(0.2)
            out.write(json.dumps(reply) + "\n")
            out.flush()
            break
        else:
            reply = {"error": f"unknown command {kind}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if uvloop is not None:
        uvloop.install()
    asyncio.run(main())
