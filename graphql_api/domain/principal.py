"""Who is calling: the API key a request authenticated with."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Principal:
    """Every repository call takes one; `owner_filter` is what tenancy filters by in SQL."""

    key_id: UUID
    name: str
    is_admin: bool

    @property
    def owner_filter(self) -> UUID | None:
        """The owner every statement must match, or None for an admin (sees all)."""
        return None if self.is_admin else self.key_id
