"""`InstalledSkills`: deepagents' skills middleware, listing the user's skills from the records.

deepagents' `SkillsMiddleware` lists `/skills/` in the backend once per thread and keeps the
list in the thread's state, so a skill installed later in the thread would stay unseen, and
the listing would create the thread's sandbox on its very first run. This subclass takes its
slot (same `name`) and instead reads the user's installed skills from the records before
every model call (one indexed query): a skill installed mid-run is in the next model call's
system prompt, a removed one is gone from it, and no sandbox is touched until the model
reads a `SKILL.md`, which the sandbox's setup hook has put there.
"""

from __future__ import annotations

from typing import Any

from deepagents.backends.protocol import BackendProtocol
from deepagents.middleware.skills import SkillMetadata, SkillsMiddleware, SkillsState
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.runtime import Runtime

from warren.storage.records import Skill, SkillRepo

SKILLS_SOURCE = "/skills/"
SOURCE_LABEL = "Installed"  # the prompt says "**Installed Skills**"
NONE_YET = (
    "(No skills installed yet. When the user gives you the URL of a skill's zip archive, "
    "install it with `install_skill`.)"
)


def metadata(skill: Skill) -> SkillMetadata:
    return SkillMetadata(
        path=f"{SKILLS_SOURCE}{skill.name}/SKILL.md",
        name=skill.name,
        description=skill.description,
        license=None,
        compatibility=None,
        metadata={},
        allowed_tools=[],
    )


def _user_id(runtime: Runtime[Any]) -> str | None:
    user_id = getattr(runtime.context, "user_id", None)
    if user_id:
        return str(user_id)
    try:  # a subagent's runtime may carry no context; the run's config always names the user
        found = get_config().get("configurable", {}).get("user_id")
    except RuntimeError:
        return None
    return str(found) if found else None


class InstalledSkills(SkillsMiddleware[Any, Any]):
    def __init__(self, backend: BackendProtocol, repo: SkillRepo) -> None:
        super().__init__(backend=backend, sources=[(SKILLS_SOURCE, SOURCE_LABEL)])
        self.repo = repo

    @property
    def name(self) -> str:
        return "SkillsMiddleware"  # replaces deepagents' own in its place in the stack

    def _format_skills_list(self, skills: list[SkillMetadata]) -> str:
        if not skills:  # deepagents would suggest writing one there, which lists nothing here
            return NONE_YET
        return super()._format_skills_list(skills)

    def before_agent(  # type: ignore[override]
        self, state: SkillsState, runtime: Runtime[Any], config: RunnableConfig
    ) -> None:
        return None  # listed before each model call instead

    async def abefore_agent(  # type: ignore[override]
        self, state: SkillsState, runtime: Runtime[Any], config: RunnableConfig
    ) -> None:
        return None

    async def abefore_model(
        self, state: SkillsState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        user_id = _user_id(runtime)
        listed = [metadata(s) for s in await self.repo.list_for_user(user_id)] if user_id else []
        fresh: SkillsState = {**state, "skills_metadata": listed}
        update = await super().abefore_model(fresh, runtime) or {}
        if state.get("skills_metadata") != listed:
            update["skills_metadata"] = listed
            update["skills_load_errors"] = []
        return update or None
