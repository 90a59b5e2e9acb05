"""The `graphql-api` command, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.servers import ROOT, running_server


def run_cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "graphql_api", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "WORKSPACE_ROOT": str(tmp_path / "ws"),
        "REDIS_URL": "",
    }


def graphql(url: str, secret: str, query: str) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query}, headers={"X-API-Key": secret})
    return response.json()


def test_embedded_serve_prints_first_admin_key_then_seed_and_keys(embedded_env):
    with running_server(embedded_env) as server:
        log = server.log()
        assert "/graphql" in log
        admin_secret = log.split("store it now):", 1)[1].split()[0]
        assert admin_secret.startswith("gak_")
        body = graphql(server.url, admin_secret, "{ viewer { apiKey { name isAdmin } } }")
        assert body["data"]["viewer"]["apiKey"] == {"name": "admin", "isAdmin": True}

        secret = run_cli("create-api-key", "--name", "alice", env=embedded_env).strip().splitlines()[-1]
        seeded = run_cli("seed", "--sessions", "3", "--messages", "4", "--key-name", "bob", env=embedded_env)
        bob_secret = seeded.strip().splitlines()[-1]
        body = graphql(server.url, secret, "{ viewer { apiKey { name } sessionCount } }")
        assert body["data"]["viewer"] == {"apiKey": {"name": "alice"}, "sessionCount": 0}
        body = graphql(server.url, bob_secret, "{ sessions { totalCount edges { node { messages { totalCount } } } } }")
        assert body["data"]["sessions"]["totalCount"] == 3
        assert {e["node"]["messages"]["totalCount"] for e in body["data"]["sessions"]["edges"]} == {4}
    # A second start prints no new key.
    with running_server(embedded_env) as server:
        assert "store it now" not in server.log()


def test_migrate_and_export_schema(embedded_env, tmp_path):
    assert "head" in run_cli("migrate", env=embedded_env)
    out = tmp_path / "schema.graphql"
    run_cli("export-schema", "--output", str(out), env=embedded_env)
    assert out.read_text() == (ROOT / "schema.graphql").read_text()
