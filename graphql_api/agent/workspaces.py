"""Each session's own working directory under the configured root (a fork gets a copy)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from uuid import UUID


class Workspaces:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, session_id: UUID) -> Path:
        return self.root / str(session_id)

    async def create(self, session_id: UUID) -> Path:
        path = self.path(session_id)
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
        return path

    async def copy(self, source: str | None, session_id: UUID) -> Path:
        target = self.path(session_id)
        if source and Path(source).is_dir():
            await asyncio.to_thread(shutil.copytree, source, target, symlinks=True, dirs_exist_ok=True)
        else:
            await self.create(session_id)
        return target

    async def remove(self, workspace: str | None) -> None:
        if not workspace:
            return
        path = Path(workspace).resolve()
        if path.parent == self.root:  # never remove anything outside the root
            await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)
