"""Validating what clients may ask of the agent. Every refusal names the input field.

Clients never choose the working directory or environment: each session works in its own
workspace, and only the server's configuration reaches the agent process.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from graphql_api.domain.errors import BadUserInput
from graphql_api.settings import Settings

PERMISSION_MODES = ("DEFAULT", "ACCEPT_EDITS", "PLAN", "BYPASS_PERMISSIONS")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TOOL_PATTERN = re.compile(r"^[A-Za-z0-9_.:*()\-/ ,\[\]]{1,200}$")
MODEL_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-\[\]/]{1,100}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_TOOLS = 100
MAX_JSON_BYTES = 64 * 1024


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} must be a JSON object", field=field)
    if _json_size(value) > MAX_JSON_BYTES:
        raise BadUserInput(f"{field} is larger than {MAX_JSON_BYTES} bytes", field=field)
    return value


def validate_title(title: str | None, field: str = "input.title") -> str | None:
    if title is not None and len(title) > 500:
        raise BadUserInput("title is longer than 500 characters", field=field)
    return title


def validate_metadata(metadata: Any, field: str = "input.metadata") -> dict[str, Any] | None:
    return None if metadata is None else _object(metadata, field)


def validate_model(model: str | None, field: str = "input.model") -> str | None:
    if model is not None and not MODEL_PATTERN.match(model):
        raise BadUserInput(f"'{model}' is not a model name", field=field)
    return model


def validate_permission_mode(mode: str, settings: Settings, field: str) -> str:
    if mode not in PERMISSION_MODES:
        raise BadUserInput(f"unknown permission mode {mode!r}", field=field)
    if mode == "BYPASS_PERMISSIONS" and not settings.allow_bypass_permissions:
        raise BadUserInput(
            "BYPASS_PERMISSIONS is disabled on this server (ALLOW_BYPASS_PERMISSIONS)", field=field
        )
    return mode


def _tools(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise BadUserInput(f"{field} must be a list of at most {MAX_TOOLS} tool names", field=field)
    for tool in value:
        if not isinstance(tool, str) or not TOOL_PATTERN.match(tool):
            raise BadUserInput(f"{tool!r} is not a tool name or pattern", field=field)
    return value


def _mcp_servers(value: Any, settings: Settings) -> dict[str, Any]:
    field = "input.mcpServers"
    servers = _object(value, field)
    for name, config in servers.items():
        where = f"{field}.{name}"
        if not NAME_PATTERN.match(name):
            raise BadUserInput(f"{name!r} is not a valid MCP server name", field=field)
        _object(config, where)
        kind = config.get("type", "stdio")
        if kind in ("http", "sse"):
            url = config.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise BadUserInput(f"{where}.url must be an http(s) URL", field=where)
            headers = config.get("headers", {})
            if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
                raise BadUserInput(f"{where}.headers must map names to strings", field=where)
        elif kind == "stdio":
            if not settings.allow_stdio_mcp_servers:
                raise BadUserInput(
                    "stdio MCP servers run commands on the server and are disabled "
                    "(ALLOW_STDIO_MCP_SERVERS)",
                    field=where,
                )
            if not isinstance(config.get("command"), str):
                raise BadUserInput(f"{where}.command must be a string", field=where)
            if "env" in config:
                raise BadUserInput(f"{where}.env cannot be set by clients", field=where)
        else:
            raise BadUserInput(f"{where}.type must be http, sse or stdio", field=where)
    return servers


def _agents(value: Any) -> dict[str, Any]:
    field = "input.agents"
    agents = _object(value, field)
    allowed_keys = {"description", "prompt", "tools", "model"}
    for name, definition in agents.items():
        where = f"{field}.{name}"
        if not NAME_PATTERN.match(name):
            raise BadUserInput(f"{name!r} is not a valid subagent name", field=field)
        _object(definition, where)
        if not isinstance(definition.get("description"), str) or not isinstance(
            definition.get("prompt"), str
        ):
            raise BadUserInput(f"{where} needs string 'description' and 'prompt'", field=where)
        unknown = set(definition) - allowed_keys
        if unknown:
            raise BadUserInput(f"{where} has unknown keys {sorted(unknown)}", field=where)
        if "tools" in definition:
            _tools(definition["tools"], f"{where}.tools")
        if "model" in definition and definition["model"] not in ("sonnet", "opus", "haiku", "inherit"):
            raise BadUserInput(f"{where}.model must be sonnet, opus, haiku or inherit", field=where)
    return agents


def _output_schema(value: Any) -> dict[str, Any]:
    field = "input.outputSchema"
    schema = _object(value, field)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise BadUserInput(f"outputSchema is not a valid JSON schema: {error.message}", field=field) from None
    return schema


def _int_between(value: Any, low: int, high: int, field: str) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise BadUserInput(f"{field} must be between {low} and {high}", field=field)
    return value


def session_options(raw: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The stored `options` of a new session, from CreateSessionInput's agent fields."""
    options: dict[str, Any] = {
        "permissionMode": validate_permission_mode(
            raw.get("permissionMode") or "DEFAULT", settings, "input.permissionMode"
        )
    }
    if raw.get("systemPrompt") is not None:
        if len(raw["systemPrompt"]) > settings.max_prompt_chars:
            raise BadUserInput("systemPrompt is too long", field="input.systemPrompt")
        options["systemPrompt"] = raw["systemPrompt"]
    for name in ("allowedTools", "disallowedTools"):
        if raw.get(name) is not None:
            options[name] = _tools(raw[name], f"input.{name}")
    if raw.get("maxTurns") is not None:
        options["maxTurns"] = _int_between(raw["maxTurns"], 1, 1000, "input.maxTurns")
    if raw.get("maxBudgetUsd") is not None:
        budget = raw["maxBudgetUsd"]
        if not isinstance(budget, (int, float)) or not 0 < budget <= settings.max_budget_usd_limit:
            raise BadUserInput(
                f"maxBudgetUsd must be above 0 and at most {settings.max_budget_usd_limit}",
                field="input.maxBudgetUsd",
            )
        options["maxBudgetUsd"] = float(budget)
    if raw.get("outputSchema") is not None:
        options["outputSchema"] = _output_schema(raw["outputSchema"])
    if raw.get("mcpServers") is not None:
        options["mcpServers"] = _mcp_servers(raw["mcpServers"], settings)
    if raw.get("agents") is not None:
        options["agents"] = _agents(raw["agents"])
    if raw.get("enableFileCheckpointing") is not None:
        options["enableFileCheckpointing"] = bool(raw["enableFileCheckpointing"])
    if raw.get("approvalTimeoutSeconds") is not None:
        options["approvalTimeoutSeconds"] = _int_between(
            raw["approvalTimeoutSeconds"], 1, 86_400, "input.approvalTimeoutSeconds"
        )
    return options


