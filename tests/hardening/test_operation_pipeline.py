"""Queries and mutations run their steps directly (api/operation_pipeline.py): the same
answers, headers, log lines and metrics as through Strawberry's extension runner.

Each case runs twice, on fresh apps: once as served (direct) and once with the schema sent
through Strawberry's own `execute` and its extensions. Only durations (and the seconds a rate
limit says to wait) may differ.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from strawberry import Schema
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from graphql_api.api.schema import schema
from tests.hardening.conftest import one_window_ahead

PROBE = "query Probe { viewer { sessionCount } }"
TOO_DEEP = "query TooDeep { sessions { edges { node { " + "parent { " * 14 + "id" + " }" * 18
UNKNOWN_SESSION = "U2Vzc2lvbjowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA="
ARCHIVE = "mutation Archive($id: ID!) { archiveSession(input: {id: $id}) { session { id } } }"
ARCHIVE_LITERAL = 'mutation Archive { archiveSession(input: {id: "x"}) { session { id } } }'
EVENTS = "subscription Events($id: ID!) { sessionEvents(sessionId: $id) { sequence } }"
WATCHED_LOGS = ("graphql_api.operations", "graphql_api.errors", "graphql_api.rate_limits")
LOGGED = ("requestId", "keyId", "operationType", "operationName", "outcome", "errorCodes")


@dataclass
class Case:
    """Requests sent in turn to one fresh app (with `settings`); all their outcomes compared."""

    requests: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    #: Done to the app before the requests (to make a step fail, say).
    prepare: Callable[[Any], None] | None = None
    #: Whether the operation reaches the schema's `execute` (oversized ones are refused first).
    executes: bool = True


def post(query: Any, variables: Any = None, **body: Any) -> dict[str, Any]:
    return {"method": "POST", "json": {"query": query, "variables": variables, **body}}


def get(query: str) -> dict[str, Any]:
    return {"method": "GET", "params": {"query": query}}


def failing_rate_limiter(app: Any) -> None:
    async def spend(*_: Any) -> None:
        raise RuntimeError("the limiter broke")

    app.services.rate_limiter.spend = spend


PAGE = "query Page($n: Int!) { sessions(first: $n) { totalCount } }"

CASES: dict[str, Case] = {
    "good query": Case([post(PROBE)]),
    "good query over GET": Case([get(PROBE)]),
    "query with variables": Case([post(PAGE, {"n": 3})]),
    "anonymous query": Case([{**post(PROBE), "anonymous": True}]),
    "not found": Case(
        [post("query One($id: ID!) { session(id: $id) { id } }", {"id": UNKNOWN_SESSION})]
    ),
    "mutation": Case([post(ARCHIVE, {"id": UNKNOWN_SESSION})]),
    "two operations, none named": Case([post(PROBE + " query Second { __typename }")]),
    "subscription over HTTP": Case([post(EVENTS, {"id": UNKNOWN_SESSION})]),
    "syntax error": Case([post("query Broken { viewer { ")]),
    "too many tokens": Case(
        [post("{ viewer { " + "sessionCount " * 30 + "} }")], {"max_query_tokens": 20}
    ),
    "validation error": Case([post("query Wrong { nope }")]),
    "too deep": Case([post(TOO_DEEP)]),
    "introspection off": Case(
        [post("{ __schema { queryType { name } } }")], {"allow_introspection": False}
    ),
    "variable that does not coerce": Case([post(PAGE, {"n": "x"})]),
    "too costly": Case(
        [post("query Big { sessions(first: 10) { totalCount } }")], {"max_query_cost": 5}
    ),
    "too costly by a variable": Case([post(PAGE, {"n": 10})], {"max_query_cost": 5}),
    "rate limited": Case([post(PROBE)] * 3, {"rate_limit_reads": "2/minute"}),
    "mutation rate limited": Case(
        [post(ARCHIVE, {"id": UNKNOWN_SESSION})] * 2, {"rate_limit_mutations": "1/minute"}
    ),
    "a step fails": Case([post(PROBE)], prepare=failing_rate_limiter),
    "mutation over GET refused": Case([get(ARCHIVE_LITERAL)]),
    "unknown operation name": Case([post(PROBE, operationName="Other")]),
    "no query": Case([post(None)]),
    "too large": Case([post(PROBE + " " * 300)], {"max_query_bytes": 200}, executes=False),
}


@dataclass
class Outcome:
    answers: list[Any]
    logs: list[Any]
    metrics: list[Any]


def normalized(text: str) -> str:
    """Waits a rate limit asks for depend on the clock; everything else must match."""
    text = re.sub(r"retry in \d+ s", "retry in 1 s", text)
    return re.sub(r'"retryAfter": ?\d+', '"retryAfter": 1', text)


async def outcome_of(
    app_with: Callable[..., Awaitable[Any]],
    secret: str,
    case: Case,
    caplog: pytest.LogCaptureFixture,
) -> Outcome:
    app = await app_with(**case.settings)
    if case.prepare is not None:
        case.prepare(app)
    metrics: list[Any] = []
    observe = app.services.metrics.observe_operation

    def recording(operation_type: str, name: str | None, outcome: str, seconds: Any) -> None:
        metrics.append((operation_type, name, outcome, seconds is None))
        observe(operation_type, name, outcome, seconds)

    app.services.metrics.observe_operation = recording
    answers = []
    if "rate_limit_reads" in case.settings:
        await one_window_ahead(60, needed=10)
    caplog.clear()
    for number, request in enumerate(case.requests):
        headers = {"X-Request-Id": f"request-{number}"}
        if not request.get("anonymous"):
            headers["Authorization"] = f"Bearer {secret}"
        response = await app.http.request(
            request["method"], "/graphql", headers=headers,
            json=request.get("json"), params=request.get("params"),
        )  # fmt: skip
        answers.append(
            (
                response.status_code,
                normalized(response.text),
                response.headers.get("x-request-id"),
                "retry-after" in response.headers,
                response.headers.get("content-type"),
            )
        )
    logs = [
        (
            record.name,
            record.levelname,
            # the operation line's message without its duration, and its fields
            record.args[:3] if record.name == "graphql_api.operations" else record.getMessage(),
            {name: getattr(record, name, None) for name in LOGGED},
        )
        for record in caplog.records
        if record.name in WATCHED_LOGS
    ]
    return Outcome(answers, logs, metrics)


@pytest.fixture
def extension_runners(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The operations Strawberry's extension runner was made for."""
    made: list[Any] = []
    create = Schema.create_extensions_runner

    def counting(self: Schema, execution_context: Any, extensions: Any) -> Any:
        made.append(execution_context.query)
        return create(self, execution_context, extensions)

    monkeypatch.setattr(Schema, "create_extensions_runner", counting)
    return made


