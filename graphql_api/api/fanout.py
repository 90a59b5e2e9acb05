"""Shared execution of live subscription events: subscribers that would compute the same answer
to an event compute it once.

Without this, every subscriber of a session executes its subscription's selection set for every
event and serializes the result: with 1,000 subscribers on one session that is 1,000 identical
executions and JSON encodings per event (about 1/3 of the CPU per delivery, BENCHMARKS.md
section 5).

**What is shared.** A live event's answer depends on the operation (document, variables,
operationName), the caller's authorization (every field filters by the API key), the event
and the sequence this subscriber is told. So subscribers form a group per (API key id, scope
(the session), document text, variables, operationName), and within a group an answer is
memoized per (broker event object, sequence): the broker hands every local subscriber of a
channel the same event object (`broker/base.py`: never modified), so that pair identifies the
event. Subscribers of different keys never share, nor do different variables (even ones that
would make no difference), nor replayed messages (each subscriber reads its own from the
database), nor a text delta merged in a slow subscriber's queue (a new object).

**What is not shared.** Each subscriber keeps its own task, broker queue, lossless resume state
(`domain/live_streams.py`) and socket. A group only memoizes answers: the first subscriber to
reach an event executes it (with the group's own context: the key, fresh DataLoaders per event)
and every other one takes the same serialized payload, wraps it in its own protocol frame
(graphql-transport-ws `next` or graphql-ws `data`, with its operation id) and writes it to its
own websocket from its own task. A subscriber that never reads blocks only its own task, and
its queue still ends it with SLOW_CONSUMER. Stored messages, errors and the end of a
subscription still go through Strawberry as before; the direct frames are only live events, sent
in order from the same task that sends the rest, so the order on the wire is the stream's order.

The websocket handlers below record, for the task running an operation, what the fan-out needs
to know about it (`WsOperation`); the `sessionEvents` resolver asks `shared_deliveries()` for its
group. Outside a websocket operation (or with `SUBSCRIPTION_SHARED_EXECUTION=false`) there is
none and every event goes through Strawberry.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from graphql import DocumentNode, parse
from graphql.execution import execute_subscription_event
from starlette.websockets import WebSocketDisconnect

from graphql_api.api.context import RequestContext

if TYPE_CHECKING:
    from strawberry.schema import Schema

    from graphql_api.api.context import Info

#: graphql-transport-ws and graphql-ws: the next/data frame around a payload.
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
GRAPHQL_WS = "graphql-ws"

#: An answer is dropped once every member of its group has taken it. Answers some member never
#: takes (it skipped the event, lags behind, or joined after it) are kept within these bounds,
#: oldest dropped first; a member that comes for a dropped answer executes the event again
#: (correct, only slower). Members normally take an event within one pass of the event loop.
MEMO_SIZE = 16
MEMO_CHARS = 1 << 20


class SharedDelivery(Protocol):
    """What a group needs of an event (`domain.live_streams.Delivery`)."""

    source: Any  # the broker's event object, the same for every local subscriber
    sequence: int


_operation: contextvars.ContextVar[WsOperation | None] = contextvars.ContextVar(
    "websocket_operation", default=None
)


class WsOperation:
    """A websocket operation, as the task that runs it knows it: its request, and how to send
    a result frame of its protocol straight to its socket."""

    __slots__ = (
        "_frame_prefix", "_websocket", "encode_json", "fanout", "operation_name", "query",
        "variables",
    )  # fmt: skip

    def __init__(
        self,
        handler: Any,
        protocol: str,
        operation_id: str,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        view = handler.view
        self.fanout: SubscriptionFanout | None = getattr(view, "fanout", None)
        self.query = query
        self.variables = variables
        self.operation_name = operation_name
        self.encode_json: Callable[[Any], str | bytes] = view.encode_json
        self._websocket = handler.websocket
        encoded_id = _text(view.encode_json(operation_id))
        # The same text Strawberry's handlers send: send_next / send_data_message's dicts,
        # encoded by the view's encode_json, in this key order.
        if protocol == GRAPHQL_TRANSPORT_WS:
            self._frame_prefix = '{"id":' + encoded_id + ',"type":"next","payload":'
        else:
            self._frame_prefix = '{"type":"data","id":' + encoded_id + ',"payload":'

    async def send_payload(self, payload: str) -> None:
        """One result (an encoded `{"data": ..., "errors": ...}`) in this protocol's frame."""
        try:
            await self._websocket.ws.send_text(self._frame_prefix + payload + "}")
        except WebSocketDisconnect:
            # The client is gone. The handler sees the disconnect on its receive loop and
            # cancels every operation of the connection, this one included: wait for that
            # (raising here would only log a failed send, as Strawberry's own sends do).
            await asyncio.get_running_loop().create_future()


