"""The executor frees a finished request by reference counting, not by the garbage collector.

graphql-core 3.3's executor keeps `async_helpers`, a pair of its own bound methods (for
resolvers that gather or track asynchronous work: `info.async_helpers`). That makes every
executor a reference cycle, and the executor holds the request's context, so the context's
DataLoaders and everything they loaded (a nested page: ~10,000 rows, pages, ids and futures)
stay alive until a garbage collection finds the cycle. Measured on the nested page
(BENCHMARKS.md, round 3): a collection every four requests that found ~30,000 objects and took
40-65 ms, about 15 ms of CPU per request on average.

Here the helpers refer to their executor weakly. While the executor runs (the only time a
resolver can call them) it is alive; afterwards nothing keeps it, and the request's objects go
as soon as the response is built. `tests/api/test_acyclic_executor.py` checks that a request
leaves no cycle behind.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Sequence
from typing import Any

from graphql import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class AcyclicExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor whose `async_helpers` do not keep the executor alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = weak_helpers(self)


def weak_helpers(executor: Any) -> GraphQLResolveInfoHelpers:
    ref = weakref.ref(executor)

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return _alive(ref).gather_async_work(values)

    def track(values: Sequence[Any]) -> None:
        _alive(ref).track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


def _alive(ref: weakref.ReferenceType[Any]) -> Any:
    executor = ref()
    if executor is None:  # a resolver kept `info` past its execution
        raise RuntimeError("info.async_helpers used after the operation finished")
    return executor
