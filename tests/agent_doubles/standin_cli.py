#!/usr/bin/python3 -IS
"""Stand-in for the Claude Code CLI, for ``ClaudeAgentOptions(cli_path=...)``.

Stdlib only and self-contained (``-I -S``: no site, no sibling imports), so it
starts in ~40 ms. It speaks the NDJSON stream-json protocol the way Claude Code
2.1.332 does (frames recorded from the real CLI, driven by claude-agent-sdk
0.2.189), and is scripted by the prompt text.

Directives
----------
A directive is a prompt line starting with ``!``; the other lines are the plain
prompt. Several directives may be combined (one per line).

  (none)                 answer "Echo: <plain prompt>" in 3 text deltas; "OK" if
                         the plain prompt is empty. Image blocks in a list
                         content are counted: "Echo: look (received 2 images)".
  !recall                answer "Earlier prompts:\\n1. <p1>\\n2. <p2>..." listing
                         every earlier user prompt of this session as sent,
                         whitespace collapsed to single spaces (resumed ones
                         included); "Earlier prompts: (none)" if there are none.
  !slow N DELAY          stream N deltas "chunk <i> " with DELAY s between them
                         (defaults 20, 0.05). An interrupt ends the turn within
                         ~10 ms.
  !many N                N text blocks "block <i>" in one message (one assistant
                         frame each, same message.id).
  !thinking [TEXT]       a thinking block (thinking + signature) first.
  !tool NAME JSON        a tool_use of NAME with input JSON. Permission: denied
                         if NAME is in --disallowedTools; allowed without asking
                         if in --allowedTools, read-only (Read, Glob, Grep, Task,
                         ...), or by the permission mode (bypassPermissions;
                         acceptEdits for Write/Edit); otherwise, with
                         --permission-prompt-tool stdio, a can_use_tool control
                         request; without it, allowed (dontAsk: denied).
                         Allowed: a user tool_result "Tool NAME ran with input
                         <updatedInput as sorted JSON>", then the text
                         "Tool NAME finished". Denied: a tool_result with
                         is_error true carrying the deny message, the text
                         "Tool NAME denied: <message>", and the denial in
                         result.permission_denials. A deny with interrupt:true
                         aborts the turn. Write really writes (file_path,
                         content; relative to cwd) and Read really reads.
  !write PATH CONTENT    shorthand for !tool Write {"file_path": PATH, "content": CONTENT}.
  !subagent [TEXT]       a Task tool_use, then a user and an assistant message
                         with parent_tool_use_id = that tool's id (also written
                         to <session>/subagents/agent-<id>.jsonl), the Task
                         tool_result, and the text "Subagent finished".
  !structured JSON       with --json-schema: the StructuredOutput value (without
                         this directive a value is made up from the schema).
                         With --json-schema every successful turn ends with a
                         StructuredOutput tool_use + tool_result, and the result
                         carries structured_output and result=<compact JSON>.
  !cost X                this turn's cost per model round (default 0.001 USD).
  !stderr TEXT           write TEXT to stderr at the start of the turn.
  !error [MESSAGE]       end the turn at once with a result subtype
                         error_during_execution, is_error true, errors [MESSAGE].
  !api-error [STATUS] [MESSAGE]
                         as the real CLI after a failed API call: an assistant
                         frame (model "<synthetic>", error "rate_limit" for 429,
                         "server_error" for 5xx, "authentication_failed" for
                         401/403, "invalid_request" for 400, else "unknown")
                         with text "API Error: ...", then a result subtype
                         success, is_error true, api_error_status STATUS
                         (default 429), terminal_reason api_error.
  !max-turns             end with result subtype error_max_turns.
  !crash [CODE]          stream one assistant frame, write "standin: simulated
                         crash" to stderr and exit CODE (default 3) mid-turn.

Not scripted by the prompt (they act before any prompt):
  env STANDIN_HANG_INIT=1   never answer initialize. The SDK then waits
                            max(CLAUDE_CODE_STREAM_CLOSE_TIMEOUT, 60 s) and raises
                            Exception("Control request timeout: initialize"):
                            every such test costs 60 s.

Flags honoured: -v/--version, --model, --permission-mode, --resume=ID (keeps
ID), --fork-session (new uuid; earlier entries copied into the new transcript),
--session-id=ID, --continue, --resume-session-at=UUID, --json-schema,
--max-turns (a tool turn takes 2 rounds; the round past the limit ends with
error_max_turns), --max-budget-usd (checked before each round and after the
last: error_max_budget_usd), --permission-prompt-tool stdio, --allowedTools,
--disallowedTools, --tools, --include-partial-messages, --replay-user-messages,
--session-mirror. Others are accepted and ignored.

Control requests answered: initialize, interrupt ({"still_queued": []}),
set_permission_mode ({"mode"} plus a system/status frame), set_model
({"model"}), rewind_files, mcp_status ({"mcpServers": []}), get_context_usage;
anything else gets an error reply. Hooks and MCP servers are not simulated
(initialize says hook_on_failure_supported: false).

What the real CLI does, and this stand-in copies
------------------------------------------------
- One turn: session_state_changed(running, sdk_host_only; only when the SDK
  set CLAUDE_CODE_SDK_READS_SESSION_STATE) -> system/init (again every turn)
  -> [user replay with isReplay, with --replay-user-messages] -> per model
  round: system/status(requesting), stream_event message_start,
  content_block_start, deltas, then the block's `assistant` frame, then
  content_block_stop, ..., message_delta, message_stop -> [user tool_result]
  -> result -> session_state_changed(idle).
- total_cost_usd and modelUsage in a result are cumulative for the PROCESS
  (they restart at 0 in a resumed process); usage is the turn's own.
- A prompt sent as a dict with a top-level "uuid" keeps that uuid: it is the
  transcript entry's uuid, the rewind_files checkpoint id, and comes back as
  user_message_uuid(s) on the turn's first stream_event, first assistant frame
  and its result. (So a host can rewind without --replay-user-messages.)
- rewind_files: error "File rewinding is not enabled." unless the SDK set
  CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING (enable_file_checkpointing=True);
  error "No file checkpoint found for this message." for an unknown uuid;
  else {"canRewind": true, "skippedLinks": 0} with files restored to their
  state before that prompt (a file created since is deleted). Checkpoints
  survive the process: the real CLI writes file-history-snapshot entries into
  the transcript and backups under <config>/file-history/<session_id>/, so a
  --resume'd process on the same config dir can rewind to prompts of earlier
  processes. (The stand-in keeps its backups the same way, with entries of its
  own, "standin-file-backup" and "standin-rewind", in the transcript.)
- interrupt: reply {"still_queued": []}; the turn then emits the partial
  assistant text so far, a user frame "[Request interrupted by user]" and a
  result error_during_execution, is_error true, terminal_reason
  aborted_streaming. While a can_use_tool request is pending instead: a
  control_cancel_request for it (the SDK cancels the callback), a tool_result
  "The user doesn't want to proceed with this tool use...", the user frame
  "[Request interrupted by user for tool use]" and a result with
  terminal_reason aborted_tools, stop_reason tool_use. Queued prompts still run.
- Unknown --resume id: stderr "No conversation found with session ID: <id>",
  an error result (errors [that text]) instead of the initialize reply, exit 1.
- On stdin EOF: finish queued turns, exit 1 if the last result was an error.

Session store / transcript mirroring (read from the SDK source and checked
against the real CLI)
-----------------------------------------------------------------------------
- Transcripts live at <config>/projects/<project key>/<session_id>.jsonl, where
  <config> is $CLAUDE_CONFIG_DIR (here: else $TMPDIR/claude-standin-<uid>;
  the real CLI: ~/.claude) and the project key is the realpath of the cwd,
  NFC-normalised, every non-alphanumeric character replaced by "-" (longer than
  200 characters: cut to 200 plus "-" and a base-36 32-bit string hash), as
  claude_agent_sdk.project_key_for_directory() computes it.
- With ClaudeAgentOptions(session_store=...) the SDK passes --session-mirror.
  After each local append the CLI writes a stdout frame
  {"type": "transcript_mirror", "filePath": <absolute transcript path>,
  "entries": [<the lines just appended>]}. The SDK peels these off (they never
  reach the caller), maps filePath to a SessionKey relative to
  <CLAUDE_CONFIG_DIR from options.env, else os.environ, else ~/.claude>/projects
  (so the CLI's config dir must be that one: set CLAUDE_CONFIG_DIR), and calls
  store.append(key, entries) before it yields each result. Subagent files
  <session>/subagents/agent-<id>.jsonl map to subpath "subagents/agent-<id>".
- Resume with a store needs nothing more from the CLI: before spawning, the SDK
  loads the entries with store.load({"project_key", "session_id"}), writes them
  to <tmp>/projects/<key>/<id>.jsonl, and spawns the CLI with
  CLAUDE_CONFIG_DIR=<tmp> and --resume=<id>; the CLI resumes from that local
  file and mirrors only new entries. A fork's first append carries copies of
  every earlier entry under the new session id.
- So this stand-in supports resume from a store, with an empty config dir, on
  any machine.
"""

