"""The GraphQL documents the suites send (the nested page is tests/api/test_nested_page.py's)."""

from tests.api.test_nested_page import NESTED as NESTED_PAGE  # the same document

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
