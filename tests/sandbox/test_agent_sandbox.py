"""An agent run whose files and commands all live in its thread's sandbox, on both backends:
the built-in tools on real multi-line output, a subagent in the same sandbox, persistence
across runs and server restarts, and no sharing between threads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.fakes.opensandbox_server import running_opensandbox
from tests.helpers import Api, Stream, running_warren
from warren.config import Settings
from warren.sandbox.local import LocalProvider
from warren.storage.factory import open_storage
from warren.storage.live import SandboxLease

MAIN = "You are Warren, a capable assistant"
RESEARCHER = "You are Warren's researcher"

CALC = """\
total = 0
for n in range(1, 4):
    total += n
    print(f"step {n}: total={total}")
print("done")
"""
CALC_EDITED = CALC.replace("range(1, 4)", "range(1, 5)")
OUT = "step 1: total=1\nstep 2: total=3\nstep 3: total=6\ndone\n"
RUN = "python3 /workspace/calc.py > /workspace/out.txt && cat /workspace/out.txt"


def results(stream: Stream) -> dict[str, dict[str, Any]]:
    """Tool results by tool call id."""
    return {f.data["tool_call_id"]: f.data for f in stream.frames if f.event == "tool_result"}


def sandbox_events(stream: Stream) -> list[dict[str, Any]]:
    return [f.data for f in stream.frames if f.event == "sandbox"]


def ready_id(stream: Stream) -> str:
    """The sandbox id announced by the run's `ready` event."""
    events = sandbox_events(stream)
    assert [e["status"] for e in events] == ["provisioning", "ready"]
    found = re.search(r"\blsb-[0-9a-f]{32}\b", events[1]["detail"])
    assert found is not None, events[1]
    return found.group(0)


def sandboxes_dir(settings: Settings) -> Path:
    return settings.warren_data_dir / "sandboxes"


def sandbox_ids(settings: Settings) -> set[str]:
    return {p.name for p in sandboxes_dir(settings).iterdir() if p.name.startswith("lsb-")}


def workspace(settings: Settings, sandbox_id: str) -> Path:
    return sandboxes_dir(settings) / sandbox_id / "root" / "workspace"


async def lease_of(settings: Settings, thread_id: str) -> SandboxLease | None:
    """The thread's lease as stored (call while no Warren holds the data dir)."""
    async with open_storage(settings) as storage:
        return await storage.live.leases.get(thread_id)


def finished_ok(stream: Stream, llm: ScriptedLLM) -> None:
    assert stream.status == 200, stream.body
    assert [f.data for f in stream.frames if f.event == "error"] == []
    assert stream.frames[-1].event == "done"
    assert stream.frames[-1].data["status"] == "success"
    assert llm.errors == []
    assert all(n == 0 for n in llm.remaining().values()), llm.remaining()


