"""Keyset (seek) pagination, for one list and for the child lists of many parents at once.

An ordering is a tuple of columns that all sort the same way and ends with a unique column,
so a position is the tuple of their values: `(created_at, id) < (:c, :id)`. The child lists
of many parents come from ONE statement: `row_number() over (partition by parent ...)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.store.driver_reads import Shape, fetch_rows
from graphql_api.store.scoping import one_of


@dataclass(frozen=True, slots=True)
class Ordering:
    columns: tuple[Any, ...]
    descending: bool = False

    def keys(self, row: Any) -> tuple[Any, ...]:
        """The position of a row in this ordering (what a cursor encodes)."""
        return tuple(getattr(row, column.key) for column in self.columns)


@dataclass(frozen=True, slots=True)
class PageSpec:
    """A validated page request: a limit, a direction and optional positions to seek from."""

    limit: int
    forward: bool = True
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None


@dataclass(slots=True)
class Page:
    rows: list[Any] = field(default_factory=list)
    has_next: bool = False
    has_previous: bool = False


def _seek(ordering: Ordering, spec: PageSpec) -> list[ColumnElement[bool]]:
    key = tuple_(*ordering.columns)
    conditions = []
    if spec.after is not None:
        conditions.append(key < tuple_(*spec.after) if ordering.descending else key > tuple_(*spec.after))
    if spec.before is not None:
        conditions.append(key > tuple_(*spec.before) if ordering.descending else key < tuple_(*spec.before))
    return conditions


def _order_by(ordering: Ordering, spec: PageSpec) -> list[Any]:
    descending = ordering.descending == spec.forward
    return [c.desc() if descending else c.asc() for c in ordering.columns]


def _finish(rows: list[Any], spec: PageSpec) -> Page:
    more = len(rows) > spec.limit
    rows = rows[: spec.limit]
    if spec.forward:
        return Page(rows, has_next=more, has_previous=spec.after is not None)
    rows.reverse()
    return Page(rows, has_next=spec.before is not None, has_previous=more)


async def fetch_page(
    conn: AsyncConnection, stmt: Select[Any], ordering: Ordering, spec: PageSpec
) -> Page:
    """One page of one list: seek, order, limit + 1 (the extra row says whether more exist)."""
    stmt = stmt.where(*_seek(ordering, spec)).order_by(*_order_by(ordering, spec))
    rows = list((await conn.execute(stmt.limit(spec.limit + 1))).all())
    return _finish(rows, spec)


async def fetch_child_pages(
    conn: AsyncConnection,
    base: Select[Any],
    params: Mapping[str, Any],
    parent_column: Any,
    parent_ids: Sequence[Any],
    ordering: Ordering,
    spec: PageSpec,
) -> dict[Any, Page]:
    """The same page of the child list of every parent, in one statement.

    `base` is the (scoped) list, a statement built once whose values are bind parameters given
    in `params` (store/scoping.py); the page's statement is then built once per shape too, and
    runs on the driver on PostgreSQL (store/driver_reads.py)."""
    shape = _child_pages_shape(
        base, parent_column, ordering, spec.forward, spec.after is not None, spec.before is not None
    )
    values = {**params, "parents": list(parent_ids), "rank_limit": spec.limit + 1}
    for name, keys in (("after", spec.after), ("before", spec.before)):
        if keys is not None:
            values.update((f"{name}_{i}", key) for i, key in enumerate(keys))
    grouped: dict[Any, list[Any]] = {parent: [] for parent in parent_ids}
    for row in await fetch_rows(conn, shape, values):
        grouped[getattr(row, parent_column.key)].append(row)
    return {parent: _finish(rows, spec) for parent, rows in grouped.items()}


@cache
def _child_pages_shape(
    base: Select[Any], parent_column: Any, ordering: Ordering, forward: bool, after: bool, before: bool
) -> Shape:
    """`row_number() over (partition by parent ...)` within the seek, the first limit+1 of each."""
    seek = PageSpec(
        limit=0,
        forward=forward,
        after=_positions("after", ordering) if after else None,
        before=_positions("before", ordering) if before else None,
    )

    def build(as_array: bool) -> Select[Any]:
        parents = one_of(parent_column, "parents", as_array=as_array)
        rank = (
            func.row_number()
            .over(partition_by=parent_column, order_by=_order_by(ordering, seek))
            .label("_rank")
        )
        ranked = base.add_columns(rank).where(parents, *_seek(ordering, seek)).subquery()
        return (
            select(ranked)
            .where(ranked.c._rank <= bindparam("rank_limit", type_=Integer))
            .order_by(ranked.c[parent_column.key], ranked.c._rank)
        )

    return Shape(build)


def _positions(name: str, ordering: Ordering) -> tuple[Any, ...]:
    """A seek position as bind parameters `name_0`, `name_1`, ... typed as the columns."""
    return tuple(bindparam(f"{name}_{i}", type_=column.type) for i, column in enumerate(ordering.columns))


async def count_children(
    conn: AsyncConnection, stmt: Select[Any], parent_column: Any, parent_ids: Iterable[Any]
) -> dict[Any, int]:
    """How many children each parent has, in one grouped statement."""
    ids = list(parent_ids)
    counted = (
        stmt.with_only_columns(parent_column, func.count())
        .where(parent_column.in_(ids))
        .group_by(parent_column)
    )
    counts = {parent: 0 for parent in ids}
    counts.update({row[0]: row[1] for row in (await conn.execute(counted)).all()})
    return counts
