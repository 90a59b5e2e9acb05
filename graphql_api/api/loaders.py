"""Per-request DataLoaders: every child field of many parents costs one statement per level."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.principal import Principal
from graphql_api.store.api_keys import ApiKeyRepository
from graphql_api.store.approvals import ToolApprovalRepository
from graphql_api.store.checkpoints import CheckpointRepository
from graphql_api.store.database import Database
from graphql_api.store.keyset import Page, PageSpec
from graphql_api.store.messages import MessageRepository
from graphql_api.store.sessions import SessionRepository
from graphql_api.store.turns import TurnRepository
from graphql_api.store.webhooks import WebhookDeliveryRepository, WebhookRepository

K = TypeVar("K")
Repo = TypeVar("Repo")

PageKey = tuple[Any, PageSpec]


class Loaders:
    """Built for each request (and each subscription event), so nothing is cached across keys.

    Each loader is created on first use: most requests touch two or three of them.
    """

    def __init__(self, db: Database, principal: Principal) -> None:
        self.db = db
        self.principal = principal

    def _by_id(self, repo: type[Any]) -> DataLoader[Any, Any]:
        p = self.principal
        return self._keyed(repo, lambda r, ids: r.get_many(p, ids))

    # --- objects by id ---------------------------------------------------------------------

    @cached_property
    def session(self) -> DataLoader[Any, Any]:
        return self._by_id(SessionRepository)

    @cached_property
    def turn(self) -> DataLoader[Any, Any]:
        return self._by_id(TurnRepository)

    @cached_property
    def message(self) -> DataLoader[Any, Any]:
        return self._by_id(MessageRepository)

    @cached_property
    def checkpoint(self) -> DataLoader[Any, Any]:
        return self._by_id(CheckpointRepository)

    @cached_property
    def api_key(self) -> DataLoader[Any, Any]:
        return self._by_id(ApiKeyRepository)

    @cached_property
    def webhook(self) -> DataLoader[Any, Any]:
        return self._by_id(WebhookRepository)

    @cached_property
    def webhook_delivery(self) -> DataLoader[Any, Any]:
        return self._by_id(WebhookDeliveryRepository)

    @cached_property
    def approval(self) -> DataLoader[Any, Any]:
        return self._by_id(ToolApprovalRepository)

    # --- per session -----------------------------------------------------------------------

    @cached_property
    def active_turn(self) -> DataLoader[Any, Any]:
        p = self.principal
        return self._keyed(TurnRepository, lambda r, ids: r.running_by_session(p, ids))

    @cached_property
    def pending_approvals(self) -> DataLoader[Any, Any]:
        p = self.principal
        return self._loader(
            lambda conn, ids: ToolApprovalRepository(conn).pending_by_session(p, ids), default=[]
        )

    # --- child pages, one statement per level ----------------------------------------------

    @cached_property
    def session_messages(self) -> DataLoader[PageKey, Page]:
        return self._pages(MessageRepository, "session_id")

    @cached_property
    def session_turns(self) -> DataLoader[PageKey, Page]:
        return self._pages(TurnRepository, "session_id")

    @cached_property
    def session_checkpoints(self) -> DataLoader[PageKey, Page]:
        return self._pages(CheckpointRepository, "session_id")

    @cached_property
    def turn_messages(self) -> DataLoader[PageKey, Page]:
        return self._pages(MessageRepository, "turn_id")

    @cached_property
    def session_forks(self) -> DataLoader[PageKey, Page]:
        p = self.principal
        return self._paged_loader(
            lambda conn, ids, spec: SessionRepository(conn).fork_pages(p, ids, spec)
        )

    # --- totals ----------------------------------------------------------------------------

    @cached_property
    def session_message_count(self) -> DataLoader[Any, int]:
        return self._counts(MessageRepository, "session_id")

    @cached_property
    def session_turn_count(self) -> DataLoader[Any, int]:
        return self._counts(TurnRepository, "session_id")

    @cached_property
    def session_checkpoint_count(self) -> DataLoader[Any, int]:
        return self._counts(CheckpointRepository, "session_id")

    @cached_property
    def turn_message_count(self) -> DataLoader[Any, int]:
        return self._counts(MessageRepository, "turn_id")

    @cached_property
    def session_fork_count(self) -> DataLoader[Any, int]:
        p = self.principal
        return self._loader(
            lambda conn, ids: SessionRepository(conn).fork_counts(p, ids), default=0
        )

    def _loader(
        self,
        fetch: Callable[[AsyncConnection, list[Any]], Awaitable[dict[Any, Any]]],
        default: Any = None,
    ) -> DataLoader[Any, Any]:
        return keyed_loader(self.db, fetch, default)

    def _keyed(
        self, repo: type[Repo], fetch: Callable[[Repo, list[Any]], Awaitable[dict[Any, Any]]]
    ) -> DataLoader[Any, Any]:
        return self._loader(lambda conn, ids: fetch(repo(conn), ids))  # type: ignore[call-arg]

    def _counts(self, repo: type[Any], parent_key: str) -> DataLoader[Any, int]:
        p = self.principal
        return self._loader(lambda conn, ids: repo(conn).counts_by(p, parent_key, ids), default=0)

    def _pages(self, repo: type[Any], parent_key: str) -> DataLoader[PageKey, Page]:
        p = self.principal
        return self._paged_loader(
            lambda conn, ids, spec: repo(conn).pages_by(p, parent_key, ids, spec)
        )

    def _paged_loader(
        self, fetch: Callable[[AsyncConnection, list[Any], PageSpec], Awaitable[dict[Any, Page]]]
    ) -> DataLoader[PageKey, Page]:
        return paged_loader(self.db, fetch)


def keyed_loader(
    db: Database,
    fetch: Callable[[AsyncConnection, list[Any]], Awaitable[dict[Any, Any]]],
    default: Any = None,
) -> DataLoader[Any, Any]:
    """A loader of one value per key, `fetch`ed for a batch of distinct keys in one read."""

    async def batch(keys: Sequence[Any]) -> list[Any]:
        async with db.read() as conn:
            found = await fetch(conn, list(dict.fromkeys(keys)))
        return [found.get(key, default) for key in keys]

    return DataLoader(batch_load_fn=batch)


def paged_loader(
    db: Database, fetch: Callable[[AsyncConnection, list[Any], PageSpec], Awaitable[dict[Any, Page]]]
) -> DataLoader[PageKey, Page]:
    """Keys are (parent id, page spec); parents asking for the same page share a statement."""

    async def batch(keys: Sequence[PageKey]) -> list[Page]:
        by_spec: dict[PageSpec, list[Any]] = defaultdict(list)
        for parent, spec in keys:
            by_spec[spec].append(parent)
        pages: dict[PageKey, Page] = {}
        async with db.read() as conn:
            for spec, parents in by_spec.items():
                found = await fetch(conn, list(dict.fromkeys(parents)), spec)
                pages.update({(parent, spec): page for parent, page in found.items()})
        return [pages.get(key, Page()) for key in keys]

    return DataLoader(batch_load_fn=batch)
