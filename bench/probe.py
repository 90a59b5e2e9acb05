"""Sequential timed requests over one keep-alive connection (stdlib http.client: ~50 µs of
client overhead, so small server latencies stay visible)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

from bench.report import Samples


class Probe:
    def __init__(self, base_url: str, secret: str | None = None) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.headers = {"Content-Type": "application/json"}
        if secret:
            self.headers["Authorization"] = f"Bearer {secret}"

    def raw(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            self.conn.request(method, path, body=body, headers=self.headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection between runs: reconnect once.
            self.conn.close()
            self.conn.connect()
            self.conn.request(method, path, body=body, headers=self.headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a query that must not fail."""
        status, body = self.raw("POST", "/graphql", graphql_body(query, variables))
        payload = json.loads(body)
        if status != 200 or payload.get("errors"):
            raise RuntimeError(f"query failed ({status}): {body[:500]!r}")
        return payload["data"]

    def time(
        self, method: str, path: str, body: bytes | None, *, n: int, warmup: int = 3
    ) -> Samples:
        for _ in range(warmup):
            self._checked(method, path, body)
        values = []
        for _ in range(n):
            start = time.perf_counter()
            self._checked(method, path, body)
            values.append(time.perf_counter() - start)
        return Samples(values)

    def time_once(self, method: str, path: str, body: bytes | None) -> float:
        start = time.perf_counter()
        self._checked(method, path, body)
        return time.perf_counter() - start

    def _checked(self, method: str, path: str, body: bytes | None) -> bytes:
        status, data = self.raw(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}: {data[:300]!r}")
        return data

    def close(self) -> None:
        self.conn.close()


def graphql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()