async def test_agent_tools_and_subagent_work_in_the_threads_own_sandbox(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    calls = {
        "write": ToolCall("write_file", {"file_path": "/workspace/calc.py", "content": CALC}),
        "run": ToolCall("execute", {"command": RUN}),
        "fail": ToolCall("execute", {"command": "echo first; echo second >&2; exit 3"}),
        "grep": ToolCall(
            "grep", {"pattern": "total=3", "path": "/workspace", "output_mode": "content"}
        ),
        "read": ToolCall("read_file", {"file_path": "/workspace/out.txt"}),
        "edit": ToolCall(
            "edit_file",
            {
                "file_path": "/workspace/calc.py",
                "old_string": "range(1, 4)",
                "new_string": "range(1, 5)",
            },
        ),
        "read_edited": ToolCall("read_file", {"file_path": "/workspace/calc.py"}),
        "rerun": ToolCall("execute", {"command": "python3 /workspace/calc.py | tail -n 2"}),
        "ls": ToolCall("ls", {"path": "/workspace"}),
        "glob": ToolCall("glob", {"pattern": "*.py", "path": "/workspace"}),
        "task": ToolCall(
            "task",
            {"description": "Summarise /workspace/out.txt", "subagent_type": "researcher"},
        ),
    }
    sub_read = ToolCall("read_file", {"file_path": "/workspace/out.txt"})
    sub_whoami = ToolCall("execute", {"command": "pwd; id -u; wc -l < /workspace/out.txt"})
    llm.script(
        [
            (
                RESEARCHER,
                [
                    Reply(tool_calls=[sub_read]),
                    Reply(tool_calls=[sub_whoami]),
                    Reply(text="Four lines, ending in done."),
                ],
            ),
            (MAIN, [*(Reply(tool_calls=[c]) for c in calls.values()), Reply(text="All done.")]),
        ]
    )

    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread(title="calc")
        first = await api.run_stream(thread["id"], "Write and run a calculator.")
        finished_ok(first, llm)

        # exactly one sandbox, announced once, before the first file tool's result
        sandbox_id = ready_id(first)
        types = first.types
        assert types.index("sandbox") < types.index("tool_result")
        assert sandbox_ids(settings) == {sandbox_id}

        got = results(first)
        assert len(got) == len(calls) + 2  # the subagent's two calls too
        content = {name: got[call.id]["content"] for name, call in calls.items()}
        assert all(got[call.id]["status"] == "success" for call in calls.values())
        assert content["write"] == "Updated file /workspace/calc.py"
        assert content["run"] == f"{OUT}\n[Command succeeded with exit code 0]"
        assert content["fail"] == "first\nsecond\n\n[Command failed with exit code 3]"
        assert content["grep"] == "/workspace/out.txt:\n  2: step 2: total=3"
        assert content["read"] == "@@ lines 1-4 of 4 @@\n" + OUT.rstrip("\n")
        assert "replaced 1 instance" in content["edit"]
        assert content["read_edited"] == "@@ lines 1-5 of 5 @@\n" + CALC_EDITED.rstrip("\n")
        assert content["rerun"] == "step 4: total=10\ndone\n\n[Command succeeded with exit code 0]"
        assert content["ls"] == "['/workspace/calc.py', '/workspace/out.txt']"
        assert content["glob"] == "['/workspace/calc.py']"
        assert content["task"] == "Four lines, ending in done."

        # the subagent worked in the same sandbox, as the sandbox's unprivileged user
        task_id = calls["task"].id
        assert got[sub_read.id]["ns"] == [task_id]
        assert got[sub_read.id]["content"] == content["read"]
        assert got[sub_whoami.id]["ns"] == [task_id]
        assert got[sub_whoami.id]["content"] == (
            "/workspace\n1000\n4\n\n[Command succeeded with exit code 0]"
        )

        # the files are physically in this thread's sandbox directory
        files = workspace(settings, sandbox_id)
        assert sorted(p.name for p in files.iterdir()) == ["calc.py", "out.txt"]
        assert (files / "calc.py").read_text() == CALC_EDITED
        assert (files / "out.txt").read_text() == OUT

        # a second run on the same thread finds them, in the same sandbox, announced no more
        again = ToolCall("execute", {"command": "cat /workspace/out.txt; ls /workspace"})
        llm.script([(MAIN, [Reply(tool_calls=[again]), Reply(text="Still there.")])])
        second = await api.run_stream(thread["id"], "Are the files still there?")
        finished_ok(second, llm)
        assert sandbox_events(second) == []
        assert results(second)[again.id]["content"] == (
            f"{OUT}calc.py\nout.txt\n\n[Command succeeded with exit code 0]"
        )

        # another thread gets its own, empty sandbox and cannot reach the first one's files
        other = await api.new_thread(title="other")
        host_copy = files / "out.txt"
        peek = ToolCall("execute", {"command": f"ls -A /workspace; cat {host_copy}"})
        read = ToolCall("read_file", {"file_path": "/workspace/out.txt"})
        llm.script([(MAIN, [Reply(tool_calls=[peek]), Reply(tool_calls=[read]), Reply(text="-")])])
        elsewhere = await api.run_stream(other["id"], "Look for out.txt.")
        finished_ok(elsewhere, llm)
        other_id = ready_id(elsewhere)
        assert other_id != sandbox_id
        assert sandbox_ids(settings) == {sandbox_id, other_id}
        peeked = results(elsewhere)[peek.id]["content"]
        assert peeked == (
            f"cat: {host_copy}: No such file or directory\n\n[Command failed with exit code 1]"
        )
        assert "total=" not in results(elsewhere)[read.id]["content"]
        assert results(elsewhere)[read.id]["status"] == "error"
        assert list(workspace(settings, other_id).iterdir()) == []
        await api.aclose()

    lease = await lease_of(settings, thread["id"])
    assert lease is not None
    assert (lease.sandbox_id, lease.provider) == (sandbox_id, "local")

    # a new server process on the same data dir reconnects to the same sandbox
    read_back = ToolCall("read_file", {"file_path": "/workspace/calc.py"})
    run_back = ToolCall("execute", {"command": "python3 /workspace/calc.py | tail -n 1"})
    llm.script(
        [(MAIN, [Reply(tool_calls=[read_back]), Reply(tool_calls=[run_back]), Reply(text="ok")])]
    )
    async with running_warren(settings) as url:
        api = Api(url, api.token)
        after = await api.run_stream(thread["id"], "Run it again.")
        await api.aclose()
    finished_ok(after, llm)
    assert sandbox_events(after) == []
    got = results(after)
    assert got[read_back.id]["content"] == "@@ lines 1-5 of 5 @@\n" + CALC_EDITED.rstrip("\n")
    assert got[run_back.id]["content"] == "done\n\n[Command succeeded with exit code 0]"
    assert sandbox_ids(settings) == {sandbox_id, other_id}
    lease = await lease_of(settings, thread["id"])
    assert lease is not None
    assert lease.sandbox_id == sandbox_id


async def test_an_agent_works_in_an_opensandbox_sandbox_too(
    settings_for: SettingsFactory, llm: ScriptedLLM, tmp_path: Path
) -> None:
    """The same agent through `SANDBOX_PROVIDER=opensandbox`: the real SDK against the
    stand-in server, wired from settings; deleting the thread kills its sandbox there."""
    write = ToolCall("write_file", {"file_path": "/workspace/calc.py", "content": CALC})
    run = ToolCall("execute", {"command": RUN})
    read = ToolCall("read_file", {"file_path": "/workspace/out.txt"})
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(tool_calls=[write]),
                    Reply(tool_calls=[run]),
                    Reply(tool_calls=[read]),
                    Reply(text="All done."),
                ],
            )
        ]
    )
    backing = LocalProvider(tmp_path / "backing")
    await backing.probe()
    async with running_opensandbox(backing) as server:
        settings = settings_for(
            model_api_key="sk-test",
            model_base_url=llm.base_url,
            sandbox_provider="opensandbox",
            opensandbox_server_url=server.url,
            opensandbox_api_key=server.api_key,
        )
        async with running_warren(settings) as url:
            api = Api(url)
            await api.register()
            thread = await api.new_thread()
            stream = await api.run_stream(thread["id"], "Run the numbers.")
            finished_ok(stream, llm)
            by_id = results(stream)
            assert by_id[run.id]["content"] == OUT + "\n[Command succeeded with exit code 0]"
            assert "step 3: total=6" in by_id[read.id]["content"]
            assert [e["status"] for e in sandbox_events(stream)] == ["provisioning", "ready"]
            [sandbox] = server.sandboxes.values()
            assert sandbox.metadata["thread_id"] == thread["id"]
            ready = await api.http.get("/readyz")
            assert ready.json()["checks"]["sandbox"] == {"ok": True, "detail": "opensandbox"}

            deleted = await api.http.delete(f"/api/threads/{thread['id']}", headers=api.auth())
            assert deleted.status_code == 204
            await api.aclose()
        assert server.sandboxes == {}
        assert await backing.list({}) == []  # the sandbox's files are gone with it
