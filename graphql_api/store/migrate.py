"""Run the Alembic migrations from code (the CLI's `migrate`, and embedded start-up)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade_to_head(database_url: str) -> None:
    """Alembic runs its own event loop, so it gets a thread of its own."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")


def objects_of_dialect(dialect_name: str) -> Callable[..., bool]:
    """Alembic `include_object`: leave out what the models create only on another dialect (GIN)."""

    def include_object(obj: Any, name: Any, type_: Any, reflected: Any, compare_to: Any) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        return ddl_if is None or ddl_if.dialect in (None, dialect_name)

    return include_object
