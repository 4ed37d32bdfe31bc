"""MCP servers (real FastMCP ones, over stdio and streamable HTTP): config parsing, namespaced
tools, failing servers that never block startup, errors as results, and an agent run."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.fakes.mcp_servers import McpHttpServer, stdio_server
from tests.helpers import Api, make_settings, running_warren
from warren.app import create_app
from warren.config import Settings
from warren.errors import ConfigError
from warren.tools import BUILT_IN_NAMES, Toolbox, ToolStatus
from warren.tools.mcp import HttpServer, StdioServer, add_mcp_servers, load_mcp_config, tool_name

MAIN = "You are Warren, a capable assistant"
TOKEN = "mcp-token-5f3a9c1e7b"  # the HTTP server's bearer token
DEMO_TOOLS = {"add", "read_env", "fail", "nap", "crash", "weather_lookup"}
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.fixture
async def http_server() -> AsyncIterator[McpHttpServer]:
    server = McpHttpServer(token=TOKEN)
    await server.start()
    yield server
    await server.stop()


def mcp_settings(tmp_path: Path, config: dict[str, Any] | str, **overrides: Any) -> Settings:
    raw = config if isinstance(config, str) else json.dumps(config)
    return make_settings(tmp_path / "data", mcp_config=raw, **overrides)


async def load(settings: Settings) -> Toolbox:
    toolbox = Toolbox()
    async with AsyncExitStack() as stack:
        await add_mcp_servers(toolbox, settings, stack)
    return toolbox


async def call(tool: BaseTool, **args: Any) -> ToolMessage:
    """Invoke as the agent's tool node does: a tool call in, a ToolMessage out."""
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}
    )
    assert isinstance(message, ToolMessage)
    return message


