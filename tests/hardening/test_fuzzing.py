"""Schemathesis fuzzes /graphql of a real server with a real key: every query and mutation
root field, with generated arguments. No answer may be a 5xx or carry the INTERNAL code.

The number of examples per root field is bounded (FUZZ_EXAMPLES, default 20) so the run stays
well under a minute per backend; raise it locally for a deeper search.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.servers import ROOT, ServerProcess, running_server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

_json_scalars = st.one_of(
    st.none().map(lambda _: nodes.Null),
    st.booleans().map(nodes.Boolean),
    st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    st.text(max_size=20).map(nodes.String),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(nodes.List),
        st.dictionaries(
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), inner, max_size=4
        ).map(
            lambda d: nodes.Object(
                [
                    graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v)
                    for k, v in d.items()
                ]
            )
        ),
    ),
    max_leaves=8,
)
schemathesis.graphql.scalar("JSON", _json_values)


@pytest.fixture(scope="module")
def fuzz_target(database_url: str, tmp_path_factory: Any) -> Iterator[tuple[ServerProcess, str]]:
    """A server with budgets that fuzzing cannot exhaust, and a (non-admin) key for it."""
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": "", "AGENT_BACKEND": "demo",
        "LOG_LEVEL": "WARNING", "RATE_LIMIT_ENABLED": "false",
        "WORKSPACE_ROOT": str(tmp_path_factory.mktemp("fuzz-workspaces")),
    }  # fmt: skip
    created = subprocess.run(
        [sys.executable, "-m", "graphql_api", "create-api-key", "--name", "fuzz"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    secret = created.stdout.strip().splitlines()[-1]
    with running_server(env) as server:
        yield server, secret


def error_codes(body: Any) -> list[str]:
    errors = (body.get("errors") or []) if isinstance(body, dict) else []
    return [str((e.get("extensions") or {}).get("code")) for e in errors]


def real_ids(server: ServerProcess, auth: dict[str, str]) -> list[str]:
    ids = []
    for variables in ({"title": "fuzzed"}, {"title": "fuzzed with a turn", "prompt": "hello"}):
        response = httpx.post(
            f"{server.url}/graphql", headers=auth, timeout=30,
            json={"query": CREATE, "variables": {"input": variables}},
        )  # fmt: skip
        created = response.json()["data"]["createSession"]
        ids.append(created["session"]["id"])
        if created["turn"]:
            ids.append(created["turn"]["id"])
    return ids


CREATE = "mutation($input: CreateSessionInput!) { createSession(input: $input) { session { id } turn { id } } }"


def test_no_generated_input_makes_the_server_fail(fuzz_target: tuple[ServerProcess, str]) -> None:
    server, secret = fuzz_target
    auth = {"Authorization": f"Bearer {secret}"}
    # Real IDs of this key's objects, so generated mutations get past ID checks and reach the
    # domain rules; random strings keep testing the checks themselves.
    schemathesis.graphql.scalar(
        "ID",
        st.one_of(st.sampled_from(real_ids(server, auth)), st.text(max_size=30)).map(nodes.String),
    )
    loaded = schemathesis.graphql.from_url(f"{server.url}/graphql", headers=auth)
    failures: list[str] = []
    fuzzed = 0
    for result in loaded.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(case=operation.as_strategy(headers=auth))
        def answers_without_failing(case: Any) -> None:
            response = case.call(headers=auth, timeout=30)
            assert response.status_code < 500, (case.body, response.text)
            body = response.json()
            codes = error_codes(body)
            assert "INTERNAL" not in codes, (case.body, body)
            assert "None" not in codes, (case.body, body)  # every error carries a code

        try:
            answers_without_failing()
        except AssertionError as failure:
            failures.append(f"{operation.label}: {failure}")
        fuzzed += 1
    assert fuzzed >= 20  # every query and mutation root field was fuzzed
    assert not failures, "\n".join(failures) + "\n" + server.log()[-5000:]
