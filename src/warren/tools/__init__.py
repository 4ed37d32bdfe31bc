"""The agent's own tools: one module per tool (or family), assembled into a `Toolbox`.

Each tool has typed arguments, a docstring the model reads, returns expected failures as
data the model can act on, never blocks the event loop, and never takes the name of a
deepagents built-in (`ls`, `read_file`, `write_file`, `edit_file`, `delete`, `glob`,
`grep`, `execute`, `task`, `write_todos`). Per-run values (user, thread) come from the
tool runtime's `RunContext` or the run config, never from the tool's construction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool

from warren.config import Settings
from warren.sandbox.manager import SandboxManager
from warren.storage.factory import Storage

if TYPE_CHECKING:
    from warren.tools.downloads import DownloadLinks

BUILT_IN_NAMES = frozenset(
    {
        "ls",
        "read_file",
        "write_file",
        "edit_file",
        "delete",
        "glob",
        "grep",
        "execute",
        "task",
        "write_todos",
    }
)


@dataclass(frozen=True, slots=True)
class ToolStatus:
    """What `/readyz` says about an optional tool or tool source (never fails readiness
    on its own: `ok=False` is reported as a warning)."""

    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ToolDeps:
    """What tools are built from, once per process."""

    settings: Settings
    storage: Storage
    sandboxes: SandboxManager
    secret: str  # the server secret; tools derive their own keys from it


@dataclass(slots=True)
class Toolbox:
    tools: list[BaseTool] = field(default_factory=list)
    status: dict[str, ToolStatus] = field(default_factory=dict)
    downloads: DownloadLinks | None = None  # checks the links `/api/downloads/{token}` serves

    def add(self, *tools: BaseTool) -> None:
        for tool in tools:
            if tool.name in BUILT_IN_NAMES:
                raise ValueError(f"tool {tool.name!r} would replace a deepagents built-in")
            if any(t.name == tool.name for t in self.tools):
                raise ValueError(f"two tools are named {tool.name!r}")
            self.tools.append(tool)


@asynccontextmanager
async def open_toolbox(deps: ToolDeps) -> AsyncIterator[Toolbox]:
    """Build every tool; clients they hold (HTTP, MCP sessions) close on exit."""
    # these modules import `Toolbox` and `ToolStatus` from here, so they load late
    from warren.tools.clock import clock_tools
    from warren.tools.downloads import DownloadLinks, download_tools
    from warren.tools.exports import export_tools
    from warren.tools.mcp import add_mcp_servers
    from warren.tools.search import add_search
    from warren.tools.skills import add_skills

    toolbox = Toolbox()
    async with AsyncExitStack() as stack:
        _ = stack  # tool families with clients register their cleanup here
        add_search(toolbox, deps.settings, stack)
        toolbox.add(*clock_tools())
        toolbox.add(
            *export_tools(
                deps.sandboxes, deps.settings.document_max_bytes, deps.settings.pdf_cjk_font
            )
        )
        toolbox.downloads = DownloadLinks(
            deps.secret, deps.settings.download_url_ttl_seconds, deps.settings.public_url
        )
        toolbox.add(*download_tools(toolbox.downloads, deps.sandboxes))
        add_skills(toolbox, deps)
        await add_mcp_servers(toolbox, deps.settings, stack)  # last: its names avoid the rest
        yield toolbox