def text(message: ToolMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text")


# --- config -------------------------------------------------------------------------------


def test_config_accepts_the_common_spellings(tmp_path: Path) -> None:
    config = {
        "mcpServers": {
            "files": {"command": "npx", "args": ["-y", "server-files"]},
            "a": {"type": "streamable-http", "url": "https://a.example/mcp"},
            "b": {"transport": "streamable_http", "url": "http://b.example/mcp"},
            "c": {"url": "https://c.example/mcp", "headers": {"X-Key": "k"}},
        }
    }
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(config))
    for raw in (json.dumps(config), str(path), f"  {json.dumps(config)}\n"):
        servers = load_mcp_config(raw).servers
        assert isinstance(servers["files"], StdioServer)
        assert servers["files"].args == ["-y", "server-files"]
        assert all(isinstance(servers[n], HttpServer) for n in "abc")
        assert {n: s.transport for n, s in servers.items()} == {
            "files": "stdio",
            "a": "http",
            "b": "http",
            "c": "http",
        }
    assert load_mcp_config(None).servers == {}
    assert load_mcp_config(json.dumps({"servers": {}})).servers == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"servers": {', "MCP_CONFIG is not valid JSON: Expecting property name"),
        ("[1, 2]", "MCP_CONFIG is invalid"),
        ('{"servers": {}, "mcpServers": {}}', 'either "servers" or "mcpServers"'),
        ('{"servers": {"x": {"transport": "sse", "url": "http://h/sse"}}}', "servers.x"),
        ('{"servers": {"x": {"transport": "stdio"}}}', "servers.x.stdio.command: Field required"),
        ('{"servers": {"x": {"url": "ftp://h/mcp"}}}', "must be an http:// or https:// URL"),
        ('{"servers": {"my server": {"command": "x"}}}', "servers.my server"),
        ('{"servers": {"x": {"command": "x", "header": {}}}}', "Extra inputs are not permitted"),
        ("/nonexistent/mcp.json", "MCP_CONFIG: cannot read /nonexistent/mcp.json"),
    ],
)
def test_an_invalid_config_is_a_clear_config_error(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mcp_config(raw)
    assert message in raised.value.detail


def test_config_errors_never_echo_values() -> None:
    raw = json.dumps({"servers": {"x": {"url": "https://h/mcp", "headers": {"K": 12345678}}}})
    with pytest.raises(ConfigError) as raised:
        load_mcp_config(raw)
    assert "servers.x.http.headers.K" in raised.value.detail
    assert "12345678" not in raised.value.detail


async def test_an_invalid_config_stops_startup_with_the_reason(tmp_path: Path) -> None:
    app = create_app(mcp_settings(tmp_path, '{"servers": ['))
    with pytest.raises(ConfigError, match="MCP_CONFIG is not valid JSON"):
        async with app.router.lifespan_context(app):
            pass


# --- names --------------------------------------------------------------------------------


def test_tool_names_are_namespaced_sanitised_and_distinct() -> None:
    assert tool_name("github", "create_issue", set()) == "github__create_issue"
    assert tool_name("my.server", "get weather/now", set()) == "my_server__get_weather_now"
    long_a = tool_name("s" * 40, "t" * 40 + "_a", set())
    long_b = tool_name("s" * 40, "t" * 40 + "_b", set())
    assert long_a is not None
    assert long_b is not None
    assert long_a != long_b
    assert all(TOOL_NAME.match(n) for n in (long_a, long_b))
    taken = {"x__y"}
    other = tool_name("x", "y", taken)
    assert other is not None
    assert other != "x__y"
    assert TOOL_NAME.match(other)
    assert tool_name("x", "y", taken | {other}) is None
    assert not {tool_name("s", b, set()) for b in BUILT_IN_NAMES} & BUILT_IN_NAMES


# --- loading and calling ------------------------------------------------------------------


async def test_stdio_and_http_servers_load_namespaced_tools_that_work(
    tmp_path: Path, http_server: McpHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARREN_TEST_MCP_TOKEN", TOKEN)
    monkeypatch.setenv("WARREN_TEST_GREETING", "hello from warren")
    config = {
        "servers": {
            "demo": stdio_server(env={"GREETING": "${WARREN_TEST_GREETING}"}),
            "web": {
                "transport": "http",
                "url": http_server.url,
                "headers": {"Authorization": "Bearer ${WARREN_TEST_MCP_TOKEN}"},
            },
        }
    }
    toolbox = await load(mcp_settings(tmp_path, config))
    tools = {t.name: t for t in toolbox.tools}
    assert set(tools) == {f"{s}__{t}" for s in ("demo", "web") for t in DEMO_TOOLS}
    assert toolbox.status == {
        "mcp:demo": ToolStatus(ok=True, detail="6 tools (stdio)"),
        "mcp:web": ToolStatus(ok=True, detail="6 tools (http)"),
    }
    assert tools["web__add"].description.startswith("[MCP server 'web'] Add two integers.")

    result = await call(tools["demo__add"], a=2, b=3)
    assert (text(result), result.status) == ("2 + 3 = 5", "success")
    result = await call(tools["web__add"], a=40, b=2)
    assert (text(result), result.status) == ("40 + 2 = 42", "success")
    assert text(await call(tools["demo__weather_lookup"], city="Oslo")) == "sunny in Oslo"
    # env reaches the stdio server with `${VAR}` expanded; Warren's own variables do not
    assert text(await call(tools["demo__read_env"], variable="GREETING")) == "hello from warren"
    assert text(await call(tools["demo__read_env"], variable="WARREN_TEST_MCP_TOKEN")) == "<unset>"
    assert set(http_server.authorizations) == {f"Bearer {TOKEN}"}


async def test_tool_failures_come_back_as_error_results(
    tmp_path: Path, http_server: McpHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = {
        "servers": {
            "demo": stdio_server(),
            "web": {
                "url": http_server.url,
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            },
        }
    }
    tools = {
        t.name: t
        for t in (await load(mcp_settings(tmp_path, config, mcp_call_timeout_seconds=1))).tools
    }

    failed = await call(tools["web__fail"], message="the disk is full")
    assert failed.status == "error"
    assert "the disk is full" in text(failed)

    crashed = await call(tools["demo__crash"])
    assert crashed.status == "error"
    assert text(crashed).startswith("MCP server 'demo' failed to run 'crash': ")

    slow = await call(tools["demo__nap"], seconds=30)
    assert slow.status == "error"
    assert text(slow) == "MCP server 'demo' failed to run 'nap': did not answer within 1 s"

    await http_server.stop()  # the server goes away after startup
    gone = await call(tools["web__add"], a=1, b=2)
    assert gone.status == "error"
    assert text(gone).startswith("MCP server 'web' failed to run 'add': ")
    assert TOKEN not in text(gone)
    assert TOKEN not in caplog.text
    assert "mcp tool call failed" in caplog.text


async def test_failing_servers_are_reported_and_the_rest_still_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = {
        "servers": {
            "demo": stdio_server(),
            "nocmd": {
                "command": "/nonexistent/mcp-server",
                "args": [],
                "env": {"K": "env-secret-1"},
            },
            "nohost": {
                "url": "http://127.0.0.1:9/mcp?api_key=query-secret-2",
                "headers": {"Authorization": "Bearer header-secret-3"},
            },
            "silent": {"command": "sleep", "args": ["60"]},
        }
    }
    toolbox = await load(mcp_settings(tmp_path, config, mcp_timeout_seconds=3))
    assert toolbox.status["mcp:demo"] == ToolStatus(ok=True, detail="6 tools (stdio)")
    assert toolbox.status["mcp:nocmd"] == ToolStatus(ok=False, detail="failed: FileNotFoundError")
    assert toolbox.status["mcp:nohost"] == ToolStatus(ok=False, detail="failed: ConnectError")
    assert toolbox.status["mcp:silent"] == ToolStatus(
        ok=False, detail="failed: did not answer within 3 s"
    )
    assert {t.name.split("__")[0] for t in toolbox.tools} == {"demo"}
    assert text(await call(next(t for t in toolbox.tools if t.name == "demo__add"), a=1, b=1)) == (
        "1 + 1 = 2"
    )
    failures = [r for r in caplog.records if "mcp server failed" in r.getMessage()]
    assert len(failures) == 3
    for secret in ("env-secret-1", "query-secret-2", "header-secret-3"):
        assert secret not in caplog.text


# --- an agent run -------------------------------------------------------------------------


async def test_an_agent_calls_mcp_tools_and_readyz_shows_the_broken_server(
    tmp_path: Path, http_server: McpHttpServer, llm: ScriptedLLM
) -> None:
    calls = [
        ToolCall("demo__add", {"a": 19, "b": 23}),
        ToolCall("web__weather_lookup", {"city": "Lima"}),
        ToolCall("web__fail", {"message": "no such repository"}),
    ]
    llm.script([(MAIN, [Reply(tool_calls=calls), Reply(text="19 + 23 = 42 and Lima is sunny.")])])
    config = {
        "servers": {
            "demo": stdio_server(),
            "web": {"url": http_server.url, "headers": {"Authorization": f"Bearer {TOKEN}"}},
            "broken": {"url": "http://127.0.0.1:9/mcp"},
        }
    }
    settings = mcp_settings(tmp_path, config, model_api_key="sk-test", model_base_url=llm.base_url)
    async with running_warren(settings) as url:
        api = Api(url)
        ready = await api.http.get("/readyz")
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "Add 19 and 23, and check Lima's weather.")
        await api.aclose()

    body = ready.json()
    assert ready.status_code == 200
    assert body["status"] == "ready"
    assert body["tools"]["mcp:demo"] == {"ok": True, "detail": "6 tools (stdio)"}
    assert body["tools"]["mcp:web"] == {"ok": True, "detail": "6 tools (http)"}
    assert body["tools"]["mcp:broken"] == {"ok": False, "detail": "failed: ConnectError"}
    assert "mcp:broken: failed: ConnectError" in body["warnings"]

    assert llm.errors == []
    assert stream.frames[-1].data["status"] == "success"
    offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
    assert {"demo__add", "web__weather_lookup", "web__fail"} <= offered
    assert not any(name.startswith("broken__") for name in offered)

    results = {f.data["tool_call_id"]: f.data for f in stream.frames if f.event == "tool_result"}
    add, weather, fail = (results[c.id] for c in calls)
    assert (add["name"], add["content"], add["status"]) == ("demo__add", "19 + 23 = 42", "success")
    assert (weather["content"], weather["status"]) == ("sunny in Lima", "success")
    assert fail["status"] == "error"
    assert "no such repository" in fail["content"]

    # the results reach the model in its next request
    tool_messages = {
        m["tool_call_id"]: json.dumps(m["content"])
        for m in llm.requests[1]["messages"]
        if m["role"] == "tool"
    }
    assert "19 + 23 = 42" in tool_messages[calls[0].id]
    assert "sunny in Lima" in tool_messages[calls[1].id]
    assert "no such repository" in tool_messages[calls[2].id]


async def test_readyz_reports_nothing_for_mcp_without_a_config(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", model_api_key="sk-test")
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url) as http:
        body = (await http.get("/readyz")).json()
    assert not any(name.startswith("mcp:") for name in body["tools"])