class TransportWSOperations:
    """Mixin for graphql-transport-ws handlers: each operation's task knows its WsOperation."""

    async def run_operation(self, operation: Any) -> None:
        _operation.set(
            WsOperation(self, GRAPHQL_TRANSPORT_WS, operation.id, operation.query,
                        operation.variables, operation.operation_name)
        )  # fmt: skip
        await super().run_operation(operation)  # type: ignore[misc]


class GraphQLWSOperations:
    """Mixin for graphql-ws handlers: each operation's task knows its WsOperation."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        _operation.set(
            WsOperation(self, GRAPHQL_WS, operation_id, query, variables, operation_name)
        )
        handle = super().handle_async_results  # type: ignore[misc]
        await handle(operation_id, query, operation_name, variables)


class FanoutGroup:
    """The subscribers of one (key, scope, operation): one executor, and the answers to the
    latest events as encoded payloads (None: an event that yields nothing)."""

    def __init__(
        self,
        fanout: SubscriptionFanout,
        key: Hashable,
        executor: Any,
        context: RequestContext,
        build: Callable[[Any], Any | None],
        encode_json: Callable[[Any], str | bytes],
    ) -> None:
        self.fanout = fanout
        self.key = key
        self.executor = executor
        self.context = context
        self.build = build
        self.encode_json = encode_json
        self.members = 0
        #: (id of the broker's event, sequence) -> [that event, payload or its pending task,
        #: members that took it]; holding the event keeps its id from being reused meanwhile
        self._answers: OrderedDict[tuple[int, int], list[Any]] = OrderedDict()
        self._chars = 0  # of the payloads held

    def answer(self, delivery: SharedDelivery) -> str | None | asyncio.Task[str | None]:
        """The encoded payload for this event: executed on the first ask, then remembered
        until every member has taken it."""
        token = (id(delivery.source), delivery.sequence)
        found = self._answers.get(token)
        if found is None or found[0] is not delivery.source:
            found = [delivery.source, self._execute(delivery), 0]
            self._answers[token] = found
            self._chars += _chars(found[1])
            while len(self._answers) > 1 and (
                len(self._answers) > MEMO_SIZE or self._chars > MEMO_CHARS
            ):
                self._forget(next(iter(self._answers)))
        found[2] += 1
        if found[2] >= self.members:
            self._forget(token)
        return found[1]

    def _forget(self, token: tuple[int, int]) -> None:
        self._chars -= _chars(self._answers.pop(token)[1])

    def _execute(self, delivery: SharedDelivery) -> str | None | asyncio.Task[str | None]:
        root = self.build(delivery)
        if root is None:
            return None
        self.fanout.executions += 1
        # The group's own DataLoaders for this event, in a context of their own: the calling
        # subscriber's task (and its own loaders) stays as it was.
        context = contextvars.copy_context()
        result = context.run(self._start, root)
        if self.executor.is_awaitable(result):
            task = asyncio.get_running_loop().create_task(self._finish(result), context=context)
            task.add_done_callback(_retrieve)
            return task
        return self._encode(result)

    def _start(self, root: Any) -> Any:
        self.context.use_fresh_loaders()
        return execute_subscription_event(self.executor.build_per_event_executor(root))

    async def _finish(self, result: Awaitable[Any]) -> str:
        return self._encode(await result)

    def _encode(self, result: Any) -> str:
        """What Strawberry sends for a subscription result (`data`, then formatted `errors`,
        after the schema's error processing: codes, request id, logging)."""
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            errors_context = SimpleNamespace(context=self.context)  # what assign_codes reads
            self.fanout.schema._process_errors(result.errors, errors_context)  # noqa: SLF001
            payload["errors"] = [error.formatted for error in result.errors]
        return _text(self.encode_json(payload))


class SharedSubscriber:
    """One subscriber's membership of its group, from `shared_deliveries()` to `leave()`."""

    __slots__ = ("group", "operation")

    def __init__(self, group: FanoutGroup, operation: WsOperation) -> None:
        self.group = group
        self.operation = operation
        group.members += 1

    def leave(self) -> None:
        group = self.group
        group.members -= 1
        if group.members <= 0:
            group.fanout.drop(group)

    async def send(self, delivery: SharedDelivery) -> None:
        """The event's shared answer, in this subscriber's frame, to its socket."""
        answer = self.group.answer(delivery)
        if answer is None:
            return
        if not isinstance(answer, str):
            # Executing it awaits (DataLoaders): another subscriber may be waiting for it too,
            # so this one's cancellation must not cancel it.
            answer = await asyncio.shield(answer)
            if answer is None:
                return
        await self.operation.send_payload(answer)


class SubscriptionFanout:
    """This process's groups of subscribers that share execution (one per GraphQL view)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.groups: dict[Hashable, FanoutGroup] = {}
        #: Events executed by groups since start (what sharing saves shows against deliveries).
        self.executions = 0

    def join(
        self,
        operation: WsOperation,
        info: Info,
        scope: Hashable,
        build: Callable[[Any], Any | None],
    ) -> SharedSubscriber | None:
        """Membership of the subscriber's group (made for the first one); None: not shared."""
        context = info.context
        try:
            variables = json.dumps(operation.variables, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return None  # not JSON after all: nothing to compare, so nothing shared
        key_id = context.principal.key_id
        key = (key_id, scope, operation.query, variables, operation.operation_name)
        group = self.groups.get(key)
        if group is None:
            group = self._group(key, operation, info, build)
            if group is None:
                return None
            self.groups[key] = group
        return SharedSubscriber(group, operation)

    def drop(self, group: FanoutGroup) -> None:
        if self.groups.get(group.key) is group:
            del self.groups[group.key]

    def _group(
        self,
        key: Hashable,
        operation: WsOperation,
        info: Info,
        build: Callable[[Any], Any | None],
    ) -> FanoutGroup | None:
        schema = self.schema
        context = info.context
        # The subscriber's own pipeline has parsed, validated and limited this very document
        # before its resolver ran: its operation and fragments make the group's document (no
        # second parse, no second copy of the nodes), and its variables coerce.
        fragments = getattr(getattr(info, "_raw_info", None), "fragments", None)
        if fragments is None:
            document = parse(operation.query)
        else:
            document = DocumentNode(definitions=(info.operation, *fragments.values()))
        shared_context = RequestContext(
            services=context.services,
            principal_or_none=context.principal,
            request_id=context.request_id,
        )
        executor = schema.execution_context_class.build(
            schema._schema,  # noqa: SLF001 - the graphql-core schema Strawberry executes
            document,
            None,
            shared_context,
            operation.variables,
            operation.operation_name,
            # the resolve hooks of the schema's extensions, as Strawberry passes them
            middleware=schema._get_middleware_manager(schema.get_extensions()),  # noqa: SLF001
        )
        if isinstance(executor, list):  # errors: cannot happen after the checks above
            return None
        return FanoutGroup(self, key, executor, shared_context, build, operation.encode_json)


def shared_deliveries(
    info: Info, scope: Hashable, build: Callable[[Any], Any | None]
) -> SharedSubscriber | None:
    """The calling subscription's membership of its group (`leave()` it when the subscription
    ends), or None when its events cannot be shared (not a websocket operation, or shared
    execution is off). `scope` tells subscriptions of one key apart beyond their operation
    (the field and the session); `build` makes an event's root value from a delivery (None:
    the event yields nothing)."""
    operation = _operation.get()
    fanout = operation.fanout if operation is not None else None
    if fanout is None or not info.context.settings.subscription_shared_execution:
        return None
    return fanout.join(operation, info, scope, build)  # type: ignore[union-attr]


def _chars(answer: Any) -> int:
    return len(answer) if isinstance(answer, str) else 0


def _text(encoded: str | bytes) -> str:
    return encoded.decode() if isinstance(encoded, bytes) else encoded


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Nobody may be left waiting for an answer; its error was raised to those who were."""
    if not task.cancelled():
        task.exception()
