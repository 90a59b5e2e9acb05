"""MessageRepository: a session's (or a turn's) messages in sequence order."""

from __future__ import annotations

from sqlalchemy import Table

from graphql_api.store.keyset import Ordering
from graphql_api.store.models import Message
from graphql_api.store.session_children import SessionChildRepository

messages_table: Table = Message.__table__  # type: ignore[assignment]


class MessageRepository(SessionChildRepository):
    table = messages_table
    # sequence is unique within a session (and so within a turn); id breaks no ties but keeps
    # the cursor shape the same as every other list.
    ordering = Ordering((messages_table.c.sequence, messages_table.c.id))
