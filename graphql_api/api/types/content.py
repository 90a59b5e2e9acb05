"""Message content as a typed union, read from the stored Claude-format block dicts."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON


@strawberry.type
class TextBlock:
    text: str


@strawberry.type
class ThinkingBlock:
    thinking: str


@strawberry.type
class ToolUseBlock:
    tool_use_id: str
    name: str
    input: JSON


@strawberry.type
class ToolResultBlock:
    tool_use_id: str
    content: JSON | None
    is_error: bool


@strawberry.type
class ImageBlock:
    media_type: str
    source: str = strawberry.field(description="base64 data or a URL.")


ContentBlock = Annotated[
    TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock | ImageBlock,
    strawberry.union("ContentBlock"),
]


def _image(block: dict[str, Any]) -> ImageBlock:
    source = block.get("source") or {}
    if source.get("type") == "url":
        return ImageBlock(media_type=source.get("media_type", ""), source=source.get("url", ""))
    return ImageBlock(media_type=source.get("media_type", ""), source=source.get("data", ""))


_BUILDERS: dict[str, Any] = {
    "text": lambda b: TextBlock(text=b.get("text", "")),
    "thinking": lambda b: ThinkingBlock(thinking=b.get("thinking", "")),
    "tool_use": lambda b: ToolUseBlock(
        tool_use_id=b.get("id", ""), name=b.get("name", ""), input=b.get("input") or {}
    ),
    "tool_result": lambda b: ToolResultBlock(
        tool_use_id=b.get("tool_use_id", ""),
        content=b.get("content"),
        is_error=bool(b.get("is_error")),
    ),
    "image": _image,
}


def content_blocks(stored: list[dict[str, Any]]) -> list[Any]:
    """Known block types become union members; others stay readable in `rawContent`."""
    blocks = []
    for block in stored:
        build = _BUILDERS.get(block.get("type", ""))
        if build is not None:
            blocks.append(build(block))
    return blocks
