"""No N+1: the nested page costs the same statements whatever the page sizes are."""

from __future__ import annotations

from graphql_api.store.seed import insert_sessions

NESTED = """
query Nested($sessions: Int!, $messages: Int!) {
  sessions(first: $sessions) {
    edges { cursor node {
      id title status
      parent { id title }
      forks(first: 5) { edges { node { id title } } }
      messages(first: $messages) {
        pageInfo { hasNextPage endCursor }
        edges { node { sequence role content {
          __typename
          ... on TextBlock { text }
          ... on ThinkingBlock { thinking }
          ... on ToolUseBlock { toolUseId name input }
          ... on ToolResultBlock { toolUseId content isError }
          ... on ImageBlock { mediaType source }
        } } }
      }
      turns(first: $messages) { edges { node { id status prompt costUsd usage } } }
      checkpoints(first: $messages) { edges { node { id userMessageUuid filesModified } } }
    } }
  }
}
"""

# sessions, parents, forks, messages, turns, checkpoints: one statement each.
NESTED_STATEMENTS = 6


async def test_nested_page_statement_count_does_not_grow(services, quiet_services, quiet_graphql, new_key, count_statements):
    big_key, big_secret = await new_key()
    small_key, small_secret = await new_key()
    await insert_sessions(services.db, big_key, 20, 10)
    await insert_sessions(services.db, small_key, 2, 1, fork_every=2)  # one fork, one parent
    big, small = quiet_graphql(big_secret), quiet_graphql(small_secret)
    # Warm up: authenticate both keys (cached) and record their last use.
    await big.data("{ viewer { sessionCount } }")
    await small.data("{ viewer { sessionCount } }")
    await quiet_services.api_keys.flush()

    with count_statements:
        big_page = await big.data(NESTED, {"sessions": 20, "messages": 10})
    big_count = len(count_statements.statements)
    big_statements = [s[:60] + " ... " + s[-90:] for s in count_statements.statements]
    with count_statements:
        small_page = await small.data(NESTED, {"sessions": 2, "messages": 1})
    small_count = len(count_statements.statements)

    edges = big_page["sessions"]["edges"]
    assert len(edges) == 20
    assert all(len(e["node"]["messages"]["edges"]) == 10 for e in edges)
    assert sum(1 for e in edges if e["node"]["parent"]) == 4  # every fifth is a fork
    assert sum(len(e["node"]["forks"]["edges"]) for e in edges) == 4
    block_types = {
        block["__typename"]
        for e in edges
        for m in e["node"]["messages"]["edges"]
        for block in m["node"]["content"]
    }
    assert block_types == {"TextBlock", "ThinkingBlock", "ToolUseBlock", "ToolResultBlock", "ImageBlock"}
    assert len(small_page["sessions"]["edges"]) == 2
    assert (big_count, small_count) == (NESTED_STATEMENTS, NESTED_STATEMENTS), big_statements


async def test_total_counts_cost_one_grouped_statement_per_list(services, quiet_services, quiet_graphql, new_key, count_statements):
    key, secret = await new_key()
    await insert_sessions(services.db, key, 12, 7)
    client = quiet_graphql(secret)
    await client.data("{ viewer { sessionCount } }")
    await quiet_services.api_keys.flush()
    query = """{ sessions(first: 12) { totalCount edges { node {
        messages(first: 2) { totalCount } turns(first: 1) { totalCount }
        checkpoints(first: 1) { totalCount } forks { totalCount } activeTurn { id }
        turnsAgain: turns(first: 1) { edges { node { messages(first: 2) { totalCount edges { node { id } } } } } }
    } } } }"""
    with count_statements:
        data = await client.data(query)
    nodes = [e["node"] for e in data["sessions"]["edges"]]
    assert data["sessions"]["totalCount"] == 12
    assert {n["messages"]["totalCount"] for n in nodes} == {7}
    assert {n["turns"]["totalCount"] for n in nodes} == {2}
    # page + count of sessions; page + count for messages, turns, checkpoints, forks;
    # activeTurn; turn messages page + count.
    assert len(count_statements.statements) == 2 + 2 * 4 + 1 + 2, count_statements.statements
