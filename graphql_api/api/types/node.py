"""Relay building blocks: the Node interface, PageInfo, and the connection shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from graphql_api.api.pagination import encode_cursor, page_spec
from graphql_api.store.keyset import Ordering, Page

NodeT = TypeVar("NodeT")


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay Global Object Identification).")
class Node:
    id: strawberry.ID


@strawberry.type(description="Relay cursor-connection page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    # Cursors are encoded only when a query asks for them.
    _list_name: strawberry.Private[str]
    _start_keys: strawberry.Private[tuple[Any, ...] | None]
    _end_keys: strawberry.Private[tuple[Any, ...] | None]

    @strawberry.field
    def start_cursor(self) -> str | None:
        return None if self._start_keys is None else encode_cursor(self._list_name, self._start_keys)

    @strawberry.field
    def end_cursor(self) -> str | None:
        return None if self._end_keys is None else encode_cursor(self._list_name, self._end_keys)


@strawberry.type
class Edge(Generic[NodeT]):
    node: NodeT
    # The row and its ordering: the position is read off the row only when a cursor is asked
    # for (most edges of a large page never are).
    _list_name: strawberry.Private[str]
    _row: strawberry.Private[Any]
    _ordering: strawberry.Private[Ordering]

    @strawberry.field
    def cursor(self) -> str:
        return encode_cursor(self._list_name, self._ordering.keys(self._row))


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds, across all pages.")
    async def total_count(self) -> int:
        return await self._count()


def connection_parts(
    page: Page, ordering: Ordering, list_name: str, to_node: Callable[[Any], Any]
) -> tuple[list[Any], PageInfo]:
    """Edges and PageInfo for a page of rows; start/end cursors come from the first/last row."""
    rows = page.rows
    edges = [Edge(node=to_node(row), _list_name=list_name, _row=row, _ordering=ordering) for row in rows]
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        _list_name=list_name,
        _start_keys=ordering.keys(rows[0]) if rows else None,
        _end_keys=ordering.keys(rows[-1]) if rows else None,
    )
    return edges, info


ConnectionT = TypeVar("ConnectionT", bound=Connection[Any])


async def child_connection(
    connection: type[ConnectionT],
    info: Any,
    *,
    list_name: str,
    parent: Any,
    pages: Any,
    counts: Any,
    ordering: Ordering,
    to_node: Callable[[Any], Any],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> ConnectionT:
    """A page of one parent's child list, through the request's batching loaders."""
    settings = info.context.settings
    spec = page_spec(
        list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )
    page = await pages.load((parent, spec))
    edges, page_info = connection_parts(page, ordering, list_name, to_node)
    return connection(edges=edges, page_info=page_info, _count=lambda: counts.load(parent))
