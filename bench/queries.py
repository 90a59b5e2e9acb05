"""The GraphQL documents the suites send (the nested page is tests/api/test_nested_page.py's)."""

NESTED_PAGE = """
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

SESSION_BY_ID = """
query Session($id: ID!) {
  session(id: $id) {
    id title status model createdAt updatedAt totalTurns totalCostUsd lastSequence
  }
}
"""

SESSIONS_PAGE = """
query Page($first: Int!, $after: String) {
  sessions(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id title status createdAt } }
  }
}
"""

TYPENAME = "{ __typename }"


JSON_SCALARS = frozenset({"input", "usage"})


def count_fields(data: object) -> int:
    """Fields in a response (each one the executor completed); JSON scalars count as one."""
    if isinstance(data, dict):
        return len(data) + sum(count_fields(v) for k, v in data.items() if k not in JSON_SCALARS)
    if isinstance(data, list):
        return sum(count_fields(v) for v in data)
    return 0