import json
import os
import queue
import re
import sys
import threading
import time
import unicodedata

VERSION = "2.1.332"
DEFAULT_MODEL = "claude-opus-5-5"
ROUND_COST_USD = 0.001
READ_ONLY_TOOLS = {"Read", "Glob", "Grep", "LS", "Task", "Agent", "TodoWrite", "StructuredOutput"}
EDIT_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
DEFAULT_TOOLS = ["Task", "Bash", "Edit", "Glob", "Grep", "Read", "WebFetch", "WebSearch", "Write"]
# fmt: off
VALUE_FLAGS = {
    "output-format", "input-format", "system-prompt", "system-prompt-file", "append-system-prompt",
    "tools", "allowedTools", "max-turns", "max-budget-usd", "disallowedTools", "task-budget",
    "model", "fallback-model", "betas", "permission-prompt-tool", "permission-mode", "session-id",
    "settings", "add-dir", "mcp-config", "resume-session-at", "resume-drops-turn",
    "setting-sources", "plugin-dir", "thinking", "max-thinking-tokens", "thinking-display",
    "effort", "json-schema",
}
# fmt: on
INTERRUPTED = "[Request interrupted by user]"
INTERRUPT_DIAGNOSTIC = "[ede_diagnostic] result_type=user last_content_type=n/a stop_reason={}"
TOOL_INTERRUPTED = "[Request interrupted by user for tool use]"
TOOL_REJECTED = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it"
    " was a file edit, the new_string was NOT written to the file). STOP what you are doing and"
    " wait for the user to tell you how to proceed."
)


# --------------------------------------------------------------------------- helpers


def new_uuid():
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def short_id():
    return os.urandom(8).hex()


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def js_string_hash(text):
    """32-bit JavaScript-style string hash in base 36 (the CLI's long-path suffix)."""
    h = 0
    for ch in text:
        h = ((h << 5) - h + ord(ch)) & 0xFFFFFFFF
    if h >= 0x80000000:
        h -= 0x100000000
    h = abs(h)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        h, rem = divmod(h, 36)
        out = digits[rem] + out
        if not h:
            return out


def project_key(cwd):
    path = unicodedata.normalize("NFC", os.path.realpath(cwd))
    key = re.sub(r"[^a-zA-Z0-9]", "-", path)
    return key if len(key) <= 200 else f"{key[:200]}-{js_string_hash(path)}"


def config_dir():
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        return unicodedata.normalize("NFC", os.path.abspath(configured))
    base = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(base, f"claude-standin-{os.getuid()}")


def parse_args(argv):
    opts = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-v", "--version"):
            opts["version"] = True
        elif arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq and name in VALUE_FLAGS and i + 1 < len(argv):
                value, i = argv[i + 1], i + 1
            elif not eq:
                value = True
            if name in ("add-dir", "plugin-dir"):
                opts.setdefault(name, []).append(value)
            else:
                opts[name] = value
        i += 1
    return opts


def split_list(value):
    if not isinstance(value, str):
        return set()
    return {part.strip() for part in re.split(r"[,\s]+", value) if part.strip()}


def pieces(text, count):
    if not text:
        return [""]
    count = max(1, min(count, len(text)))
    size = -(-len(text) // count)
    return [text[i : i + size] for i in range(0, len(text), size)]


def example_for_schema(schema):
    """A small value satisfying a simple JSON schema."""
    if not isinstance(schema, dict):
        return "standin"
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: example_for_schema(props.get(k)) for k in schema.get("required") or list(props)}
    if kind == "array":
        return [example_for_schema(schema.get("items"))] if schema.get("minItems") else []
    return {"string": "standin", "integer": 1, "number": 1, "boolean": True, "null": None}.get(
        kind, "standin"
    )


def content_text_and_images(content):
    if isinstance(content, str):
        return content, 0
    texts, images = [], 0
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(block.get("text") or "")
        elif isinstance(block, dict) and block.get("type") == "image":
            images += 1
    return "\n".join(texts), images


