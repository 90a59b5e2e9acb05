"""The schema's graphql-core executor: Strawberry's, plus a fix for a per-event memory leak of
subscriptions in graphql-core 3.3.2 (the newest release when this was written).

The upstream cause: `Executor.build_per_event_executor` (graphql/execution/executor.py:601)
makes each subscription event's executor with `copy(self)`. That shallow copy shares
`self._relevant_sub_fields`, the memo of `Executor.collect_subfields` (executor.py:2147), which
is keyed by `id()` of a field-details list and keeps that list alive with its entry. Every event
collects its root fields afresh, so every event adds new entries (FieldDetails, CollectedFields,
the lists) to the memo of the subscription's executor, and they live as long as the
subscription does: about 4.6 KB per delivery of `sessionEvents` (BENCHMARKS.md, section 5), so
a long-lived subscription grows without bound, and the garbage collector traverses it all.

The fix: each per-event executor gets a memo of its own, so the memo still saves the repeated
work within one event (lists of objects) and goes away with the event. Remove this class once
graphql-core builds per-event executors with their own memo (then `tests/api/test_event_memo.py`
still passes without it).
"""

from __future__ import annotations

from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class EventScopedMemoExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor whose per-event executors do not share the subfield memo."""

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}  # noqa: SLF001 - see the module docstring
        return executor
