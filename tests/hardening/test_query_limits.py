"""Query limits: oversized, too many tokens, too deep, too many aliases and too costly
documents are refused with QUERY_TOO_COMPLEX before anything runs; real client queries pass."""

from __future__ import annotations

from typing import Any

from graphql import get_introspection_query
from sqlalchemy import event

from graphql_api.store.seed import insert_sessions
from tests.api.test_nested_page import NESTED
from tests.conftest import StatementCounter
from tests.hardening.conftest import code_of


def deep_query(depth: int) -> str:
    """`sessions > edges > node` then `parent` until the document nests `depth` fields."""
    inner = "id"
    for _ in range(depth - 4):
        inner = f"parent {{ {inner} }}"
    return f"{{ sessions(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


def aliased_query(count: int) -> str:
    return "{ " + " ".join(f"a{i}: serverInfo {{ version }}" for i in range(count)) + " }"


THREE_DEEP = """query Deep($n: Int) {
  sessions(first: $n) { edges { node {
    forks(first: $n) { edges { node {
      messages(first: $n) { edges { node { id sequence } } }
    } } }
  } } }
}"""


def assert_too_complex(body: dict[str, Any], kind: str, limit: int | None = None) -> dict[str, Any]:
    assert body.get("data") is None, body
    [error] = body["errors"]
    extensions = error["extensions"]
    assert extensions["code"] == "QUERY_TOO_COMPLEX", error
    assert extensions["kind"] == kind, error
    if limit is not None:
        assert extensions["limit"] == limit, error
    if "actual" in extensions:
        assert extensions["actual"] > extensions["limit"], error
    return extensions


async def test_a_query_50_deep_is_refused_before_any_statement_runs(app_with, new_key):
    app = await app_with()
    _, secret = await new_key()
    client = app.client(secret)
    await client.data("{ viewer { sessionCount } }")  # authenticated (and cached) now
    counter = StatementCounter()
    engine = app.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        with counter:
            body = await client.execute(deep_query(50))
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    extensions = assert_too_complex(body, "depth", limit=15)
    assert extensions["actual"] == 50
    assert counter.statements == []
    # Within the limit the same shape runs.
    assert (await client.data(deep_query(15)))["sessions"]["edges"] == []


async def test_a_thousand_aliases_are_refused(app_with, new_key):
    _, secret = await new_key()
    default = (await app_with()).client(secret)
    # With the default settings the parser stops first: 1,000 aliased fields are 5,000 tokens.
    assert_too_complex(await default.execute(aliased_query(1000)), "tokens", limit=2000)
    # Let the tokens through and the alias rule counts them all.
    roomy = (await app_with(max_query_tokens=100_000, max_query_bytes=1_000_000)).client(secret)
    extensions = assert_too_complex(await roomy.execute(aliased_query(1000)), "aliases", limit=50)
    assert extensions["actual"] == 1000
    assert len(await roomy.data(aliased_query(50))) == 50


async def test_a_one_megabyte_document_is_refused_unparsed(app_with, new_key):
    _, secret = await new_key()
    client = (await app_with()).client(secret)
    padding = "#" + "x" * (1024 * 1024) + "\n"
    body = await client.execute(padding + "{ viewer { sessionCount } }")
    extensions = assert_too_complex(body, "bytes", limit=65_536)
    assert extensions["actual"] == 1024 * 1024 + 2 + len("{ viewer { sessionCount } }")
    # Bytes, not characters: 20,000 three-byte characters are 60,000 bytes and pass ...
    fits = "{ serverInfo { version } } # " + "€" * 20_000
    assert (await client.data(fits))["serverInfo"]["version"]
    # ... 22,000 of them (66,000 bytes) do not.
    assert_too_complex(await client.execute(fits + "€" * 2_000), "bytes")


async def test_first_a_million_three_deep_is_refused_literal_or_variable(app_with, new_key):
    _, secret = await new_key()
    client = (await app_with()).client(secret)
    literal = THREE_DEEP.replace("($n: Int)", "").replace("$n", "1000000")
    extensions = assert_too_complex(await client.execute(literal), "cost", limit=50_000)
    # Page sizes count up to MAX_PAGE_SIZE (100): the fields refuse more by themselves.
    assert extensions["actual"] == 1 + 3 * 100 + 3 * 100**2 + 4 * 100**3
    # The cost follows the variables of each request, though validation of this document is
    # cached after its first use.
    assert (await client.data(THREE_DEEP, {"n": 2}))["sessions"]["edges"] == []
    assert_too_complex(await client.execute(THREE_DEEP, {"n": 1_000_000}), "cost")
    # cost = 1 + 3n + 3n^2 + 4n^3: 33,261 for n = 20, 64,451 for n = 25.
    assert (await client.data(THREE_DEEP, {"n": 20}))["sessions"]["edges"] == []
    extensions = assert_too_complex(await client.execute(THREE_DEEP, {"n": 25}), "cost")
    assert extensions["actual"] == 64_451
    # Without first/last a connection costs the default page size (20).
    assert (await client.data(THREE_DEEP, {}))["sessions"]["edges"] == []
    # A single level past MAX_PAGE_SIZE but cheap is the resolver's BAD_USER_INPUT, as before.
    error = await client.error("{ sessions(first: 1000) { totalCount } }")
    assert code_of(error) == "BAD_USER_INPUT"


async def test_too_many_tokens_are_refused(app_with, new_key):
    _, secret = await new_key()
    client = (await app_with()).client(secret)
    body = await client.execute("{ viewer { " + "sessionCount " * 2_500 + "} }")
    assert_too_complex(body, "tokens", limit=2000)


async def test_the_nested_client_page_50_by_20_passes(app_with, new_key):
    key_id, secret = await new_key()
    app = await app_with()
    await insert_sessions(app.services.db, key_id, 50, 20)
    data = await app.client(secret).data(NESTED, {"sessions": 50, "messages": 20})
    edges = data["sessions"]["edges"]
    assert len(edges) == 50
    assert all(len(e["node"]["messages"]["edges"]) == 20 for e in edges)


async def test_limits_follow_each_request_settings_while_caches_are_shared(app_with, new_key):
    _, secret = await new_key()
    strict = (await app_with(max_query_depth=3, max_query_cost=10)).client(secret)
    default = (await app_with()).client(secret)
    query = "{ sessions(first: 5) { edges { node { id } } } }"  # depth 4, cost 1 + 5 * 3
    assert_too_complex(await strict.execute(query), "depth", limit=3)
    assert (await default.data(query))["sessions"]["edges"] == []
    assert_too_complex(await strict.execute(query), "depth", limit=3)
    shallow = "{ sessions(first: 5) { totalCount } }"  # depth 2, cost 6
    assert (await strict.data(shallow))["sessions"]["totalCount"] == 0
    assert_too_complex(await strict.execute("{ sessions(first: 10) { totalCount } }"), "cost", 10)


async def test_introspection_can_be_switched_off(app_with, new_key):
    _, secret = await new_key()
    introspection = get_introspection_query(descriptions=True)
    allowed = (await app_with()).client(secret)
    types = (await allowed.data(introspection))["__schema"]["types"]
    assert any(t["name"] == "Session" for t in types)  # the full query fits the depth limit
    closed = (await app_with(allow_introspection=False)).client(secret)
    error = await closed.error(introspection)
    assert code_of(error) == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in error["message"]
    assert code_of(await closed.error('{ __type(name: "Session") { name } }')) == (
        "GRAPHQL_VALIDATION_FAILED"
    )
    assert (await closed.data("{ __typename }")) == {"__typename": "Query"}
