"""Turn mutations: send a message (with a busy strategy, optionally waiting), interrupt."""

from __future__ import annotations

from enum import Enum

import strawberry

from graphql_api.api.context import Info
from graphql_api.api.ids import expect_global_id
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn
from graphql_api.domain.options import ImageSpec


@strawberry.enum(description="What to do when a message arrives while a turn is running.")
class BusyStrategy(Enum):
    REJECT = strawberry.enum_value("REJECT", description="Refuse the message with error code TURN_IN_PROGRESS.")
    ENQUEUE = strawberry.enum_value("ENQUEUE", description="Queue the turn; it runs when the running one ends.")
    INTERRUPT = strawberry.enum_value("INTERRUPT", description="Interrupt the running turn, then run this one.")


@strawberry.input
class ImageInput:
    media_type: str
    data: str | None = strawberry.field(default=None, description="Exactly one of data (base64) and url.")
    url: str | None = None


def images_of(images: list[ImageInput] | None) -> list[ImageSpec]:
    return [ImageSpec(i.media_type, i.data, i.url) for i in images or []]


@strawberry.input
class SendMessageInput:
    session_id: strawberry.ID
    prompt: str
    images: list[ImageInput] | None = None
    if_busy: BusyStrategy | None = BusyStrategy.REJECT
    wait: bool | None = strawberry.field(
        default=False,
        description="Answer only once the turn has finished (bounded by the server's wait limit).",
    )


@strawberry.type
class SendMessagePayload:
    session: Session
    turn: Turn


@strawberry.input
class InterruptInput:
    session_id: strawberry.ID


@strawberry.type
class InterruptPayload:
    session: Session
    turn: Turn | None = strawberry.field(description="The turn that was interrupted, if one was running.")


@strawberry.type
class TurnMutations:
    @strawberry.mutation
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        ctx = info.context
        session, turn = await ctx.services.turns.send_message(
            ctx.principal,
            expect_global_id(input.session_id, "Session", field="input.sessionId"),
            input.prompt,
            images_of(input.images),
            if_busy=(input.if_busy or BusyStrategy.REJECT).value,
            wait=bool(input.wait),
        )
        return SendMessagePayload(session=Session.from_row(session), turn=Turn.from_row(turn))

    @strawberry.mutation
    async def interrupt(self, info: Info, input: InterruptInput) -> InterruptPayload:
        ctx = info.context
        session, turn = await ctx.services.turns.interrupt(
            ctx.principal, expect_global_id(input.session_id, "Session", field="input.sessionId")
        )
        return InterruptPayload(
            session=Session.from_row(session), turn=Turn.from_row(turn) if turn is not None else None
        )
