"""A local fake of the Anthropic Messages API, for running the REAL Claude Code CLI offline.

Point the bundled CLI at it through ``ClaudeAgentOptions.env``::

    with FakeMessagesAPI() as api:
        env = api.cli_env()   # ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY=dummy,
                              # CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
        ...
        api.requests          # every request received, for assertions

or run it alone: ``python -m tests.agent_doubles.fake_messages_api --port 8765``.

What it serves:
- ``POST /v1/messages`` with ``"stream": true``: a ``text/event-stream`` of
  message_start, content_block_start, content_block_delta (text_delta,
  input_json_delta, thinking_delta, signature_delta), content_block_stop,
  message_delta (stop_reason ``end_turn`` or ``tool_use``, usage), message_stop.
- ``POST /v1/messages`` without stream (the CLI's small side calls): a JSON message.
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``.
- any ``GET``: ``{"data": [], "has_more": false}``; any other ``POST``: ``{}``.

Scripting. The turn's prompt is the last text block of the last user message
that carries no tool_result (the CLI merges consecutive user messages, e.g. a
prompt after an interrupt, and adds ``<system-reminder>`` and ``[Image: ...]``
text of its own: those are skipped). The directive is the last line of that
prompt starting with one of the keywords below. The step of a multi-step
directive is the number of assistant messages after that prompt, so each tool
round trip advances it. Paths must be absolute (the fake
does not know the CLI's cwd). Tool directives apply only to main-loop
requests (those that offer tools); side calls always get plain text.

  WRITE <path> <content>     Write tool_use {file_path, content}; then text "done".
                             ``\\n`` in <content> becomes a newline.
  EDIT <path> <old> => <new> Read tool_use, then Edit tool_use
                             {file_path, old_string, new_string}, then "done"
                             (the CLI refuses an Edit of a file not read first).
  READ <path>                Read tool_use; then text "Read result: <tool_result content>".
  TOOL <Name> <json-input>   any tool_use; then text "Tool result: <tool_result content>".
  SLOW <N> [<delay>]         N text deltas "chunk <i> " with <delay> s (default 0.05)
                             between them (for interrupts); stops early if the
                             client goes away.
  THINK [<text>]             a thinking block (thinking_delta + signature_delta),
                             then text "Thought about it".
  JSON <json-object>         with --json-schema (the CLI then offers a StructuredOutput
                             tool): call StructuredOutput with that object. Without
                             this directive a value is made up from the schema.
  HTTPERROR <status> [msg]   answer with that HTTP status and an Anthropic error
                             body. The CLI retries 408/409/429/5xx with backoff
                             (slow) unless its env has CLAUDE_CODE_MAX_RETRIES=0;
                             it then ends the turn with an "API Error: ..." assistant
                             message and an error result (api_error_status).
  (anything else)            text "Echo: <last prompt line>" in a few deltas.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

MODEL = "claude-opus-5-5"
_REMINDER_RE = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_DIRECTIVES = ("WRITE", "EDIT", "READ", "TOOL", "SLOW", "THINK", "HTTPERROR", "JSON")


@dataclass
class RecordedRequest:
    """One HTTP request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON, or None

    @property
    def is_messages_call(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0] == "/v1/messages"


@dataclass
class _Block:
    """One content block of a scripted reply."""

    kind: str  # text | tool_use | thinking
    text: str = ""
    tool_name: str = ""
    tool_input: dict[str, Any] = field(default_factory=dict)
    chunks: int = 3
    delay: float = 0.0


@dataclass
class _Reply:
    blocks: list[_Block]
    http_status: int = 200
    error_message: str = ""


# --------------------------------------------------------------------------- scripting


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _has_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _last_tool_result_text(messages: list[dict[str, Any]]) -> str:
    for msg in reversed(messages):
        content = msg.get("content")
        if msg.get("role") != "user" or not isinstance(content, list):
            continue
        for block in reversed(content):
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                return inner if isinstance(inner, str) else _text_of(inner)
    return ""


def _prompt_text(content: Any) -> str:
    """The user's own text in a (possibly merged) user message: its last text block.

    The CLI merges consecutive user messages (e.g. a prompt after an interrupt or
    an API error) into one with several text blocks, and adds reminders and
    ``[Image: ...]`` notes of its own; those are skipped.
    """
    if isinstance(content, str):
        return _REMINDER_RE.sub("", content).strip()
    texts = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "text":
            text = _REMINDER_RE.sub("", block.get("text") or "").strip()
            if text and not text.startswith(("[Image", "[Request interrupted")):
                texts.append(text)
    return texts[-1] if texts else ""


