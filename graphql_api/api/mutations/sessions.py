"""Session mutations: create, fork, rewind files, update, archive, delete, mode and model."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import expect_global_id, to_global_id
from graphql_api.api.mutations.turns import ImageInput, images_of
from graphql_api.api.types.checkpoint import Checkpoint
from graphql_api.api.types.enums import PermissionMode
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn
from graphql_api.domain.options import validate_prompt


@strawberry.input
class CreateSessionInput:
    title: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    allowed_tools: list[str] | None = None
    disallowed_tools: list[str] | None = None
    permission_mode: PermissionMode | None = None
    max_turns: int | None = None
    max_budget_usd: float | None = None
    output_schema: JSON | None = strawberry.field(
        default=None, description="JSON schema the final result must follow (structured output)."
    )
    mcp_servers: JSON | None = strawberry.field(
        default=None,
        description="MCP server configurations, keyed by name, as the Claude Agent SDK takes them.",
    )
    agents: JSON | None = strawberry.field(
        default=None, description="Subagent definitions, keyed by name, as the Claude Agent SDK takes them."
    )
    enable_file_checkpointing: bool | None = None
    metadata: JSON | None = None
    approval_timeout_seconds: int | None = strawberry.field(
        default=None, description="Seconds a tool approval may wait for a decision before it is denied."
    )
    prompt: str | None = strawberry.field(
        default=None, description="When given, the session is created and this prompt starts its first turn."
    )
    images: list[ImageInput] | None = strawberry.field(
        default=None, description="Images sent with `prompt`."
    )


@strawberry.type
class CreateSessionPayload:
    session: Session
    turn: Turn | None = strawberry.field(description="The first turn, when a prompt was given.")


@strawberry.input
class ForkSessionInput:
    session_id: strawberry.ID
    title: str | None = None
    turn_id: strawberry.ID | None = strawberry.field(
        default=None, description="Fork as of the end of this turn; default: the latest completed turn."
    )


@strawberry.type
class ForkSessionPayload:
    session: Session


@strawberry.input
class RewindFilesInput:
    session_id: strawberry.ID
    checkpoint_id: strawberry.ID


@strawberry.type
class RewindFilesPayload:
    session: Session
    checkpoint: Checkpoint


@strawberry.input
class UpdateSessionInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.type
class UpdateSessionPayload:
    session: Session


@strawberry.input
class ArchiveSessionInput:
    id: strawberry.ID


@strawberry.type
class ArchiveSessionPayload:
    session: Session


@strawberry.input
class DeleteSessionInput:
    id: strawberry.ID


@strawberry.type
class DeleteSessionPayload:
    deleted_id: strawberry.ID


@strawberry.input
class SetPermissionModeInput:
    session_id: strawberry.ID
    mode: PermissionMode


@strawberry.input
class SetModelInput:
    session_id: strawberry.ID
    model: str


@strawberry.type
class SessionPayload:
    session: Session


def _session_id(value: str, field: str) -> object:
    return expect_global_id(value, "Session", field=field)


@strawberry.type
class SessionMutations:
    @strawberry.mutation
    async def create_session(self, info: Info, input: CreateSessionInput) -> CreateSessionPayload:
        ctx = info.context
        raw = {
            "title": input.title, "model": input.model, "systemPrompt": input.system_prompt,
            "allowedTools": input.allowed_tools, "disallowedTools": input.disallowed_tools,
            "permissionMode": input.permission_mode.value if input.permission_mode else None,
            "maxTurns": input.max_turns, "maxBudgetUsd": input.max_budget_usd,
            "outputSchema": input.output_schema, "mcpServers": input.mcp_servers,
            "agents": input.agents, "enableFileCheckpointing": input.enable_file_checkpointing,
            "metadata": input.metadata, "approvalTimeoutSeconds": input.approval_timeout_seconds,
        }  # fmt: skip
        services = ctx.services
        if input.prompt is not None:
            validate_prompt(input.prompt, services.settings)
            services.turns.ensure_accepting()  # refused before the session is created
        session = await services.sessions.create(ctx.principal, raw)
        if input.prompt is None:
            return CreateSessionPayload(session=Session.from_row(session), turn=None)
        session, turn = await services.turns.send_message(
            ctx.principal, session.id, input.prompt, images_of(input.images), if_busy="ENQUEUE"
        )
        return CreateSessionPayload(session=Session.from_row(session), turn=Turn.from_row(turn))

    @strawberry.mutation
    async def fork_session(self, info: Info, input: ForkSessionInput) -> ForkSessionPayload:
        ctx = info.context
        turn_id = expect_global_id(input.turn_id, "Turn", field="input.turnId") if input.turn_id else None
        row = await ctx.services.sessions.fork(
            ctx.principal, _session_id(input.session_id, "input.sessionId"), input.title, turn_id
        )
        return ForkSessionPayload(session=Session.from_row(row))

    @strawberry.mutation
    async def rewind_files(self, info: Info, input: RewindFilesInput) -> RewindFilesPayload:
        ctx = info.context
        session, checkpoint = await ctx.services.sessions.rewind_files(
            ctx.principal,
            _session_id(input.session_id, "input.sessionId"),
            expect_global_id(input.checkpoint_id, "Checkpoint", field="input.checkpointId"),
        )
        return RewindFilesPayload(session=Session.from_row(session), checkpoint=Checkpoint.from_row(checkpoint))

    @strawberry.mutation
    async def update_session(self, info: Info, input: UpdateSessionInput) -> UpdateSessionPayload:
        ctx = info.context
        changes = {
            name: value
            for name, value in (("title", input.title), ("metadata", input.metadata))
            if value is not strawberry.UNSET
        }
        row = await ctx.services.sessions.update(ctx.principal, _session_id(input.id, "input.id"), changes)
        return UpdateSessionPayload(session=Session.from_row(row))

    @strawberry.mutation
    async def archive_session(self, info: Info, input: ArchiveSessionInput) -> ArchiveSessionPayload:
        ctx = info.context
        row = await ctx.services.sessions.archive(ctx.principal, _session_id(input.id, "input.id"))
        return ArchiveSessionPayload(session=Session.from_row(row))

    @strawberry.mutation
    async def delete_session(self, info: Info, input: DeleteSessionInput) -> DeleteSessionPayload:
        ctx = info.context
        key = _session_id(input.id, "input.id")
        await ctx.services.sessions.delete(ctx.principal, key)
        return DeleteSessionPayload(deleted_id=strawberry.ID(to_global_id("Session", key)))

    @strawberry.mutation(description="Applies to the running turn too, when there is one.")
    async def set_permission_mode(self, info: Info, input: SetPermissionModeInput) -> SessionPayload:
        ctx = info.context
        row = await ctx.services.sessions.set_permission_mode(
            ctx.principal, _session_id(input.session_id, "input.sessionId"), input.mode.value
        )
        return SessionPayload(session=Session.from_row(row))

    @strawberry.mutation(description="Applies to the running turn too, when there is one.")
    async def set_model(self, info: Info, input: SetModelInput) -> SessionPayload:
        ctx = info.context
        row = await ctx.services.sessions.set_model(
            ctx.principal, _session_id(input.session_id, "input.sessionId"), input.model
        )
        return SessionPayload(session=Session.from_row(row))
