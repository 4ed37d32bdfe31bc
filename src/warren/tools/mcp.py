"""MCP servers from `MCP_CONFIG`, loaded with `langchain-mcp-adapters` into namespaced tools.

The config is a JSON file's path or the JSON itself: `{"servers": {name: server}}` (the
common `{"mcpServers": ...}` works too), a server being `{"transport": "stdio", "command",
"args", "env", "cwd"}` or `{"transport": "http", "url", "headers"}` (`streamable_http` and
`streamable-http` mean `http`; without `transport`, `command` means stdio and `url` HTTP).
`${VAR}` in header and env values is read from Warren's environment, so secrets need not sit
in the file. Only an unreadable or invalid config stops startup; a server that fails to
start, answer or list its tools within `MCP_TIMEOUT_SECONDS` is logged, shown in `/readyz`
as `mcp:<name>`, and left out, while the other servers' tools work.

Tools are named `<server>__<tool>`, cut to the characters and length every model provider
accepts (a hash keeps cut names distinct), and never take a deepagents built-in's name or
another tool's.

Sessions: every tool call opens a fresh MCP session (for stdio, a fresh server process) and
closes it when the call returns, which is the adapters' behaviour for tools loaded without a
session. Nothing is shared between calls, so nothing is shared between users: a server that
keeps per-session state or credentials never carries one user's into another's call. The
cost is a handshake per call; it buys isolation without a session cache keyed by user. A
call that fails (the server crashed, timed out after `MCP_CALL_TIMEOUT_SECONDS`, or
reported an error) comes back to the model as an error result instead of ending the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.interceptors import (
    MCPToolCallRequest,
    MCPToolCallResult,
    ToolCallInterceptor,
)
from langchain_mcp_adapters.sessions import Connection, StdioConnection, StreamableHttpConnection
from mcp.types import AudioContent, CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warren.config import Settings
from warren.errors import ConfigError
from warren.logs import get_logger
from warren.tools import BUILT_IN_NAMES, Toolbox, ToolStatus

log = get_logger(__name__)

TOOL_NAME_MAX = 64  # OpenAI's limit, the strictest of the providers: ^[a-zA-Z0-9_-]{1,64}$
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_BRACED_VAR = re.compile(r"\$\{([^}]+)\}")
_HTTP_SPELLINGS = {"http", "streamable_http", "streamable-http", "streamablehttp"}

ServerName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")]


class StdioServer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transport: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None  # None: the MCP SDK's safe default subset of ours
    cwd: str | None = None


class HttpServer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transport: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


ServerConfig = Annotated[StdioServer | HttpServer, Field(discriminator="transport")]


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: dict[ServerName, ServerConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "mcpServers" in data:
            if "servers" in data:
                raise ValueError('give either "servers" or "mcpServers", not both')
            data["servers"] = data.pop("mcpServers")
        servers = data.get("servers")
        if isinstance(servers, dict):
            data["servers"] = {name: _normalise_server(s) for name, s in servers.items()}
        return data


def _normalise_server(server: Any) -> Any:
    """Accept the common spellings: `type` for `transport`, the streamable-HTTP aliases,
    and no transport at all (then `command` means stdio and `url` means HTTP)."""
    if not isinstance(server, dict):
        return server
    server = dict(server)
    if "type" in server and "transport" not in server:
        server["transport"] = server.pop("type")
    transport = server.get("transport")
    if transport is None:
        server["transport"] = "stdio" if "command" in server else "http"
    elif isinstance(transport, str) and transport.lower() in _HTTP_SPELLINGS:
        server["transport"] = "http"
    return server


def load_mcp_config(raw: str | None) -> McpConfig:
    """Parse `MCP_CONFIG`; a ConfigError says what is wrong (never echoing values)."""
    if raw is None or not raw.strip():
        return McpConfig()
    text = raw.strip()
    if not text.startswith(("{", "[")):  # JSON itself, else a file's path
        path = Path(text).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"MCP_CONFIG: cannot read {path}: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"MCP_CONFIG is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    try:
        return McpConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'top level'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"MCP_CONFIG is invalid: {problems}") from None


@dataclass(frozen=True, slots=True)
class _Server:
    name: str
    connection: Connection
    secrets: tuple[str, ...]  # values to keep out of logs and error text


def _expand(value: str) -> str:
    return _BRACED_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)


def _server(name: str, config: StdioServer | HttpServer, settings: Settings) -> _Server:
    if isinstance(config, StdioServer):
        stdio: StdioConnection = {
            "transport": "stdio",
            "command": config.command,
            "args": config.args,
        }
        if config.env is not None:
            stdio["env"] = config.env  # the adapters expand `${VAR}` in env values
        if config.cwd is not None:
            stdio["cwd"] = config.cwd
        env_values = [_expand(v) for v in (config.env or {}).values()]
        return _Server(name, stdio, _secret_values(env_values))
    headers = {key: _expand(value) for key, value in config.headers.items()}
    http: StreamableHttpConnection = {
        "transport": "streamable_http",
        "url": config.url,
        "headers": headers,
        "timeout": timedelta(seconds=settings.mcp_timeout_seconds),
        "sse_read_timeout": timedelta(seconds=settings.mcp_call_timeout_seconds),
    }
    url_parts = re.match(r"^https?://(?:([^@/]*)@)?[^/?#]*[^?#]*(?:\?([^#]*))?", config.url)
    from_url = [g for g in (url_parts.groups() if url_parts else ()) if g]
    return _Server(name, http, _secret_values([*headers.values(), *from_url]))


def _secret_values(values: Iterable[str]) -> tuple[str, ...]:
    found: set[str] = set()
    for value in values:
        found.add(value)
        # `Bearer abc`: the token alone may show up in a message too
        found.update(part for part in value.split() if len(part) >= 6)
    return tuple(sorted((v for v in found if len(v) >= 4), key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def describe(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line about an error: the first real cause inside exception groups, redacted."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    message = redact(" ".join(str(exc).split()), secrets)[:300]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def tool_name(server: str, tool: str, taken: set[str]) -> str | None:
    """`<server>__<tool>` in the model's tool-name charset and length, distinct from
    `taken`; None when even the hashed form collides."""
    full = _NOT_NAME_CHARS.sub("_", f"{server}__{tool}")
    if len(full) <= TOOL_NAME_MAX and full not in taken and full not in BUILT_IN_NAMES:
        return full
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    hashed = f"{full[: TOOL_NAME_MAX - 9]}_{digest}"
    return None if hashed in taken or hashed in BUILT_IN_NAMES else hashed


def _errors_as_results(servers: dict[str, _Server], call_timeout: float) -> ToolCallInterceptor:
    """An adapters interceptor: a failing call (transport, timeout, unsupported content)
    becomes an `isError` result, which the adapters hand the model as an error message."""

    async def intercept(
        request: MCPToolCallRequest,
        handler: Callable[[MCPToolCallRequest], Awaitable[MCPToolCallResult]],
    ) -> MCPToolCallResult:
        server = servers[request.server_name]
        try:
            async with asyncio.timeout(call_timeout):
                result = await handler(request)
        except TimeoutError:
            text = f"did not answer within {call_timeout:g} s"
        except Exception as exc:
            text = describe(exc, server.secrets)
        else:
            return _without_audio(result)
        log.warning("mcp tool call failed", server=server.name, tool=request.name, error=text)
        return CallToolResult(
            content=[
                TextContent(
                    type="text",
                    text=f"MCP server {server.name!r} failed to run {request.name!r}: {text}",
                )
            ],
            isError=True,
        )

    return intercept


def _without_audio(result: MCPToolCallResult) -> MCPToolCallResult:
    """The adapters cannot convert audio and would raise; say it was left out instead."""
    if isinstance(result, CallToolResult) and any(
        isinstance(c, AudioContent) for c in result.content
    ):
        content = [
            TextContent(type="text", text="[audio content left out]")
            if isinstance(c, AudioContent)
            else c
            for c in result.content
        ]
        return result.model_copy(update={"content": content})
    return result


async def add_mcp_servers(toolbox: Toolbox, settings: Settings, stack: AsyncExitStack) -> None:
    """Load every configured server's tools concurrently into `toolbox`, one status each.

    Nothing stays open between calls (see the module docstring), so `stack` holds nothing;
    it is taken for symmetry with the other tool families."""
    del stack
    config = load_mcp_config(settings.mcp_config)
    servers = {name: _server(name, cfg, settings) for name, cfg in config.servers.items()}
    if not servers:
        return
    client = MultiServerMCPClient(
        {name: server.connection for name, server in servers.items()},
        tool_interceptors=[_errors_as_results(servers, settings.mcp_call_timeout_seconds)],
        handle_tool_errors=True,
    )

    async def load(name: str) -> list[BaseTool]:
        async with asyncio.timeout(settings.mcp_timeout_seconds):
            return await client.get_tools(server_name=name)

    names = list(servers)
    loaded = await asyncio.gather(*(load(name) for name in names), return_exceptions=True)
    taken = {tool.name for tool in toolbox.tools}
    for name, result in zip(names, loaded, strict=True):
        transport = config.servers[name].transport
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation and friends are not a server's failure
            timed_out = isinstance(result, TimeoutError)
            reason = (
                f"did not answer within {settings.mcp_timeout_seconds:g} s"
                if timed_out
                else describe(result, servers[name].secrets)
            )
            log.warning("mcp server failed", server=name, transport=transport, error=reason)
            short = reason if timed_out else reason.split(":", 1)[0]
            toolbox.status[f"mcp:{name}"] = ToolStatus(ok=False, detail=f"failed: {short}")
            continue
        added = _add_tools(toolbox, name, result, taken)
        log.info("mcp server loaded", server=name, transport=transport, tools=added)
        toolbox.status[f"mcp:{name}"] = ToolStatus(
            ok=True, detail=f"{added} tool{'s' if added != 1 else ''} ({transport})"
        )


def _add_tools(toolbox: Toolbox, server: str, tools: list[BaseTool], taken: set[str]) -> int:
    added = 0
    for tool in tools:
        name = tool_name(server, tool.name, taken)
        if name is None:
            log.warning("mcp tool left out: its name collides", server=server, tool=tool.name)
            continue
        description = f"[MCP server {server!r}] {tool.description}".strip()
        toolbox.add(tool.model_copy(update={"name": name, "description": description}))
        taken.add(name)
        added += 1
    return added
