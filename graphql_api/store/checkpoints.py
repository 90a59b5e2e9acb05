"""CheckpointRepository: a session's file checkpoints, oldest first."""

from __future__ import annotations

from sqlalchemy import Table

from graphql_api.store.keyset import Ordering
from graphql_api.store.models import Checkpoint
from graphql_api.store.session_children import SessionChildRepository

checkpoints_table: Table = Checkpoint.__table__  # type: ignore[assignment]


class CheckpointRepository(SessionChildRepository):
    table = checkpoints_table
    ordering = Ordering((checkpoints_table.c.created_at, checkpoints_table.c.id))
