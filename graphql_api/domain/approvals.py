"""Tool approvals: a client's decision reaches the turn wherever it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from graphql_api.agent.runner import TurnRunner
from graphql_api.domain.errors import BadUserInput, NotFound
from graphql_api.domain.principal import Principal
from graphql_api.store.approvals import ToolApprovalRepository
from graphql_api.store.database import Database
from graphql_api.store.types import utcnow


@dataclass
class ApprovalService:
    db: Database
    runner: TurnRunner

    async def respond(
        self,
        principal: Principal,
        approval_id: UUID,
        allow: bool,
        message: str | None,
        updated_input: Any,
    ) -> Any:
        if updated_input is not None and not isinstance(updated_input, dict):
            raise BadUserInput("updatedInput must be a JSON object", field="input.updatedInput")
        if updated_input is not None and not allow:
            raise BadUserInput("updatedInput only goes with allow: true", field="input.updatedInput")
        values = {
            "status": "ALLOWED" if allow else "DENIED",
            "message": message,
            "updated_input": updated_input,
            "decided_at": utcnow(),
        }
        async with self.db.transaction() as conn:
            repo = ToolApprovalRepository(conn)
            row = await repo.decide(principal, approval_id, values)
            if row is None:
                existing = (await repo.get_many(principal, [approval_id])).get(approval_id)
                if existing is None:
                    raise NotFound("no such tool approval", field="input.approvalId")
                raise BadUserInput(
                    f"the approval was already decided ({existing.status})",
                    field="input.approvalId",
                    status=existing.status,
                )
        await self.runner.send_command(
            row.session_id, {"type": "approval_decided", "approval_id": str(row.id)}
        )
        return row