def prompt_and_step(body: dict[str, Any]) -> tuple[str, int]:
    """The turn's prompt text and how many assistant replies follow it."""
    messages = body.get("messages") or []
    for index in range(len(messages) - 1, -1, -1):
        msg = messages[index]
        if msg.get("role") == "user" and not _has_tool_result(msg.get("content")):
            text = _prompt_text(msg.get("content"))
            if not text:
                continue
            step = sum(1 for m in messages[index + 1 :] if m.get("role") == "assistant")
            return text, step
    return "", 0


def _directive(prompt: str) -> tuple[str, str]:
    found = ("", "")
    for line in prompt.splitlines():
        line = line.strip()
        word, _, rest = line.partition(" ")
        if word in _DIRECTIVES:
            found = (word, rest.strip())
    return found


def _tool_schema(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("name") == name:
            schema = tool.get("input_schema")
            return schema if isinstance(schema, dict) else {}
    return None


def _offers_tool(body: dict[str, Any], name: str) -> bool:
    return _tool_schema(body, name) is not None


def example_for_schema(schema: Any) -> Any:
    """A small value that satisfies a simple JSON schema (for StructuredOutput)."""
    if not isinstance(schema, dict):
        return "fake"
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        keys = schema.get("required") or list(props)
        return {k: example_for_schema(props.get(k)) for k in keys}
    if kind == "array":
        return [example_for_schema(schema.get("items"))] if schema.get("minItems") else []
    return {"string": "fake", "integer": 1, "number": 1, "boolean": True, "null": None}.get(
        kind, "fake"
    )


def script_reply(body: dict[str, Any]) -> _Reply:
    """Decide the reply to one /v1/messages request from its last prompt."""
    prompt, step = prompt_and_step(body)
    word, rest = _directive(prompt)
    main_loop = bool(body.get("tools"))
    done = _Block("text", "done")

    def tool_or_text(name: str, tool_input: dict[str, Any]) -> _Reply:
        if not _offers_tool(body, name):
            return _Reply([_Block("text", f"tool {name} is not available")])
        return _Reply([_Block("tool_use", tool_name=name, tool_input=tool_input)])

    if word == "HTTPERROR":
        status_text, _, message = rest.partition(" ")
        return _Reply([], http_status=int(status_text), error_message=message or "fake error")
    if word == "SLOW":
        parts = rest.split()
        count = int(parts[0]) if parts else 20
        delay = float(parts[1]) if len(parts) > 1 else 0.05
        text = "".join(f"chunk {i} " for i in range(count))
        return _Reply([_Block("text", text, chunks=count, delay=delay)])
    if word == "THINK":
        return _Reply(
            [_Block("thinking", rest or "Let me think."), _Block("text", "Thought about it")]
        )
    structured = _tool_schema(body, "StructuredOutput") if main_loop else None
    if structured is not None and word in ("", "JSON"):
        if step == 0:
            value = json.loads(rest) if word == "JSON" else example_for_schema(structured)
            return _Reply([_Block("tool_use", tool_name="StructuredOutput", tool_input=value)])
        return _Reply([done])
    if main_loop and word == "WRITE":
        path, _, content = rest.partition(" ")
        if step == 0:
            return tool_or_text(
                "Write", {"file_path": path, "content": content.replace("\\n", "\n")}
            )
        return _Reply([done])
    if main_loop and word == "EDIT":
        path, _, change = rest.partition(" ")
        old, _, new = change.partition(" => ")
        if step == 0:
            return tool_or_text("Read", {"file_path": path})
        if step == 1:
            return tool_or_text("Edit", {"file_path": path, "old_string": old, "new_string": new})
        return _Reply([done])
    if main_loop and word == "READ":
        if step == 0:
            return tool_or_text("Read", {"file_path": rest})
        result = _last_tool_result_text(body.get("messages") or [])
        return _Reply([_Block("text", f"Read result: {result}")])
    if main_loop and word == "TOOL":
        name, _, raw_input = rest.partition(" ")
        if step == 0:
            return tool_or_text(name, json.loads(raw_input or "{}"))
        result = _last_tool_result_text(body.get("messages") or [])
        return _Reply([_Block("text", f"Tool result: {result}")])
    last_line = prompt.splitlines()[-1] if prompt else ""
    return _Reply([_Block("text", f"Echo: {last_line}")])


# --------------------------------------------------------------------------- wire format


def _split(text: str, parts: int) -> list[str]:
    parts = max(1, min(parts, len(text) or 1))
    size = -(-len(text) // parts) if text else 1
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _usage(body: dict[str, Any]) -> dict[str, int]:
    approx = max(1, len(json.dumps(body.get("messages") or [])) // 4)
    return {
        "input_tokens": approx,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _final_block(block: _Block, tool_id: str) -> dict[str, Any]:
    if block.kind == "tool_use":
        return {
            "type": "tool_use",
            "id": tool_id,
            "name": block.tool_name,
            "input": block.tool_input,
        }
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": block.text, "signature": "fake-signature"}
    return {"type": "text", "text": block.text}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # ---- plumbing
    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def _record(self, body: Any) -> None:
        self.server.owner._record(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        )

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
        self.end_headers()
        self.wfile.write(data)

    # ---- verbs
    def do_GET(self) -> None:
        self._record(None)
        self._send_json(200, {"data": [], "has_more": False, "first_id": None, "last_id": None})

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        path = self.path.split("?")[0]
        if path == "/v1/messages/count_tokens":
            tokens = _usage(body if isinstance(body, dict) else {})["input_tokens"]
            self._send_json(200, {"input_tokens": tokens})
        elif path == "/v1/messages" and isinstance(body, dict):
            self._messages(body)
        else:
            self._send_json(200, {})

    def _messages(self, body: dict[str, Any]) -> None:
        reply = script_reply(body)
        if reply.http_status != 200:
            error_type = {
                400: "invalid_request_error",
                401: "authentication_error",
                403: "permission_error",
                404: "not_found_error",
                429: "rate_limit_error",
                529: "overloaded_error",
            }.get(reply.http_status, "api_error")
            self._send_json(
                reply.http_status,
                {"type": "error", "error": {"type": error_type, "message": reply.error_message}},
            )
            return
        msg_id = f"msg_fake_{uuid.uuid4().hex[:16]}"
        tool_ids = [f"toolu_fake_{uuid.uuid4().hex[:16]}" for _ in reply.blocks]
        stop_reason = "tool_use" if any(b.kind == "tool_use" for b in reply.blocks) else "end_turn"
        usage = _usage(body)
        output_tokens = sum(max(1, len(b.text) // 4) for b in reply.blocks) + 1
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model") or MODEL,
                    "content": [_final_block(b, t) for b, t in zip(reply.blocks, tool_ids)],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": output_tokens},
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
        self.end_headers()
        self.close_connection = True
        try:
            self._event(
                "message_start",
                {
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": body.get("model") or MODEL,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": usage,
                    }
                },
            )
            for index, (block, tool_id) in enumerate(zip(reply.blocks, tool_ids)):
                self._stream_block(index, block, tool_id)
            self._event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                },
            )
            self._event("message_stop", {})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the CLI went away (interrupt): nothing left to tell it

    def _stream_block(self, index: int, block: _Block, tool_id: str) -> None:
        if block.kind == "tool_use":
            start = {"type": "tool_use", "id": tool_id, "name": block.tool_name, "input": {}}
            self._event("content_block_start", {"index": index, "content_block": start})
            for piece in _split(json.dumps(block.tool_input), 3):
                delta = {"type": "input_json_delta", "partial_json": piece}
                self._event("content_block_delta", {"index": index, "delta": delta})
        elif block.kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            self._event("content_block_start", {"index": index, "content_block": start})
            for piece in _split(block.text, 2):
                delta = {"type": "thinking_delta", "thinking": piece}
                self._event("content_block_delta", {"index": index, "delta": delta})
            delta = {"type": "signature_delta", "signature": "fake-signature"}
            self._event("content_block_delta", {"index": index, "delta": delta})
        else:
            self._event(
                "content_block_start",
                {"index": index, "content_block": {"type": "text", "text": ""}},
            )
            for i, piece in enumerate(_split(block.text, block.chunks)):
                if i and block.delay:
                    time.sleep(block.delay)
                delta = {"type": "text_delta", "text": piece}
                self._event("content_block_delta", {"index": index, "delta": delta})
        self._event("content_block_stop", {"index": index})

    def _event(self, name: str, payload: dict[str, Any]) -> None:
        data = json.dumps({"type": name, **payload})
        self.wfile.write(f"event: {name}\ndata: {data}\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeMessagesAPI


class FakeMessagesAPI:
    """The fake API server, in a background thread. Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def messages_requests(self) -> list[dict[str, Any]]:
        """Bodies of the POST /v1/messages requests, in arrival order."""
        return [r.body for r in self.requests if r.is_messages_call and isinstance(r.body, dict)]

    def cli_env(self) -> dict[str, str]:
        """Environment that points the real CLI at this fake, offline."""
        return {
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": "dummy",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def start(self) -> FakeMessagesAPI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-messages-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    api = FakeMessagesAPI(args.host, args.port)
    print(f"fake Messages API on {api.base_url}", flush=True)
    try:
        api._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api._server.server_close()


if __name__ == "__main__":
    main()