@pytest.mark.parametrize("name", list(CASES))
async def test_direct_and_extension_paths_agree(
    name, app_with, new_key, caplog, monkeypatch, extension_runners
):
    case = CASES[name]
    _, secret = await new_key()
    caplog.set_level(logging.INFO, logger="graphql_api")

    assert schema.runs_directly
    direct = await outcome_of(app_with, secret, case, caplog)
    assert extension_runners == []  # served without Strawberry's extension runner

    monkeypatch.setattr(schema, "runs_directly", False)
    through_extensions = await outcome_of(app_with, secret, case, caplog)
    assert len(extension_runners) == (len(case.requests) if case.executes else 0)

    assert direct.answers == through_extensions.answers
    assert direct.logs == through_extensions.logs
    assert direct.metrics == through_extensions.metrics
    assert direct.logs, "every operation logs a line"


async def test_the_cases_end_as_named(app_with, new_key, caplog):
    """The comparison above means something only if the cases end as they are named."""
    _, secret = await new_key()
    caplog.set_level(logging.INFO, logger="graphql_api")
    names = (
        "good query", "syntax error", "validation error", "too costly", "rate limited",
        "mutation over GET refused", "a step fails",
    )  # fmt: skip
    outcomes = {name: await outcome_of(app_with, secret, CASES[name], caplog) for name in names}

    def last(name: str) -> Any:
        status, text, *_ = outcomes[name].answers[-1]
        return json.loads(text) if status == 200 else status

    def code(name: str) -> str | None:
        body = last(name)
        return body["errors"][0]["extensions"]["code"] if body.get("errors") else None

    def outcome_logged(name: str) -> str:
        return outcomes[name].logs[-1][3]["outcome"]

    assert code("good query") is None and last("good query")["data"]["viewer"]["sessionCount"] == 0
    assert outcome_logged("good query") == "ok"
    assert code("syntax error") == outcome_logged("syntax error") == "GRAPHQL_PARSE_FAILED"
    assert code("validation error") == "GRAPHQL_VALIDATION_FAILED"
    assert code("too costly") == outcome_logged("too costly") == "QUERY_TOO_COMPLEX"
    assert code("rate limited") == outcome_logged("rate limited") == "RATE_LIMITED"
    assert outcomes["rate limited"].answers[-1][3]  # Retry-After
    assert last("mutation over GET refused") == 400
    assert outcome_logged("mutation over GET refused") == "INTERNAL"
    assert code("a step fails") == "INTERNAL"
    assert [log[0] for log in outcomes["a step fails"].logs] == [
        "graphql_api.operations",
        "graphql_api.errors",
    ]


# ------------------------------------------------- the schema called directly, without settings


async def run_both(monkeypatch: pytest.MonkeyPatch, call: Callable[[], Awaitable[Any]]) -> Any:
    """`call` as served, then through Strawberry's path: the same result or the same error."""

    async def attempt() -> Any:
        try:
            result = await call()
        except Exception as error:  # noqa: BLE001
            return type(error), str(error)
        errors = [error.formatted for error in result.errors or ()]
        return type(result), result.data, errors, result.extensions

    direct = await attempt()
    with monkeypatch.context() as patch:
        patch.setattr(schema, "runs_directly", False)
        through_extensions = await attempt()
    assert direct == through_extensions
    return direct


async def test_without_a_context_both_paths_agree(monkeypatch, extension_runners):
    typename = await run_both(monkeypatch, lambda: schema.execute("{ __typename }"))
    assert typename[1] == {"__typename": "Query"}
    syntax = await run_both(monkeypatch, lambda: schema.execute("{ __typename"))
    assert syntax[2][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    invalid = await run_both(monkeypatch, lambda: schema.execute("{ nope }"))
    assert invalid[2][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # No settings: no caps (this would be far too deep and costly for the served settings).
    deep = "{ sessions(first: 100) { edges { node { " + "parent { " * 20 + "id" + " }" * 23
    unlimited = await run_both(monkeypatch, lambda: schema.execute(deep))
    assert unlimited[2][0]["extensions"]["code"] != "QUERY_TOO_COMPLEX"

    missing = await run_both(monkeypatch, lambda: schema.execute(None))
    assert missing[0] is MissingQueryError
    unknown = await run_both(
        monkeypatch, lambda: schema.execute("query A { __typename }", operation_name="B")
    )
    assert unknown[0] is CannotGetOperationTypeError
    refused = await run_both(
        monkeypatch,
        lambda: schema.execute(
            "mutation { __typename }", allowed_operation_types={OperationType.QUERY}
        ),
    )
    assert refused[0] is InvalidOperationTypeError
    # Each call above went through the extension runner exactly once: on Strawberry's path.
    assert len(extension_runners) == 7
