"""Responses are encoded with orjson; a value it refuses still gets a complete, exact answer."""

from __future__ import annotations

import json


async def test_any_stored_json_value_comes_back_exactly(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    metadata = {"huge": 2**70, "small": -3, "pi": 3.25, "text": "é ✓", "nested": [{"a": None}]}
    created = await client.data(
        "mutation($m: JSON) { createSession(input: {title: \"t\", metadata: $m}) { session { id } } }",
        {"m": metadata},
    )
    session_id = created["createSession"]["session"]["id"]
    # 2**70 is beyond orjson's 64-bit integers: the standard library encodes that answer.
    response = await client.http.post(
        "/graphql",
        json={"query": "query($id: ID!) { session(id: $id) { id metadata } }", "variables": {"id": session_id}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200
    assert json.loads(response.content)["data"]["session"] == {"id": session_id, "metadata": metadata}
    # Within orjson's range the answer is orjson's compact encoding.
    small = await client.http.post(
        "/graphql",
        json={"query": "{ viewer { sessionCount } }"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert small.content == b'{"data":{"viewer":{"sessionCount":1}}}'