def prompt_of_entry(entry):
    """The prompt text of a transcript entry, or None when it is not a user prompt."""
    if entry.get("type") != "user" or entry.get("isMeta") or entry.get("isSidechain"):
        return None
    content = (entry.get("message") or {}).get("content")
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return None
    text, _ = content_text_and_images(content)
    if not text or text.startswith(("[Request interrupted", "<local-command")):
        return None
    return text


class Aborted(Exception):
    """The turn was interrupted (by the SDK, or by a deny with interrupt)."""

    def __init__(self, marker=INTERRUPTED, reason="aborted_streaming", stop_reason=None):
        super().__init__(marker)
        self.marker = marker
        self.reason = reason
        self.stop_reason = stop_reason


class Stop(Exception):
    """The turn ends early with an error result."""

    def __init__(self, subtype, errors, terminal_reason, stop_reason=None):
        super().__init__(subtype)
        self.subtype = subtype
        self.errors = errors
        self.terminal_reason = terminal_reason
        self.stop_reason = stop_reason


# --------------------------------------------------------------------------- the CLI


class StandIn:
    def __init__(self, opts):
        self.opts = opts
        self._out_lock = threading.Lock()
        self.cwd = unicodedata.normalize("NFC", os.path.realpath(os.getcwd()))
        self.config = config_dir()
        self.project_dir = os.path.join(self.config, "projects", project_key(self.cwd))
        self.model = opts.get("model") if isinstance(opts.get("model"), str) else DEFAULT_MODEL
        mode = opts.get("permission-mode")
        self.permission_mode = mode if isinstance(mode, str) else "default"
        self.partial = bool(opts.get("include-partial-messages"))
        self.replay = bool(opts.get("replay-user-messages"))
        self.mirror = bool(opts.get("session-mirror"))
        self.ask_permissions = opts.get("permission-prompt-tool") == "stdio"
        self.allowed = split_list(opts.get("allowedTools"))
        self.disallowed = split_list(opts.get("disallowedTools"))
        tools = opts.get("tools")
        self.tools = sorted(split_list(tools)) if isinstance(tools, str) else list(DEFAULT_TOOLS)
        self.max_turns = int(opts["max-turns"]) if isinstance(opts.get("max-turns"), str) else None
        budget = opts.get("max-budget-usd")
        self.budget_text = budget if isinstance(budget, str) else None
        self.budget = float(budget) if isinstance(budget, str) else None
        schema = opts.get("json-schema")
        self.schema = json.loads(schema) if isinstance(schema, str) else None
        self.state_events = os.environ.get("CLAUDE_CODE_SDK_READS_SESSION_STATE", "") not in (
            "",
            "0",
            "false",
        )
        self.checkpointing = os.environ.get("CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING", "") in (
            "1",
            "true",
        )
        self.entrypoint = os.environ.get("CLAUDE_CODE_ENTRYPOINT", "sdk-py")

        self.inbox = queue.Queue()
        self.pending = {}
        self.pending_lock = threading.Lock()
        self.turn_interrupt = None
        self.eof = threading.Event()
        self.total_cost = 0.0
        self.total_in = 0
        self.total_out = 0
        self.result_index = 0
        self.last_was_error = False
        self.checkpoints = []  # prompt uuids with a file checkpoint, in order
        self.backups = []  # (checkpoint index, path, backup file or None if it did not exist)
        self.context_chars = 0

        self.history = []
        self.copy_history = False
        self.leaf = None
        self.prompts = []

    # ---------------------------------------------------------------- output
    def emit(self, frame):
        data = (json.dumps(frame) + "\n").encode("utf-8")
        with self._out_lock:
            try:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            except (BrokenPipeError, ValueError):
                os._exit(0)

    def session_frame(self, frame):
        frame.setdefault("session_id", self.session_id)
        frame.setdefault("uuid", new_uuid())
        return frame

    def state(self, state):
        if self.state_events:
            self.emit(
                self.session_frame(
                    {
                        "type": "system",
                        "subtype": "session_state_changed",
                        "state": state,
                        "sdk_host_only": True,
                    }
                )
            )

    # ---------------------------------------------------------------- sessions
    def transcript_path(self, session_id):
        return os.path.join(self.project_dir, f"{session_id}.jsonl")

    def open_session(self):
        resume = self.opts.get("resume")
        if not isinstance(resume, str) and self.opts.get("continue"):
            resume = self.newest_session()
        if isinstance(resume, str) and resume:
            path = self.transcript_path(resume)
            if not os.path.isfile(path):
                self.refuse_resume(resume)
            self.history = self.read_entries(path)
            cut = self.opts.get("resume-session-at")
            if isinstance(cut, str):
                ids = [e.get("uuid") for e in self.history]
                if cut in ids:
                    self.history = self.history[: ids.index(cut) + 1]
            if self.opts.get("fork-session"):
                sid = self.opts.get("session-id")
                self.session_id = sid if isinstance(sid, str) else new_uuid()
                self.copy_history = bool(self.history)
            else:
                self.session_id = resume
        else:
            sid = self.opts.get("session-id")
            self.session_id = sid if isinstance(sid, str) and sid else new_uuid()
        for entry in self.history:
            if entry.get("uuid") and entry.get("type") in (
                "user",
                "assistant",
                "attachment",
                "system",
            ):
                self.leaf = entry["uuid"]
            prompt = prompt_of_entry(entry)
            if prompt is not None:
                self.prompts.append(prompt)
            self.context_chars += len(json.dumps(entry.get("message") or ""))
        self.load_checkpoints(self.history)

    def newest_session(self):
        try:
            names = [n for n in os.listdir(self.project_dir) if n.endswith(".jsonl")]
        except OSError:
            return None
        if not names:
            return None
        newest = max(names, key=lambda n: os.path.getmtime(os.path.join(self.project_dir, n)))
        return newest[: -len(".jsonl")]

    @staticmethod
    def read_entries(path):
        entries = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        entries.append(json.loads(line))
                    except ValueError:
                        pass
        return entries

    def refuse_resume(self, session_id):
        """As the real CLI: read the initialize request, then fail instead of answering it."""
        sys.stdin.buffer.readline()
        message = f"No conversation found with session ID: {session_id}"
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        self.session_id = session_id
        self.emit(
            {
                "type": "result",
                "subtype": "error_during_execution",
                "duration_ms": 0,
                "duration_api_ms": 0,
                "is_error": True,
                "num_turns": 0,
                "stop_reason": None,
                "session_id": session_id,
                "total_cost_usd": 0,
                "usage": self.usage(0, 0),
                "modelUsage": {},
                "permission_denials": [],
                "uuid": new_uuid(),
                "errors": [message],
            }
        )
        os._exit(1)

    def append(self, path, entries):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries)
        if self.mirror:
            self.emit({"type": "transcript_mirror", "filePath": path, "entries": entries})

    def record(self, *entries):
        entries = list(entries)
        if self.copy_history:
            copies = [
                {**e, "sessionId": self.session_id} if "sessionId" in e else dict(e)
                for e in self.history
            ]
            entries = copies + entries
            self.copy_history = False
        self.append(self.transcript_path(self.session_id), entries)

    def entry(self, kind, message, **extra):
        entry = {
            "parentUuid": self.leaf,
            "isSidechain": False,
            "type": kind,
            "message": message,
            "uuid": extra.pop("uuid", None) or new_uuid(),
            "timestamp": now_iso(),
            "userType": "external",
            "entrypoint": self.entrypoint,
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
            **extra,
        }
        self.leaf = entry["uuid"]
        self.context_chars += len(json.dumps(message))
        return entry

    # ---------------------------------------------------------------- control
    def initialize_response(self):
        return {
            "commands": [
                {
                    "name": "compact",
                    "description": "Clear conversation history but keep a summary",
                    "argumentHint": "",
                },
                {
                    "name": "context",
                    "description": "Show current context usage",
                    "argumentHint": "",
                },
            ],
            "agents": [{"name": "general-purpose", "description": "General-purpose agent"}],
            "output_style": "default",
            "available_output_styles": ["default"],
            "models": [
                {
                    "value": "default",
                    "resolvedModel": DEFAULT_MODEL,
                    "displayName": "Default (recommended)",
                    "description": "Stand-in default model",
                },
                {
                    "value": "sonnet",
                    "resolvedModel": "claude-sonnet-5",
                    "displayName": "Sonnet",
                    "description": "Stand-in model",
                },
            ],
            "account": {"tokenSource": "none", "apiKeySource": "none", "apiProvider": "firstParty"},
            "pid": os.getpid(),
            "claude_code_version": VERSION,
            "current_permission_mode": self.permission_mode,
            "hook_on_failure_supported": False,
            "analytics_disabled": True,
            "sandbox_enabled": False,
            "fast_mode_state": "off",
            "session_state": "idle",
            "capabilities": ["interrupt_receipt_v1"],
        }

    def context_usage(self):
        used = 1000 + self.context_chars // 4
        return {
            "categories": [
                {
                    "id": "messages",
                    "name": "Messages",
                    "tokens": used,
                    "color": "purple",
                    "kind": "used",
                },
                {
                    "id": "free_space",
                    "name": "Free space",
                    "tokens": 1000000 - used,
                    "color": "promptBorder",
                    "kind": "free",
                },
            ],
            "totalTokens": used,
            "maxTokens": 1000000,
            "rawMaxTokens": 1000000,
            "percentage": round(used / 10000, 2),
            "model": self.model,
            "isAutoCompactEnabled": True,
            "memoryFiles": [],
            "mcpTools": [],
            "agents": [],
            "gridRows": [],
        }

    def reply(self, request_id, response=None, error=None):
        if error is not None:
            body = {"subtype": "error", "request_id": request_id, "error": error}
        else:
            body = {"subtype": "success", "request_id": request_id, "response": response or {}}
        self.emit({"type": "control_response", "response": body})

    def handle_control(self, message):
        request_id = message.get("request_id")
        request = message.get("request") or {}
        subtype = request.get("subtype")
        if subtype == "initialize":
            if os.environ.get("STANDIN_HANG_INIT"):
                return
            self.reply(request_id, self.initialize_response())
        elif subtype == "interrupt":
            self.reply(request_id, {"still_queued": []})
            event = self.turn_interrupt
            if event is not None:
                event.set()
        elif subtype == "set_permission_mode":
            self.permission_mode = request.get("mode") or "default"
            self.reply(request_id, {"mode": self.permission_mode})
            self.emit(
                self.session_frame(
                    {
                        "type": "system",
                        "subtype": "status",
                        "status": None,
                        "permissionMode": self.permission_mode,
                    }
                )
            )
        elif subtype == "set_model":
            self.model = request.get("model") or DEFAULT_MODEL
            self.reply(request_id, {"model": self.model})
        elif subtype == "rewind_files":
            self.rewind(request_id, request.get("user_message_id"))
        elif subtype == "mcp_status":
            self.reply(request_id, {"mcpServers": []})
        elif subtype == "get_context_usage":
            self.reply(request_id, self.context_usage())
        elif subtype in ("mcp_reconnect", "mcp_toggle"):
            self.reply(request_id, error=f"MCP server not found: {request.get('serverName')}")
        elif subtype == "stop_task":
            self.reply(request_id, error=f"No task found with ID: {request.get('task_id')}")
        else:
            self.reply(request_id, error=f"Unsupported control request subtype: {subtype}")

    def rewind(self, request_id, user_message_id):
        if not self.checkpointing:
            return self.reply(request_id, error="File rewinding is not enabled.")
        if user_message_id not in self.checkpoints:
            return self.reply(request_id, error="No file checkpoint found for this message.")
        self.drop_backups(self.checkpoints.index(user_message_id), restore=True)
        self.record({"type": "standin-rewind", "messageId": user_message_id})
        self.reply(request_id, {"canRewind": True, "skippedLinks": 0})

    def drop_backups(self, index, restore):
        """Forget the backups taken at checkpoint `index` or later, restoring them first."""
        keep = []
        for backup in reversed(self.backups):
            at, path, saved = backup
            if at < index:
                keep.append(backup)
            elif restore and saved is None:
                if os.path.exists(path):
                    os.remove(path)
            elif restore:
                with open(saved, "rb") as src, open(path, "wb") as dst:
                    dst.write(src.read())
        self.backups = list(reversed(keep))

    def back_up(self, path):
        """Checkpoint a file before a Write (the real CLI keeps <config>/file-history/<id>/)."""
        saved = None
        if os.path.exists(path):
            folder = os.path.join(self.config, "file-history", self.session_id)
            os.makedirs(folder, exist_ok=True)
            saved = os.path.join(folder, f"{short_id()}@v{len(self.backups) + 1}")
            with open(path, "rb") as src, open(saved, "wb") as dst:
                dst.write(src.read())
        message_id = self.checkpoints[-1]
        self.backups.append((len(self.checkpoints) - 1, path, saved))
        entry = {
            "type": "standin-file-backup",
            "messageId": message_id,
            "path": path,
            "backup": saved,
        }
        self.record(entry)

    def load_checkpoints(self, entries):
        """Rebuild file checkpoints from a resumed transcript, so rewind works across processes."""
        for entry in entries:
            kind = entry.get("type")
            message_id = entry.get("messageId")
            if kind == "file-history-snapshot" and not entry.get("isSnapshotUpdate"):
                self.checkpoints.append(message_id)
            elif kind == "standin-file-backup" and message_id in self.checkpoints:
                at = self.checkpoints.index(message_id)
                self.backups.append((at, entry.get("path"), entry.get("backup")))
            elif kind == "standin-rewind" and message_id in self.checkpoints:
                self.drop_backups(self.checkpoints.index(message_id), restore=False)

    def ask(self, request, interrupted):
        """Send a control request to the SDK and wait for its answer."""
        request_id = new_uuid()
        event, slot = threading.Event(), {}
        with self.pending_lock:
            self.pending[request_id] = (event, slot)
        self.emit({"type": "control_request", "request_id": request_id, "request": request})
        try:
            while not event.wait(0.01):
                if interrupted.is_set():
                    self.emit({"type": "control_cancel_request", "request_id": request_id})
                    raise Aborted()
                if self.eof.is_set():
                    return {"error": "Stream closed"}
            return slot
        finally:
            with self.pending_lock:
                self.pending.pop(request_id, None)

    def route_response(self, message):
        response = message.get("response") or {}
        with self.pending_lock:
            waiter = self.pending.get(response.get("request_id"))
        if waiter is None:
            return
        event, slot = waiter
        if response.get("subtype") == "error":
            slot["error"] = response.get("error") or "error"
        else:
            slot["response"] = response.get("response") or {}
        event.set()

    # ---------------------------------------------------------------- main loops
    def read_stdin(self):
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                sys.stderr.write(f"standin: ignoring a non-JSON input line: {line[:80]}\n")
                continue
            kind = message.get("type")
            if kind == "control_request":
                self.handle_control(message)
            elif kind == "control_response":
                self.route_response(message)
            elif kind == "user":
                self.inbox.put(message)
        self.eof.set()
        self.inbox.put(None)

    def run(self):
        self.open_session()
        threading.Thread(target=self.read_stdin, name="stdin", daemon=True).start()
        while True:
            message = self.inbox.get()
            if message is None:
                break
            Turn(self, message).run()
        sys.stdout.buffer.flush()
        os._exit(1 if self.last_was_error else 0)

    # ---------------------------------------------------------------- frames
    def usage(self, input_tokens, output_tokens):
        return {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
        }

    def model_usage(self):
        return {
            self.model: {
                "inputTokens": self.total_in,
                "outputTokens": self.total_out,
                "cacheReadInputTokens": 0,
                "cacheCreationInputTokens": 0,
                "webSearchRequests": 0,
                "costUSD": round(self.total_cost, 6),
                "contextWindow": 1000000,
                "maxOutputTokens": 128000,
            }
        }

    def init_frame(self):
        return self.session_frame(
            {
                "type": "system",
                "subtype": "init",
                "cwd": self.cwd,
                "session_id": self.session_id,
                "tools": self.tools,
                "mcp_servers": [],
                "model": self.model,
                "permissionMode": self.permission_mode,
                "slash_commands": ["compact", "context"],
                "apiKeySource": "none",
                "claude_code_version": VERSION,
                "output_style": "default",
                "agents": ["general-purpose"],
                "skills": [],
                "plugins": [],
            }
        )