@dataclass(frozen=True, slots=True)
class ImageSpec:
    media_type: str
    data: str | None = None
    url: str | None = None


def validate_prompt(prompt: str, settings: Settings, field: str = "input.prompt") -> str:
    if not prompt.strip():
        raise BadUserInput("the prompt is empty", field=field)
    if len(prompt) > settings.max_prompt_chars:
        raise BadUserInput(
            f"the prompt is longer than {settings.max_prompt_chars} characters",
            field=field,
            max=settings.max_prompt_chars,
        )
    return prompt


def image_blocks(images: list[ImageSpec], settings: Settings) -> list[dict[str, Any]]:
    """Images as Claude content blocks; type, size and source checked."""
    if len(images) > settings.max_images:
        raise BadUserInput(f"at most {settings.max_images} images", field="input.images")
    blocks = []
    for index, image in enumerate(images):
        field = f"input.images.{index}"
        if image.media_type not in IMAGE_TYPES:
            raise BadUserInput(
                f"mediaType must be one of {', '.join(IMAGE_TYPES)}", field=f"{field}.mediaType"
            )
        if (image.data is None) == (image.url is None):
            raise BadUserInput("give exactly one of data and url", field=field)
        if image.url is not None:
            if not image.url.startswith("https://") or len(image.url) > 2048:
                raise BadUserInput("url must be an https URL", field=f"{field}.url")
            blocks.append({"type": "image", "source": {"type": "url", "url": image.url}})
            continue
        assert image.data is not None
        if len(image.data) > settings.max_image_bytes * 4 // 3 + 4:
            raise BadUserInput(
                f"the image is larger than {settings.max_image_bytes} bytes", field=f"{field}.data"
            )
        try:
            decoded = base64.b64decode(image.data, validate=True)
        except (binascii.Error, ValueError):
            raise BadUserInput("data is not valid base64", field=f"{field}.data") from None
        if len(decoded) > settings.max_image_bytes:
            raise BadUserInput(
                f"the image is larger than {settings.max_image_bytes} bytes", field=f"{field}.data"
            )
        blocks.append(
            {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}
        )
    return blocks
