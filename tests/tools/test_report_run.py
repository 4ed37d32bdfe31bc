"""The tools together, end to end: an agent run (scripted model) that searches the web (the
Tavily stand-in), writes a report from the results with `save_to_pdf`, links it with
`generate_download_url` and answers with the link, which then downloads the PDF over HTTP
without credentials. Both sandbox providers.

The scripted model answers from what each request carries, as a real one would: the report
is built from the search results in the request after the search, the link is the one the
tool returned, so a run that loses a tool result cannot pass."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.fakes.tavily_server import TavilyStandIn
from tests.helpers import Api, Stream, running_warren
from tests.tools.make_docs import PROVIDERS, warren_settings

MAIN = "You are Warren, a capable assistant"
KEY = "tvly-report-key-0123456789"
QUERY = "sea otter tool use"
HEADING = "Sea otters and their tools"
REPORT_PATH = "reports/sea-otters.pdf"
RESULT = re.compile(r"^Title: (.+)\nURL: (.+)\nSnippet: (.+)$", re.M)
LINK = re.compile(r"\((/api/downloads/[^)\s]+)\)")


@pytest.fixture
async def tavily() -> AsyncIterator[TavilyStandIn]:
    server = TavilyStandIn(api_key=KEY)
    await server.start()
    yield server
    await server.stop()


def text_of(content: Any) -> str:
    """A message's text, whether the client sent a string or content blocks."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content or [])


def tool_outputs(body: dict[str, Any]) -> dict[str, str]:
    """Tool name -> the latest result of that tool in the conversation the request carries."""
    names: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for message in body.get("messages", []):
        for call in message.get("tool_calls") or []:
            names[call["id"]] = call["function"]["name"]
        if message.get("role") == "tool":
            outputs[names.get(message["tool_call_id"], "?")] = text_of(message["content"])
    return outputs


@dataclass
class ResearchModel:
    """The model's side of the run: search (and check the clock), write the report from the
    results, link it, answer with the link. Records what it wrote and anything unexpected."""

    report: str = ""
    answer: str = ""
    problems: list[str] = field(default_factory=list)

    def __call__(self, body: dict[str, Any]) -> Reply:
        system = text_of(body["messages"][0]["content"])
        if not system.startswith(MAIN):
            self.problems.append(f"a request from another agent: {system[:60]!r}")
            return Reply(text="unexpected")
        done = tool_outputs(body)
        if "generate_download_url" in done:
            href = done["generate_download_url"].split("\n", 1)[0]
            self.answer = f"Your report is ready: [sea-otters.pdf]({href}). The link expires."
            return Reply(text=self.answer)
        if "save_to_pdf" in done:
            saved = re.match(r"Saved (\S+) \(", done["save_to_pdf"])
            if saved is None:
                self.problems.append(f"save_to_pdf said {done['save_to_pdf']!r}")
                return Reply(text="The report could not be saved.")
            return Reply(tool_calls=[ToolCall("generate_download_url", {"path": saved[1]})])
        if "web_search" in done:
            found = RESULT.findall(done["web_search"])
            if not found or "utc_now" not in done:
                self.problems.append(f"no results or no time in {sorted(done)}")
                return Reply(text="The search found nothing.")
            self.report = report(found, today=done["utc_now"][:10])
            args = {"path": REPORT_PATH, "content": self.report, "title": "Research brief"}
            return Reply(tool_calls=[ToolCall("save_to_pdf", args)])
        search = ToolCall("web_search", {"query": QUERY, "max_results": 3})
        return Reply(tool_calls=[search, ToolCall("utc_now", {})])


def report(results: list[tuple[str, str, str]], today: str) -> str:
    findings = [
        f"{i}. **{title}**: {snippet} ([source]({url}))"
        for i, (title, url, snippet) in enumerate(results, 1)
    ]
    sources = [f"| {i} | {title} | {url} |" for i, (title, url, _s) in enumerate(results, 1)]
    return "\n".join(
        [
            f"# {HEADING}",
            "",
            f"Compiled on {today} from {len(results)} web sources.",
            "",
            "## Findings",
            "",
            *findings,
            "",
            "## Sources",
            "",
            "| # | Title | URL |",
            "|---|---|---|",
            *sources,
            "",
        ]
    )


def final_answer(stream: Stream) -> str:
    """The main agent's last message, from its `message` deltas."""
    deltas = [f.data for f in stream.frames if f.event == "message" and f.data["ns"] == []]
    last = deltas[-1]["message_id"]
    return "".join(d["content"] for d in deltas if d["message_id"] == last)


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_agent_searches_writes_a_pdf_report_and_links_it(
    provider: str, llm: ScriptedLLM, tavily: TavilyStandIn, tmp_path: Path
) -> None:
    model = ResearchModel()
    llm.responder = model
    async with (
        warren_settings(
            provider,
            tmp_path,
            model_api_key="sk-test",
            model_base_url=llm.base_url,
            tavily_api_key=KEY,
            tavily_base_url=tavily.base_url,
        ) as settings,
        running_warren(settings) as url,
    ):
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "Research how sea otters use tools.")
        state = await api.request("GET", f"/api/threads/{thread['id']}/state")
        async with httpx.AsyncClient(base_url=url) as anonymous:  # no credentials
            answer = final_answer(stream)
            link = LINK.search(answer)
            assert link is not None, answer
            download = await anonymous.get(link[1])
        await api.aclose()

    assert model.problems == []
    assert llm.errors == []
    assert stream.frames[-1].event == "done"
    assert stream.frames[-1].data["status"] == "success", stream.frames[-1]
    done = [f.data for f in stream.frames if f.event == "tool_result"]
    order = [r["name"] for r in done]
    assert set(order[:2]) == {"web_search", "utc_now"}  # one turn, two calls
    assert order[2:] == ["save_to_pdf", "generate_download_url"]
    results = {r["name"]: r for r in done}
    assert all(r["status"] == "success" for r in results.values())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", results["utc_now"]["content"])
    assert results["save_to_pdf"]["content"].startswith(f"Saved /workspace/{REPORT_PATH} (")
    assert results["generate_download_url"]["content"].startswith(link[1] + "\n")

    # the search really went to the service, and its results really reached the model
    assert [r["query"] for r in tavily.requests] == [QUERY]
    titles = [f"Result {i} about {QUERY}" for i in (1, 2, 3)]
    after_search = tool_outputs(llm.requests[1])["web_search"]
    assert all(title in after_search for title in titles)
    assert "https://example.org/3" in after_search
    assert KEY not in json.dumps(llm.requests)
    # ...and the report the model saved is the one it built from them
    calls = [f.data for f in stream.frames if f.event == "tool_call"]
    [save] = [call for call in calls if call["name"] == "save_to_pdf"]
    assert save["args"]["content"] == model.report
    assert all(title in model.report for title in titles)

    # the final answer, in the stream and in the thread's state, carries the link
    assert answer == model.answer
    assert state.status_code == 200
    last = state.json()["messages"][-1]
    assert (last["role"], last["content"]) == ("assistant", answer)

    # the link downloads the PDF, which holds the report
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="sea-otters.pdf"'
    )
    assert download.content.startswith(b"%PDF-")
    pdf = PdfReader(io.BytesIO(download.content))
    text = words("\n".join(page.extract_text() for page in pdf.pages))
    assert HEADING in text
    assert titles[0] in text
    assert f"Compiled on {results['utc_now']['content'][:10]} from 3 web sources." in text
    assert pdf.metadata is not None
    assert pdf.metadata.title == "Research brief"
