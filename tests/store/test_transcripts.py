"""DatabaseSessionStore: the SDK's own conformance suite, plus what a multi-instance server needs.

Every test runs on both backends (`database_url` is parametrized). Each store gets a fresh
`key_prefix`, so tests (and each conformance contract) see an empty store in the shared database.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from claude_agent_sdk import (
    fold_session_summary,
    get_session_messages_from_store,
    list_sessions_from_store,
    project_key_for_directory,
)
from claude_agent_sdk.testing import run_session_store_conformance
from claude_agent_sdk.types import SessionKey, SessionStore

from graphql_api.services import Services
from graphql_api.store.database import Database
from graphql_api.store.transcripts import DatabaseSessionStore


def fresh_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def store(services: Services) -> DatabaseSessionStore:
    return DatabaseSessionStore(services.db, key_prefix=fresh_prefix())


def entry(**fields: Any) -> dict[str, Any]:
    return {"type": "x", **fields}


KEY: SessionKey = {"project_key": "proj", "session_id": "sess"}


async def test_sdk_conformance(services: Services) -> None:
    made: list[DatabaseSessionStore] = []

    def make_store() -> SessionStore:
        made.append(DatabaseSessionStore(services.db, key_prefix=fresh_prefix()))
        return made[-1]

    await run_session_store_conformance(make_store)
    # 1 probe + 14 contracts, none skipped: every optional method is implemented.
    assert len(made) == 15
    for method in ("list_sessions", "list_session_summaries", "delete", "list_subkeys"):
        assert getattr(DatabaseSessionStore, method) is not getattr(SessionStore, method)


async def test_another_instance_reads_what_one_wrote(database_url: str) -> None:
    """Two Database objects (two server processes' engines) over one database."""
    prefix = fresh_prefix()
    first, second = Database(database_url), Database(database_url)
    try:
        writer = DatabaseSessionStore(first, key_prefix=prefix)
        reader = DatabaseSessionStore(second, key_prefix=prefix)
        sub: SessionKey = {**KEY, "subpath": "subagents/agent-1"}
        main_entries = [
            entry(uuid="u1", timestamp="2024-01-01T00:00:00.000Z", customTitle="hello"),
            entry(uuid="u2", n=2),
        ]
        await writer.append(KEY, main_entries)
        await writer.append(sub, [entry(uuid="s1")])
        await first.dispose()  # nothing is left in the writer's process

        assert await reader.load(KEY) == main_entries
        assert await reader.load(sub) == [entry(uuid="s1")]
        assert await reader.list_subkeys(KEY) == ["subagents/agent-1"]
        (listed,) = await reader.list_sessions("proj")
        (summary,) = await reader.list_session_summaries("proj")
        assert listed["session_id"] == summary["session_id"] == "sess"
        assert summary["mtime"] == listed["mtime"] > 1e12
        assert summary["data"] == fold_session_summary(None, KEY, main_entries)["data"]

        # The second instance goes on appending; the first (re-opened) sees it all.
        await reader.append(KEY, [entry(uuid="u3")])
        assert [x["uuid"] for x in await writer.load(KEY) or []] == ["u1", "u2", "u3"]
        await reader.delete(KEY)
        assert await writer.load(KEY) is None
        assert await writer.load(sub) is None
        assert await writer.list_sessions("proj") == []
    finally:
        await first.dispose()
        await second.dispose()


async def test_append_is_idempotent_on_uuid(store: DatabaseSessionStore) -> None:
    await store.append(KEY, [entry(uuid="a", n=1), entry(n=2)])
    (before,) = await store.list_session_summaries("proj")
    # A retried batch (the SDK retries failed appends) and an in-batch duplicate.
    await store.append(KEY, [entry(uuid="a", n=1)])
    (after_replay,) = await store.list_session_summaries("proj")
    assert after_replay == before  # nothing new stored, nothing refolded
    await store.append(KEY, [entry(uuid="b", n=3), entry(uuid="b", n=3), entry(n=2)])
    # Entries without a uuid are never deduplicated.
    assert await store.load(KEY) == [
        entry(uuid="a", n=1),
        entry(n=2),
        entry(uuid="b", n=3),
        entry(n=2),
    ]
    # The same uuid under another key (a subagent transcript, another session) is its own entry.
    await store.append({**KEY, "subpath": "subagents/agent-1"}, [entry(uuid="a", n=1)])
    await store.append({**KEY, "session_id": "other"}, [entry(uuid="a", n=1)])
    assert await store.load({**KEY, "session_id": "other"}) == [entry(uuid="a", n=1)]
    assert await store.load({**KEY, "subpath": "subagents/agent-1"}) == [entry(uuid="a", n=1)]


async def test_summary_mtime_only_moves_forward(store: DatabaseSessionStore) -> None:
    mtimes = []
    for i in range(5):  # back-to-back appends, often within one millisecond
        await store.append(KEY, [entry(uuid=f"u{i}")])
        (listed,) = await store.list_sessions("proj")
        mtimes.append(listed["mtime"])
    assert mtimes == sorted(set(mtimes))


async def test_entries_round_trip_exactly(store: DatabaseSessionStore) -> None:
    """Opaque JSON blobs come back deep-equal, including what PostgreSQL JSONB would reject."""
    odd = [
        entry(uuid="nul", toolUseResult={"stdout": "binary\x00data"}),
        entry(uuid="surrogate", text="cut emoji \ud83d"),  # a JS string sliced mid-pair
        entry(uuid="unicode", text="ünïcødé ✓ 日本語 🎉", nested=[{"a": [1, 2.5, None, True]}]),
        entry(uuid="numbers", big=2**62, neg=-1, float=0.1, exp=1e300, zero=0.0),
        entry(uuid="empty", s="", l=[], d={}),
        entry(text="\u2028\u2029 line separators", message={"content": "x" * 200_000}),
    ]
    await store.append(KEY, odd)
    loaded = await store.load(KEY)
    assert loaded == odd
    assert loaded is not None and isinstance(loaded[3]["big"], int)
    assert isinstance(loaded[3]["zero"], float)
    # Prompts feed the summary, so it must take the same characters.
    await store.append(
        KEY, [{"type": "user", "uuid": "p", "message": {"role": "user", "content": "a\x00b"}}]
    )
    assert len(await store.list_session_summaries("proj")) == 1


async def test_long_uuids_still_deduplicate(store: DatabaseSessionStore) -> None:
    long_uuid = "u" * 300
    await store.append(KEY, [entry(uuid=long_uuid)])
    await store.append(KEY, [entry(uuid=long_uuid), entry(uuid="u" * 299)])
    assert await store.load(KEY) == [entry(uuid=long_uuid), entry(uuid="u" * 299)]


async def test_key_prefixes_are_disjoint(services: Services) -> None:
    one = DatabaseSessionStore(services.db, key_prefix=fresh_prefix())
    two = DatabaseSessionStore(services.db, key_prefix=fresh_prefix())
    await one.append(KEY, [entry(uuid="a")])
    assert await two.load(KEY) is None
    assert await two.list_sessions("proj") == []
    assert await two.list_session_summaries("proj") == []
    await two.delete(KEY)
    assert await one.load(KEY) == [entry(uuid="a")]


async def test_concurrent_appends_from_two_instances(database_url: str) -> None:
    """Racing appends to one session: nothing lost, batches stay whole, the summary folds all."""
    prefix = fresh_prefix()
    dbs = [Database(database_url), Database(database_url)]
    try:
        stores = [DatabaseSessionStore(db, key_prefix=prefix) for db in dbs]
        batches = [
            [
                entry(uuid=f"b{b}-{i}", timestamp=f"2024-01-01T00:00:{b:02d}.000Z",
                      customTitle=f"title {b}")
                for i in range(3)
            ]
            for b in range(20)
        ]  # fmt: skip
        # A few replays of earlier batches race as well (retries after a timeout).
        calls = [stores[b % 2].append(KEY, batch) for b, batch in enumerate(batches)]
        calls += [stores[1].append(KEY, batches[b]) for b in (0, 5, 10)]
        await asyncio.gather(*calls)

        loaded = await stores[0].load(KEY)
        assert loaded is not None and len(loaded) == 60
        order = [x["uuid"] for x in loaded]
        assert sorted(order) == sorted(x["uuid"] for batch in batches for x in batch)
        for start in range(0, 60, 3):  # each batch landed contiguously, in order
            b = order[start].split("-")[0]
            assert order[start : start + 3] == [f"{b}-0", f"{b}-1", f"{b}-2"]
        (summary,) = await stores[1].list_session_summaries("proj")
        assert summary["data"] == fold_session_summary(None, KEY, loaded)["data"]
    finally:
        for db in dbs:
            await db.dispose()


async def test_sdk_reads_sessions_back_through_the_store(
    store: DatabaseSessionStore, tmp_path: Any
) -> None:
    """The SDK's store-backed helpers (what resume and session listing use) work on our rows."""
    cwd = str(tmp_path)
    project_key = project_key_for_directory(cwd)
    session_id = str(uuid.uuid4())
    user_uuid, assistant_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    common = {"sessionId": session_id, "cwd": cwd, "isSidechain": False, "userType": "external"}
    transcript = [
        {
            "type": "user", "uuid": user_uuid, "parentUuid": None,
            "timestamp": "2024-05-01T10:00:00.000Z",
            "message": {"role": "user", "content": "What is 2+2?"}, **common,
        },
        {
            "type": "assistant", "uuid": assistant_uuid, "parentUuid": user_uuid,
            "timestamp": "2024-05-01T10:00:01.000Z",
            "message": {
                "id": "msg_1", "role": "assistant", "model": "claude-test",
                "content": [{"type": "text", "text": "4"}],
            },
            **common,
        },
    ]  # fmt: skip
    await store.append({"project_key": project_key, "session_id": session_id}, transcript)

    (info,) = await list_sessions_from_store(store, directory=cwd)
    assert info.session_id == session_id
    assert info.first_prompt == "What is 2+2?"
    assert info.created_at is not None and info.last_modified > 1e12
    messages = await get_session_messages_from_store(store, session_id, directory=cwd)
    assert [m.uuid for m in messages] == [user_uuid, assistant_uuid]


# --------------------------------------------------------------------------- the real CLI

from tests.agent_doubles import bundled_cli_path
from tests.agent_doubles.fake_messages_api import FakeMessagesAPI


async def test_real_cli_resumes_on_another_instance(database_url: str, tmp_path: Any) -> None:
    """The bundled Claude Code CLI mirrors a turn through instance A; instance B, with an empty
    config dir and its own engine, resumes it from the database alone; A then resumes B's turn."""
    cli = bundled_cli_path()
    assert cli is not None, "the SDK wheel must bundle the Claude Code CLI"
    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage

    prefix = fresh_prefix()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    dbs = {name: Database(database_url) for name in ("a", "b")}
    try:
        with FakeMessagesAPI() as api:

            async def turn(instance: str, prompt: str, resume: str | None = None) -> str:
                config_dir = tmp_path / f"config-{instance}-{uuid.uuid4().hex[:6]}"
                config_dir.mkdir()
                options = ClaudeAgentOptions(
                    cli_path=cli,
                    cwd=str(workspace),
                    env={**api.cli_env(), "CLAUDE_CONFIG_DIR": str(config_dir)},
                    setting_sources=[],
                    resume=resume,
                    session_store=DatabaseSessionStore(dbs[instance], key_prefix=prefix),
                    session_store_flush="eager" if instance == "b" else "batched",
                )
                async with ClaudeSDKClient(options) as client:
                    await client.query(prompt)
                    messages = [m async for m in client.receive_response()]
                result = messages[-1]
                assert isinstance(result, ResultMessage) and not result.is_error, result
                return result.session_id

            session_id = await turn("a", "my name is Bob")
            assert await turn("b", "what is my name?", resume=session_id) == session_id
            assert "my name is Bob" in str(api.messages_requests()[-1]["messages"])
            assert await turn("a", "and my age?", resume=session_id) == session_id
            last = str(api.messages_requests()[-1]["messages"])
            assert "my name is Bob" in last and "what is my name?" in last

        store = DatabaseSessionStore(dbs["b"], key_prefix=prefix)
        key: SessionKey = {
            "project_key": project_key_for_directory(workspace),
            "session_id": session_id,
        }
        entries = await store.load(key)
        assert entries is not None
        prompts = [
            e["message"]["content"]
            for e in entries
            if e.get("type") == "user" and isinstance(e.get("message", {}).get("content"), str)
        ]
        assert prompts == ["my name is Bob", "what is my name?", "and my age?"]
        uuids = [e["uuid"] for e in entries if "uuid" in e]
        assert len(uuids) == len(set(uuids))  # resumes did not duplicate mirrored lines
        (info,) = await list_sessions_from_store(store, directory=str(workspace))
        assert info.session_id == session_id and info.first_prompt == "my name is Bob"
    finally:
        for db in dbs.values():
            await db.dispose()
