"""The agent installs a skill with `install_skill` and, in the same run, the next model call's
system prompt lists it and the agent can read it; a refused install is text it can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import Api, Stream, running_warren
from tests.skills.conftest import HAIKU, FileServer, good_skill
from tests.skills.test_sandboxes import sandboxes_for

MAIN = "You are Warren, a capable assistant"
LISTED = "- **haiku-writer**: " + HAIKU
READ_ME = "Read `/skills/haiku-writer/SKILL.md` for full instructions"


def system(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] == "system"
    content = first["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


def results(stream: Stream) -> dict[str, str]:
    return {
        f.data["tool_call_id"]: f.data["content"] for f in stream.frames if f.event == "tool_result"
    }


@pytest.mark.parametrize("kind", ["local", "opensandbox"])
async def test_an_installed_skill_is_seen_by_the_next_model_call(
    kind: str, settings_for: SettingsFactory, llm: ScriptedLLM, files: FileServer, tmp_path: Path
) -> None:
    url = files.serve("haiku.zip", good_skill())
    refused = ToolCall("install_skill", {"url": "http://169.254.169.254/latest/meta-data/"})
    install = ToolCall("install_skill", {"url": url})
    read = ToolCall("read_file", {"file_path": "/skills/haiku-writer/SKILL.md"})
    run = ToolCall("execute", {"command": "sh /skills/haiku-writer/scripts/count.sh"})
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(tool_calls=[refused]),
                    Reply(tool_calls=[install]),
                    Reply(tool_calls=[read]),
                    Reply(tool_calls=[run]),
                    Reply(text="Here is your haiku."),
                ],
            )
        ]
    )
    async with (
        sandboxes_for(
            kind,
            settings_for,
            tmp_path,
            model_api_key="sk-test",
            model_base_url=llm.base_url,
            warren_fetch_allow_hosts=[files.host],
        ) as (settings, _provider),
        running_warren(settings) as base,
    ):
        api = Api(base)
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "Install the haiku skill and use it.")
        assert stream.frames[-1].data["status"] == "success", stream.frames[-1]
        assert llm.errors == []

        got = results(stream)
        assert got[refused.id].startswith("install_skill failed (fetch_refused): ")
        assert got[install.id].startswith(f"Installed skill 'haiku-writer': {HAIKU}")
        assert "Count five, seven, five syllables." in got[read.id]
        assert got[run.id].startswith("17\n")

        prompts = [system(request) for request in llm.requests]
        assert len(prompts) == 5
        # before the install: no skill; from the very next call on, the skill is listed
        assert "No skills installed yet" in prompts[0]
        assert LISTED not in prompts[1]
        for prompt in prompts[2:]:
            assert LISTED in prompt
            assert READ_ME in prompt

        # the next run of the thread lists it too; removing it takes it out of the prompt
        llm.script([(MAIN, [Reply(text="Still here."), Reply(text="Gone now.")])])
        again = await api.run_stream(thread["id"], "Still there?")
        assert again.frames[-1].data["status"] == "success"
        assert LISTED in system(llm.requests[-1])
        assert (await api.request("DELETE", "/api/skills/haiku-writer")).status_code == 204
        after = await api.run_stream(thread["id"], "And now?")
        assert after.frames[-1].data["status"] == "success"
        assert LISTED not in system(llm.requests[-1])
        gone = await api.request(
            "GET",
            f"/api/threads/{thread['id']}/files/content",
            params={"path": "/skills/haiku-writer/SKILL.md"},
        )
        assert gone.status_code == 404
        await api.aclose()


async def test_the_researcher_and_the_critic_see_installed_skills(
    settings_for: SettingsFactory, llm: ScriptedLLM, files: FileServer
) -> None:
    """deepagents hands the main agent's skills listing to none of the declared subagents:
    Warren gives each its own, so a `task` to the researcher or the critic lists the user's
    skills in the subagent's system prompt, and the researcher can read one."""
    research = ToolCall("task", {"description": "Write a haiku", "subagent_type": "researcher"})
    review = ToolCall("task", {"description": "Review the haiku", "subagent_type": "critic"})
    read = ToolCall("read_file", {"file_path": "/skills/haiku-writer/SKILL.md"})
    llm.script(
        [
            ("You are Warren's researcher", [Reply(tool_calls=[read]), Reply(text="A haiku.")]),
            ("You are Warren's critic", [Reply(text="Five, seven, five: fine.")]),
            (MAIN, [Reply(tool_calls=[research]), Reply(tool_calls=[review]), Reply(text="ok")]),
        ]
    )
    settings = settings_for(
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        warren_fetch_allow_hosts=[files.host],
    )
    async with running_warren(settings) as base:
        api = Api(base)
        await api.register()
        installed = await api.request(
            "POST", "/api/skills", json={"url": files.serve("haiku.zip", good_skill())}
        )
        assert installed.status_code == 201, installed.text
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "Write a haiku and have it reviewed.")
        await api.aclose()
    assert stream.frames[-1].data["status"] == "success", stream.frames[-1]
    assert llm.errors == []
    assert "Count five, seven, five syllables." in results(stream)[read.id]
    by_agent: dict[str, list[str]] = {"researcher": [], "critic": []}
    for request in llm.requests:
        prompt = system(request)
        for name in by_agent:
            if prompt.startswith(f"You are Warren's {name}"):
                by_agent[name].append(prompt)
    assert [len(prompts) for prompts in by_agent.values()] == [2, 1]
    for prompts in by_agent.values():
        for prompt in prompts:
            assert LISTED in prompt
            assert READ_ME in prompt