# --------------------------------------------------------------------------- one turn


class Turn:
    def __init__(self, cli, message):
        self.cli = cli
        inner = message.get("message") or {}
        self.content = inner.get("content", "")
        given = message.get("uuid")
        self.prompt_uuid = given if isinstance(given, str) and given else None
        self.user_uuid = self.prompt_uuid or new_uuid()
        self.text, self.images = content_text_and_images(self.content)
        self.directives = {}
        plain = []
        for line in self.text.splitlines():
            stripped = line.strip()
            if stripped.startswith("!") and len(stripped) > 1 and stripped[1].isalpha():
                name, _, rest = stripped[1:].partition(" ")
                self.directives[name.lower()] = rest.strip()
            else:
                plain.append(line)
        self.plain = "\n".join(plain).strip()
        self.interrupted = threading.Event()
        self.rounds = 0
        self.cost = 0.0
        self.round_cost = ROUND_COST_USD
        self.in_tokens = 0
        self.out_tokens = 0
        self.api_seconds = 0.0
        self.denials = []
        self.tagged = set()  # frame types that already carry user_message_uuid
        self.open_block = None  # (message id, partial text) while a text block streams
        self.last_texts = []

    # ---------------------------------------------------------------- lifecycle
    def run(self):
        cli = self.cli
        self.started = time.monotonic()
        cli.turn_interrupt = self.interrupted
        cli.state("running")
        cli.emit(cli.init_frame())
        if "cost" in self.directives:
            self.round_cost = float(self.directives["cost"] or 0)
        if "stderr" in self.directives:
            sys.stderr.write(self.directives["stderr"] + "\n")
            sys.stderr.flush()
        earlier = list(cli.prompts)
        cli.record(
            cli.entry(
                "user",
                {"role": "user", "content": self.content},
                uuid=self.user_uuid,
                promptSource="sdk",
                permissionMode=cli.permission_mode,
            )
        )
        if cli.checkpointing:
            cli.checkpoints.append(self.user_uuid)
            snapshot = {
                "messageId": self.user_uuid,
                "trackedFileBackups": {},
                "timestamp": now_iso(),
            }
            cli.record(
                {
                    "type": "file-history-snapshot",
                    "messageId": self.user_uuid,
                    "snapshot": snapshot,
                    "isSnapshotUpdate": False,
                }
            )
        if self.text:
            cli.prompts.append(self.text)
        if cli.replay:
            cli.emit(
                cli.session_frame(
                    {
                        "type": "user",
                        "message": {"role": "user", "content": self.content},
                        "parent_tool_use_id": None,
                        "uuid": self.user_uuid,
                        "timestamp": now_iso(),
                        "isReplay": True,
                    }
                )
            )
        try:
            self.script(earlier)
        except Aborted as abort:
            self.abort(abort)
        except Stop as stop:
            self.result(
                stop.subtype,
                is_error=True,
                errors=stop.errors,
                terminal_reason=stop.terminal_reason,
                stop_reason=stop.stop_reason,
            )
        except Exception as exc:  # noqa: BLE001 - a malformed directive: say so, do not die
            error = f"standin: {type(exc).__name__}: {exc}"
            self.result(
                "error_during_execution", is_error=True, errors=[error], terminal_reason=None
            )
        finally:
            cli.turn_interrupt = None
            cli.state("idle")

    def script(self, earlier):
        d = self.directives
        if "error" in d:
            message = d["error"] or "standin: scripted error"
            raise Stop("error_during_execution", [message], None)
        if "max-turns" in d:
            limit = self.cli.max_turns or 1
            raise Stop(
                "error_max_turns",
                [f"Reached maximum number of turns ({limit})"],
                "max_turns",
                "tool_use",
            )
        if "api-error" in d:
            return self.api_error(d["api-error"])
        if "crash" in d:
            return self.crash(d["crash"])

        blocks = []
        if "thinking" in d:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": d["thinking"] or "Let me think about that.",
                    "signature": f"standin-sig-{short_id()}",
                }
            )
        if "tool" in d or "write" in d or "subagent" in d:
            if "tool" in d:
                name, _, raw = d["tool"].partition(" ")
                final = self.use_tool(blocks, name, json.loads(raw or "{}"))
            elif "write" in d:
                path, _, text = d["write"].partition(" ")
                final = self.use_tool(blocks, "Write", {"file_path": path, "content": text})
            else:
                final = self.subagent(blocks, d["subagent"] or self.plain or "help")
            blocks = [self.text_block(final)]
        elif "recall" in d:
            listing = "\n".join(f"{i}. {' '.join(p.split())}" for i, p in enumerate(earlier, 1))
            blocks.append(
                self.text_block(
                    f"Earlier prompts:\n{listing}" if earlier else "Earlier prompts: (none)"
                )
            )
        elif "slow" in d:
            args = d["slow"].split()
            count = int(args[0]) if args else 20
            delay = float(args[1]) if len(args) > 1 else 0.05
            chunks = [f"chunk {i} " for i in range(count)]
            blocks.append(
                {"type": "text", "text": "".join(chunks), "_chunks": chunks, "_delay": delay}
            )
        elif "many" in d:
            count = int(d["many"] or 10)
            blocks.extend(
                {"type": "text", "text": f"block {i}", "_chunks": [f"block {i}"]}
                for i in range(count)
            )
        else:
            blocks.append(self.text_block(self.echo()))
        structured = None
        if self.cli.schema is not None:
            raw = d.get("structured")
            structured = json.loads(raw) if raw else example_for_schema(self.cli.schema)
            blocks.append(self.tool_block("StructuredOutput", structured))
        self.model_round(blocks, "tool_use" if structured is not None else "end_turn")
        if structured is not None:
            self.tool_result(
                blocks[-1]["id"],
                "Structured output provided successfully",
                False,
                "Structured output provided successfully",
            )
        if self.cli.budget is not None and self.cli.total_cost > self.cli.budget:
            raise Stop(
                "error_max_budget_usd",
                [f"Reached maximum budget (${self.cli.budget_text})"],
                "budget_exhausted",
                "end_turn",
            )
        if structured is not None:
            text = json.dumps(structured, separators=(",", ":"))
            self.result(
                "success", result=text, stop_reason="tool_use", structured_output=structured
            )
        else:
            self.result("success", result="".join(self.last_texts), stop_reason="end_turn")

    def echo(self):
        text = f"Echo: {self.plain}" if self.plain else "OK"
        if self.images:
            text += f" (received {self.images} image{'s' if self.images != 1 else ''})"
        return text

    @staticmethod
    def text_block(text):
        return {"type": "text", "text": text, "_chunks": pieces(text, 3)}

    @staticmethod
    def tool_block(name, tool_input):
        return {
            "type": "tool_use",
            "id": f"toolu_standin_{short_id()}",
            "name": name,
            "input": tool_input,
        }

    # ---------------------------------------------------------------- model rounds
    def check_interrupt(self):
        if self.interrupted.is_set():
            raise Aborted()

    def model_round(self, blocks, stop_reason, parent=None):
        cli = self.cli
        self.check_interrupt()
        if cli.max_turns is not None and self.rounds + 1 > cli.max_turns:
            raise Stop(
                "error_max_turns",
                [f"Reached maximum number of turns ({cli.max_turns})"],
                "max_turns",
                "tool_use",
            )
        if cli.budget is not None and cli.total_cost >= cli.budget:
            raise Stop(
                "error_max_budget_usd",
                [f"Reached maximum budget (${cli.budget_text})"],
                "budget_exhausted",
            )
        cli.emit(cli.session_frame({"type": "system", "subtype": "status", "status": "requesting"}))
        began = time.monotonic()
        msg_id = f"msg_standin_{short_id()}"
        input_tokens = 10 + cli.context_chars // 4
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        message = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": cli.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        self.stream({"type": "message_start", "message": message}, parent)
        output_tokens = 0
        self.last_texts = []
        for index, block in enumerate(blocks):
            output_tokens += self.stream_block(index, block, msg_id, usage, parent)
        self.stream(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
            parent,
        )
        self.stream({"type": "message_stop"}, parent)
        self.rounds += 1
        self.cost += self.round_cost
        cli.total_cost += self.round_cost
        self.in_tokens += input_tokens
        self.out_tokens += output_tokens
        cli.total_in += input_tokens
        cli.total_out += output_tokens
        self.api_seconds += time.monotonic() - began

    def tag(self, frame):
        """Put user_message_uuid(s) on the turn's first stream_event and first assistant frame."""
        kind = frame.get("type")
        if self.prompt_uuid and kind not in self.tagged:
            frame["user_message_uuid"] = self.prompt_uuid
            frame["user_message_uuids"] = [self.prompt_uuid]
            self.tagged.add(kind)
        return frame

    def stream(self, event, parent=None):
        if not self.cli.partial:
            return
        frame = self.cli.session_frame(
            {"type": "stream_event", "event": event, "parent_tool_use_id": parent}
        )
        self.cli.emit(self.tag(frame) if parent is None else frame)

    def stream_block(self, index, block, msg_id, usage, parent):
        final = {k: v for k, v in block.items() if not k.startswith("_")}
        kind = final["type"]
        if kind == "text":
            start = {"type": "text", "text": ""}
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            start = {"type": "tool_use", "id": final["id"], "name": final["name"], "input": {}}
        self.stream({"type": "content_block_start", "index": index, "content_block": start}, parent)
        if kind == "text":
            chunks = block.get("_chunks") or [final["text"]]
            delay = block.get("_delay") or 0
            sofar = ""
            for i, chunk in enumerate(chunks):
                self.open_block = (msg_id, sofar)
                if i and delay and self.interrupted.wait(delay):
                    raise Aborted()
                self.check_interrupt()
                self.stream(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": chunk},
                    },
                    parent,
                )
                sofar += chunk
            self.open_block = None
            self.last_texts.append(final["text"])
        elif kind == "thinking":
            for chunk in pieces(final["thinking"], 2):
                self.stream(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "thinking_delta", "thinking": chunk},
                    },
                    parent,
                )
            self.stream(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "signature_delta", "signature": final["signature"]},
                },
                parent,
            )
        else:
            for chunk in pieces(json.dumps(final["input"]), 3):
                self.stream(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": chunk},
                    },
                    parent,
                )
        self.check_interrupt()
        self.assistant(final, msg_id, usage, parent)
        self.stream({"type": "content_block_stop", "index": index}, parent)
        return max(1, len(json.dumps(final)) // 4)

    def assistant(self, block, msg_id, usage, parent=None, model=None, extra=None, sidechain=None):
        cli = self.cli
        message = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model or cli.model,
            "content": [block],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
            "context_management": None,
        }
        request_id = f"req_standin_{short_id()}"
        frame = cli.session_frame(
            {
                "type": "assistant",
                "message": message,
                "parent_tool_use_id": parent,
                "timestamp": now_iso(),
                "request_id": request_id,
                **(extra or {}),
            }
        )
        if parent is None:
            self.tag(frame)
        cli.emit(frame)
        if sidechain is not None:
            sidechain.append(dict(message))
        else:
            cli.record(cli.entry("assistant", message, uuid=frame["uuid"], requestId=request_id))

    def tool_result(self, tool_id, content, is_error, tool_use_result):
        cli = self.cli
        block = {"tool_use_id": tool_id, "type": "tool_result", "content": content}
        if is_error:
            block["is_error"] = True
        message = {"role": "user", "content": [block]}
        frame = cli.session_frame(
            {
                "type": "user",
                "message": message,
                "parent_tool_use_id": None,
                "timestamp": now_iso(),
                "tool_use_result": tool_use_result,
            }
        )
        cli.emit(frame)
        cli.record(cli.entry("user", message, uuid=frame["uuid"], toolUseResult=tool_use_result))

    # ---------------------------------------------------------------- tools
    def use_tool(self, blocks, name, tool_input):
        block = self.tool_block(name, tool_input)
        self.model_round(blocks + [block], "tool_use")
        try:
            behavior, value, interrupt = self.decide(name, tool_input, block["id"])
        except Aborted:
            self.tool_result(block["id"], TOOL_REJECTED, True, "User rejected tool use")
            raise Aborted(TOOL_INTERRUPTED, "aborted_tools", "tool_use") from None
        if behavior == "allow":
            content, is_error = self.execute(name, value)
            self.tool_result(
                block["id"], content, is_error, content if not is_error else f"Error: {content}"
            )
            return f"Tool {name} finished"
        self.denials.append(
            {"tool_name": name, "tool_use_id": block["id"], "tool_input": tool_input}
        )
        self.tool_result(block["id"], value, True, f"Error: {value}")
        if interrupt:
            raise Aborted(TOOL_INTERRUPTED, "aborted_tools", "tool_use")
        return f"Tool {name} denied: {value}"

    def decide(self, name, tool_input, tool_id):
        """Returns (behavior, updated input or deny message, interrupt)."""
        cli = self.cli
        if name in cli.disallowed:
            return "deny", f"Permission to use {name} has been denied.", False
        if (
            name in cli.allowed
            or name in READ_ONLY_TOOLS
            or cli.permission_mode == "bypassPermissions"
            or (cli.permission_mode == "acceptEdits" and name in EDIT_TOOLS)
        ):
            return "allow", tool_input, False
        if not cli.ask_permissions:
            if cli.permission_mode == "dontAsk":
                return "deny", f"Permission to use {name} has been denied.", False
            return "allow", tool_input, False
        request = {
            "subtype": "can_use_tool",
            "tool_name": name,
            "display_name": name,
            "input": tool_input,
            "description": f"standin {name}",
            "permission_suggestions": [
                {
                    "type": "addRules",
                    "rules": [{"toolName": name}],
                    "behavior": "allow",
                    "destination": "session",
                }
            ],
            "tool_use_id": tool_id,
        }
        if isinstance(tool_input.get("file_path"), str):
            request["blocked_path"] = os.path.join(cli.cwd, tool_input["file_path"])
        cli.state("requires_action")
        answer = cli.ask(request, self.interrupted)
        cli.state("running")
        if "error" in answer:
            return "deny", answer["error"], False
        response = answer.get("response") or {}
        if response.get("behavior") == "allow":
            updated = response.get("updatedInput")
            self.apply_permission_updates(response.get("updatedPermissions") or [])
            return "allow", updated if isinstance(updated, dict) else tool_input, False
        return (
            "deny",
            response.get("message") or "Permission denied",
            bool(response.get("interrupt")),
        )

    def apply_permission_updates(self, updates):
        for update in updates:
            if not isinstance(update, dict):
                continue
            if update.get("type") == "setMode" and update.get("mode"):
                self.cli.permission_mode = update["mode"]
            elif (
                update.get("type") in ("addRules", "replaceRules")
                and update.get("behavior") == "allow"
            ):
                for rule in update.get("rules") or []:
                    if (
                        isinstance(rule, dict)
                        and rule.get("toolName")
                        and not rule.get("ruleContent")
                    ):
                        self.cli.allowed.add(rule["toolName"])

    def execute(self, name, tool_input):
        """Write and Read act on disk; every other tool is simulated."""
        cli = self.cli
        path = tool_input.get("file_path")
        if name == "Write" and isinstance(path, str):
            path = os.path.join(cli.cwd, path)
            existed = os.path.exists(path)
            if cli.checkpointing:
                cli.back_up(path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(str(tool_input.get("content", "")))
            if existed:
                return f"The file {path} has been updated successfully.", False
            return f"File created successfully at: {path}", False
        if name == "Read" and isinstance(path, str):
            path = os.path.join(cli.cwd, path)
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = f.read().split("\n")
            except OSError:
                return (
                    f"File does not exist. Note: your current working directory is {cli.cwd}.",
                    True,
                )
            return "\n".join(f"{i}\t{line}" for i, line in enumerate(lines, 1)), False
        return f"Tool {name} ran with input {json.dumps(tool_input, sort_keys=True)}", False

    def subagent(self, blocks, task):
        cli = self.cli
        block = self.tool_block(
            "Task",
            {"description": "standin subagent", "prompt": task, "subagent_type": "general-purpose"},
        )
        self.model_round(blocks + [block], "tool_use")
        agent_id = short_id()[:8]
        path = os.path.join(cli.project_dir, cli.session_id, "subagents", f"agent-{agent_id}.jsonl")
        sidechain = []
        prompt = {"role": "user", "content": [{"type": "text", "text": task}]}
        cli.emit(
            cli.session_frame(
                {
                    "type": "user",
                    "message": prompt,
                    "parent_tool_use_id": block["id"],
                    "timestamp": now_iso(),
                }
            )
        )
        sidechain.append(prompt)
        answer = f"Subagent says: {task}"
        usage = {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        self.assistant(
            {"type": "text", "text": answer},
            f"msg_standin_{short_id()}",
            usage,
            parent=block["id"],
            sidechain=sidechain,
        )
        parent = None
        entries = []
        for message in sidechain:
            uid = new_uuid()
            entries.append(
                {
                    "parentUuid": parent,
                    "isSidechain": True,
                    "agentId": agent_id,
                    "type": message["role"],
                    "message": message,
                    "uuid": uid,
                    "timestamp": now_iso(),
                    "cwd": cli.cwd,
                    "sessionId": cli.session_id,
                    "version": VERSION,
                }
            )
            parent = uid
        cli.append(path, entries)
        self.tool_result(
            block["id"],
            [{"type": "text", "text": answer}],
            False,
            {"status": "completed", "content": [{"type": "text", "text": answer}]},
        )
        return "Subagent finished"

    # ---------------------------------------------------------------- endings
    def api_error(self, args):
        cli = self.cli
        parts = args.split(" ", 1) if args else []
        status = int(parts[0]) if parts and parts[0].isdigit() else 429
        detail = parts[1] if len(parts) > 1 else "Rate limited"
        kinds = {
            429: ("rate_limit", "rate_limit_error"),
            400: ("invalid_request", "invalid_request_error"),
            401: ("authentication_failed", "authentication_error"),
            403: ("authentication_failed", "permission_error"),
            529: ("server_error", "overloaded_error"),
        }
        error, error_type = kinds.get(
            status, ("server_error", "api_error") if status >= 500 else ("unknown", "api_error")
        )
        text = (
            f"API Error: Request rejected ({status}) · {detail}"
            if status == 429
            else f"API Error: {status} {detail}"
        )
        cli.emit(cli.session_frame({"type": "system", "subtype": "status", "status": "requesting"}))
        zero = cli.usage(0, 0)
        message = {
            "id": new_uuid(),
            "model": "<synthetic>",
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": zero,
            "content": [{"type": "text", "text": text}],
            "context_management": None,
        }
        extra = {
            "error": error,
            "is_api_error_message": True,
            "api_error_status": status,
            "api_error_type": error_type,
        }
        frame = cli.session_frame(
            {
                "type": "assistant",
                "message": message,
                "parent_tool_use_id": None,
                "timestamp": now_iso(),
                **extra,
            }
        )
        cli.emit(self.tag(frame))
        cli.record(
            cli.entry("assistant", message, uuid=frame["uuid"], isApiErrorMessage=True, error=error)
        )
        self.rounds = 1
        self.result(
            "success",
            is_error=True,
            result=text,
            stop_reason="stop_sequence",
            terminal_reason="api_error",
            api_error_status=status,
            extra={"api_error_type": error_type},
        )

    def crash(self, args):
        code = int(args) if args.strip().isdigit() else 3
        cli = self.cli
        cli.emit(cli.session_frame({"type": "system", "subtype": "status", "status": "requesting"}))
        usage = {
            "input_tokens": 10,
            "output_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        msg_id = f"msg_standin_{short_id()}"
        self.stream(
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": cli.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            }
        )
        self.assistant({"type": "text", "text": "Working on it..."}, msg_id, usage)
        sys.stderr.write(f"standin: simulated crash (exit {code})\n")
        sys.stderr.flush()
        sys.stdout.buffer.flush()
        os._exit(code)

    def abort(self, abort):
        cli = self.cli
        if self.open_block is not None and self.open_block[1]:
            msg_id, text = self.open_block
            usage = {
                "input_tokens": 10,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
            self.assistant({"type": "text", "text": text}, msg_id, usage)
        self.open_block = None
        message = {"role": "user", "content": [{"type": "text", "text": abort.marker}]}
        frame = cli.session_frame(
            {"type": "user", "message": message, "parent_tool_use_id": None, "timestamp": now_iso()}
        )
        cli.emit(frame)
        cli.record(cli.entry("user", message, uuid=frame["uuid"]))
        diagnostic = INTERRUPT_DIAGNOSTIC.format(abort.stop_reason or "null")
        self.result(
            "error_during_execution",
            is_error=True,
            errors=[diagnostic],
            terminal_reason=abort.reason,
            stop_reason=abort.stop_reason,
        )

    def result(
        self,
        subtype,
        is_error=False,
        result=None,
        errors=None,
        stop_reason=None,
        terminal_reason="completed",
        api_error_status=None,
        structured_output=None,
        extra=None,
    ):
        cli = self.cli
        frame = {
            "type": "result",
            "subtype": subtype,
            "is_error": is_error,
            "duration_ms": int((time.monotonic() - self.started) * 1000),
            "duration_api_ms": int(self.api_seconds * 1000),
            "num_turns": max(1, self.rounds + (1 if structured_output is not None else 0)),
            "stop_reason": stop_reason,
            "session_id": cli.session_id,
            "total_cost_usd": round(cli.total_cost, 6),
            "usage": cli.usage(self.in_tokens, self.out_tokens),
            "modelUsage": cli.model_usage(),
            "permission_denials": self.denials,
            "api_error_status": api_error_status,
            "uuid": new_uuid(),
            "result_index": cli.result_index,
        }
        if terminal_reason is not None:
            frame["terminal_reason"] = terminal_reason
        if result is not None:
            frame["result"] = result
        if errors is not None:
            frame["errors"] = errors
        if structured_output is not None:
            frame["structured_output"] = structured_output
        if self.prompt_uuid:
            frame["user_message_uuid"] = self.prompt_uuid
            frame["user_message_uuids"] = [self.prompt_uuid]
        frame.update(extra or {})
        cli.result_index += 1
        cli.last_was_error = is_error
        last_prompt = {
            "type": "last-prompt",
            "lastPrompt": self.text[:200],
            "leafUuid": cli.leaf,
            "sessionId": cli.session_id,
        }
        cli.record(last_prompt)
        cli.emit(frame)


def main():
    opts = parse_args(sys.argv[1:])
    if opts.get("version"):
        sys.stdout.write(f"{VERSION} (Claude Code)\n")
        return 0
    for flag in ("input-format", "output-format"):
        if opts.get(flag) != "stream-json":
            sys.stderr.write(f"standin: only --{flag} stream-json is supported\n")
            return 1
    StandIn(opts).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
