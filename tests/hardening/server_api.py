"""GraphQL over HTTP to a real server process (tests/servers.py), as one API key."""

from __future__ import annotations

from typing import Any

import httpx

from tests.agent.helpers import CREATE, SEND
from tests.servers import ServerProcess


class Api:
    """GraphQL over HTTP to a server process, as one API key."""

    def __init__(self, server: ServerProcess, secret: str) -> None:
        self.url = server.url
        self.headers = {"Authorization": f"Bearer {secret}"}

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30, headers=self.headers) as http:
            response = await http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = await self.execute(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def create_session(self) -> str:
        return (await self.data(CREATE, {"input": {}}))["createSession"]["session"]["id"]

    async def send(self, session_id: str, prompt: str, **fields: Any) -> dict[str, Any]:
        variables = {"input": {"sessionId": session_id, "prompt": prompt, **fields}}
        return (await self.data(SEND, variables))["sendMessage"]
