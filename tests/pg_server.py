"""A private PostgreSQL cluster on a free port, for tests that stop and restart PostgreSQL.

The machine's shared PostgreSQL (5432) serves other test runs at the same time; tests that
restart PostgreSQL restart their own. PostgreSQL refuses to run as root, so when the tests run
as root the cluster belongs to the `postgres` user (its directory is handed over to it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import free_port


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries (pg_ctl) found")
    return candidates[0].parent


class PostgresServer:
    """initdb + pg_ctl: `start()`, `stop(mode)` and `start()` again on the same port and data."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="gapi-pg-"))
        self.data = self.root / "data"
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self._as: list[str] = []
        if os.getuid() == 0:
            self.user = "postgres"
            self._as = ["runuser", "-u", "postgres", "--"]
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        self.log_path = self.root / "postgres.log"
        self.initialised = False

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        done = subprocess.run(
            [*self._as, *args], timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')}\n{log}"
            )

    def start(self) -> PostgresServer:
        if not self.initialised:
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                "--no-sync", "-E", "UTF8",
            )  # fmt: skip
            self.initialised = True
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.log_path), "-w", "-t", "30", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects every client and shuts down cleanly; `immediate` is a crash."""
        if not (self.data / "postmaster.pid").exists():
            return
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"
        )

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
