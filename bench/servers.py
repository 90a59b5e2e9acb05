"""Real server processes under uvicorn: `graphql-api serve`, or a bench baseline (bench.serve)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Suites 5-7 drive one API key far past the per-key rate limits (1,200 reads and 30 turns a
#: minute by default), so they turn the limiter off; its cost (one Redis script per operation)
#: is then not in their figures. A huge limit instead would not do: the moving window keeps
#: one Redis list entry per hit, up to the limit.
NO_RATE_LIMITS = {"RATE_LIMIT_ENABLED": "false"}


class Server:
    """One uvicorn process. `variant=None` is the product (`python -m graphql_api serve`)."""

    def __init__(
        self,
        database_url: str,
        *,
        variant: str | None = None,
        env: dict[str, str] | None = None,
        root: Path = ROOT,
    ) -> None:
        """`root`: the checkout whose code the process runs (another one for A/B runs)."""
        self.variant = variant
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.gettempdir()) / f"bench-server-{self.port}.log"
        base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SQL_ECHO")}
        # Access logging off (LOG_LEVEL=WARNING): a log line per request is not what is measured.
        # Rate limits off: one key sends every request, and refusals are not what is measured.
        self.env = {
            **base, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_ENABLED": "false", **(env or {}),
        }  # fmt: skip
        if root != ROOT:  # its graphql_api first; bench itself still comes from this checkout
            self.env["PYTHONPATH"] = os.pathsep.join([str(root), str(ROOT)])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.variant or "graphql-api"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        if self.variant is None:
            return [sys.executable, "-m", "graphql_api", "serve", "--port", str(self.port)]
        return [sys.executable, "-m", "bench.serve", self.variant, "--port", str(self.port)]

    def start(self, timeout: float = 30.0) -> Server:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(), cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 120.0, quiet: float = 0.5) -> None:
        """Wait until the process stops burning CPU: a load generator that stops leaves
        requests in flight, and the server finishes them (a GraphQL execution is not cancelled
        when its client goes away). The next measurement must not pay for them."""
        deadline = time.monotonic() + timeout
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.cpu_seconds()
            if now - last < quiet * 0.05:
                return
            last = now

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def running(
    database_url: str, variants: Sequence[str | None], env: dict[str, str] | None = None
) -> Iterator[list[Server]]:
    """Start one process per variant (None = the product) and stop them all after."""
    with ExitStack() as stack:
        servers = []
        for variant in variants:
            server = Server(database_url, variant=variant, env=env)
            stack.callback(server.stop)
            servers.append(server.start())
        yield servers
