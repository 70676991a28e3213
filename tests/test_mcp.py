"""The MCP server through the official SDK's own client: over stdio (``qa mcp``, a real
process) and over streamable HTTP (``/mcp`` on a real uvicorn on 127.0.0.1, with API keys)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from index.model import PartialDate
from index.parse import make_article
from qa.settings import Settings
from qa.wiring import Components
from tests.conftest import EXAMPLES, GUILIN_Q, ROOT
from tests.test_crash import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PLATFORM = "regional security dialogue platform"
DATED = make_article(
    title="Halden bridge opens",
    text="The new Halden bridge cost 40 million euros to build, the city council said.",
    source="Wire A",
    published=PartialDate(2024, 5, 2),
)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


async def exercise(client: Any) -> dict[str, Any]:
    """Initialise (done by the client), list the tools, ask, read back, search, misuse."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) >= {"ask_news", "search_news", "get_article"}
    assert "question" in tools["ask_news"].input_schema["properties"]
    answer = structured(
        await client.call_tool("ask_news", {"question": GUILIN_Q, "mode": "extractive"})
    )
    assert PLATFORM in answer["text"] and answer["status"] == "answered"
    cite = answer["citations"][0]
    article = structured(await client.call_tool("get_article", {"id": cite["article_id"]}))
    assert article["text"][cite["start"] : cite["end"]] == cite["quote"]
    resource = await client.read_resource(f"article://{cite['article_id']}")
    assert PLATFORM in resource.contents[0].text
    found = structured(
        await client.call_tool("search_news", {"query": "bridge cost", "date_from": "2024-01-01"})
    )
    assert [p["title"] for p in found["passages"]] == ["Halden bridge opens"]
    assert found["passages"][0]["published"] == "2024-05-02"
    # bad arguments: an error that says what is wrong, and the session goes on
    bad = await client.call_tool("search_news", {"query": "bridge", "date_from": "yesterday"})
    assert bad.is_error and "date_from" in bad.content[0].text
    bad = await client.call_tool("search_news", {"query": "bridge", "k": 0})
    assert bad.is_error
    missing = await client.call_tool("get_article", {"id": "c" + "0" * 20})
    assert missing.is_error and "no article" in missing.content[0].text
    again = structured(await client.call_tool("search_news", {"query": "Guilin"}))
    assert again["passages"]
    return answer


def _data(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "QA_DATA_DIR": str(tmp), "QA_GENERATOR__KIND": "extractive"}
    subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(EXAMPLES)], env=env, cwd=ROOT, check=True
    )
    comps = Components(Settings(data_dir=tmp))
    comps.archive.add([DATED])
    comps.store.close()
    return env


def test_mcp_over_stdio(tmp_path) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = _data(tmp_path)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "cli", "mcp"], env=env, cwd=str(ROOT)
    )

    async def run() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=300) as client:
            return await exercise(client)

    answer = asyncio.run(run())
    assert answer["status"] == "answered" and answer["citations"]


def test_mcp_over_http_needs_the_api_key(tmp_path, onnx_embedder) -> None:
    import httpx
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from pydantic import SecretStr

    settings = Settings(
        data_dir=tmp_path, api_keys=[SecretStr("k1")], generator={"kind": "extractive"}
    )
    comps = Components(settings, embedder=onnx_embedder)
    comps.archive.add_paths([EXAMPLES])
    comps.archive.add([DATED])
    with Server(comps) as srv:
        refused = httpx.post(f"{srv.base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        wrong = httpx.post(f"{srv.base}/mcp", json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403

        async def run() -> None:
            http = httpx2.AsyncClient(headers={"Authorization": "Bearer k1"}, timeout=300)
            async with Client(
                streamable_http_client(f"{srv.base}/mcp", http_client=http)
            ) as client:
                await exercise(client)

        asyncio.run(run())
    comps.close()
