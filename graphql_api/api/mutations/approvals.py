"""respondToToolApproval: allow (optionally with a replaced input) or deny a pending tool use."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import expect_global_id
from graphql_api.api.types.approval import ToolApproval


@strawberry.input
class RespondToToolApprovalInput:
    approval_id: strawberry.ID
    allow: bool
    message: str | None = None
    updated_input: JSON | None = strawberry.field(
        default=None,
        description="Replaces the tool's input when allowed (e.g. the answers to AskUserQuestion).",
    )


@strawberry.type
class RespondToToolApprovalPayload:
    approval: ToolApproval


@strawberry.type
class ApprovalMutations:
    @strawberry.mutation
    async def respond_to_tool_approval(
        self, info: Info, input: RespondToToolApprovalInput
    ) -> RespondToToolApprovalPayload:
        ctx = info.context
        row = await ctx.services.approvals.respond(
            ctx.principal,
            expect_global_id(input.approval_id, "ToolApproval", field="input.approvalId"),
            input.allow,
            input.message,
            input.updated_input,
        )
        return RespondToToolApprovalPayload(approval=ToolApproval.from_row(row))
