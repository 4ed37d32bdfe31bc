"""`install_skill`: the agent installs a skill (a zip with `SKILL.md`) for its user.

The skill belongs to the user, not the thread: it is stored in the records, written to
`/skills/<name>/` of the user's live sandboxes, and restored into every sandbox created
later (this module registers that setup hook). The next model call lists it.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from warren.errors import WarrenError
from warren.sandbox.thread_sandbox import NoThread, current_thread
from warren.skills.service import SkillService, skill_dir
from warren.tools import Toolbox, ToolDeps

TOOL_NAME = "install_skill"

DESCRIPTION = """Install a skill for the user from the URL of its zip archive.

A skill is a folder of instructions (`SKILL.md`) and helper files. Once installed it stays
installed for this user in every conversation, in `/skills/<name>/`, and it is listed in
your instructions from your next step on; read its `SKILL.md` before using it. Pass
`sha256` when the user gave a checksum: the archive is refused if it differs. Refusals (a
URL the server may not fetch, a bad or oversized archive) come back as a message saying
why; do not retry the same URL unchanged."""


class InstallSkillArgs(BaseModel):
    url: str = Field(description="The http(s) URL of the skill's .zip archive.")
    sha256: str | None = Field(
        default=None,
        description="The archive's expected SHA-256, as 64 hex digits, if the user gave one.",
    )


def add_skills(toolbox: Toolbox, deps: ToolDeps) -> None:
    """Offer `install_skill`, and restore the user's skills into every new sandbox."""
    service = SkillService(deps.settings, deps.storage.records.skills, deps.sandboxes)
    deps.sandboxes.setup_hooks.append(service.restore)
    toolbox.add(build_install_tool(service))


def build_install_tool(service: SkillService) -> BaseTool:
    async def install_skill(url: str, sha256: str | None = None) -> str:
        try:
            _thread_id, user_id = current_thread()
        except NoThread:
            return "install_skill failed: it only works inside a conversation."
        try:
            skill = await service.install(user_id, url.strip(), sha256 or None)
        except WarrenError as exc:
            return f"install_skill failed ({exc.code}): {exc.detail}"
        where = skill_dir(skill.name)
        return (
            f"Installed skill '{skill.name}': {skill.description}\n"
            f"Its files are in {where}/. Read {where}/SKILL.md before using it."
        )

    return StructuredTool.from_function(
        coroutine=install_skill,
        name=TOOL_NAME,
        description=DESCRIPTION,
        args_schema=InstallSkillArgs,
    )
