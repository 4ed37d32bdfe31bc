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

from langchain_core.tools import BaseTool

from warren.config import Settings
from warren.sandbox.manager import SandboxManager
from warren.storage.factory import Storage

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
    toolbox = Toolbox()
    async with AsyncExitStack() as stack:
        _ = stack  # tool families with clients register their cleanup here
        yield toolbox
