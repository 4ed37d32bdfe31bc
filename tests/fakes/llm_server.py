"""A scripted OpenAI-compatible chat-completions server for tests (a fake: no LLM runs here).

It speaks the real wire format that `langchain-openai` consumes: streaming
`chat.completion.chunk` frames with content deltas, tool-call deltas split across
chunks (only the first chunk of a call carries its id and name), a finish reason and,
when asked for with `stream_options.include_usage`, a final usage chunk.

Replies are scripted per agent: each script is keyed by a substring of the system
prompt ("" matches anything) and consumed in order, so concurrent subagents get
deterministic answers.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.serving import Served


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass
class Reply:
    """One scripted model answer: text, tool calls, or both."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    input_tokens: int = 11
    output_tokens: int = 7
    gate: asyncio.Event | None = None  # the reply waits until this is set
    delay: float = 0.0  # seconds between streamed chunks
    text_chunks: int = 3  # how many deltas the text is streamed in


Responder = Callable[[dict[str, Any]], Reply]


class ScriptedLLM:
    """Serves scripted replies; records every request it received.

    `aborted` lists the indexes (into `requests`) of the calls whose client hung up before
    the reply was complete, so a test can see that a cancelled run really dropped its model
    call. A `responder` (request body -> reply) replaces the scripts when replies must not
    depend on the order concurrent runs ask in (benchmarks).
    """

    def __init__(
        self,
        scripts: Sequence[tuple[str, Sequence[Reply]]],
        api_key: str = "sk-test",
        responder: Responder | None = None,
    ):
        self.scripts = [(marker, list(replies)) for marker, replies in scripts]
        self.api_key = api_key
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.aborted: list[int] = []
        self.errors: list[str] = []
        self.port = 0
        self._served: Served | None = None
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    def script(self, scripts: Sequence[tuple[str, Sequence[Reply]]]) -> None:
        """Replace the scripts: `(system-prompt marker, replies in order)` pairs."""
        self.scripts = [(marker, list(replies)) for marker, replies in scripts]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def wait_for_requests(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the server has received `count` requests (a model call is in flight)."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                await asyncio.sleep(0.01)

    async def wait_for_aborted(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` model calls have been dropped by their client."""
        async with asyncio.timeout(timeout):
            while len(self.aborted) < count:
                await asyncio.sleep(0.01)

    def remaining(self) -> dict[str, int]:
        return {marker: len(replies) for marker, replies in self.scripts}

    def _next_reply(self, body: dict[str, Any]) -> Reply | None:
        if self.responder is not None:
            return self.responder(body)
        system = "\n".join(
            m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
            for m in body.get("messages", [])
            if m.get("role") in ("system", "developer")
        )
        for marker, replies in self.scripts:
            if marker in system:
                return replies.pop(0) if replies else None
        return None

    async def _chat(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"message": "bad api key"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        index = len(self.requests) - 1
        reply = self._next_reply(body)
        if reply is None:
            self.errors.append("script exhausted")
            return JSONResponse({"error": {"message": "script exhausted"}}, status_code=500)
        if reply.gate is not None and not await self._gate_or_hangup(request, reply.gate):
            self.aborted.append(index)
            return Response(status_code=499)  # nobody is listening any more
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._watched(index, self._stream(body["model"], reply, include_usage)),
                media_type="text/event-stream",
            )
        return JSONResponse(self._complete(body["model"], reply))

    @staticmethod
    async def _gate_or_hangup(request: Request, gate: asyncio.Event) -> bool:
        """Wait for the gate; `False` if the client disconnected first (the body has been
        read, so the next ASGI message can only be `http.disconnect`)."""

        async def hangup() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        opened = asyncio.create_task(gate.wait())
        dropped = asyncio.create_task(hangup())
        done, pending = await asyncio.wait({opened, dropped}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return opened in done

    async def _watched(self, index: int, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass the chunks through; a stream closed before its end is an aborted call."""
        finished = False
        try:
            async for piece in chunks:
                yield piece
            finished = True
        finally:
            if not finished:
                self.aborted.append(index)

    def _complete(self, model: str, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.args)},
                }
                for call in reply.tool_calls
            ]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:10]}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": _usage(reply),
        }

    async def _stream(self, model: str, reply: Reply, include_usage: bool) -> AsyncIterator[bytes]:
        cid = f"chatcmpl-{uuid.uuid4().hex[:10]}"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            frame = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(frame)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for piece in _pieces(reply.text, reply.text_chunks):
            await asyncio.sleep(reply.delay)
            yield chunk({"content": piece})
        for index, call in enumerate(reply.tool_calls):
            arguments = json.dumps(call.args)
            head = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield chunk({"tool_calls": [head]})
            for piece in _pieces(arguments, 4):
                await asyncio.sleep(reply.delay)
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
        if include_usage:
            frame = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": _usage(reply),
            }
            yield f"data: {json.dumps(frame)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    async def start(self) -> None:
        self._served = Served(self.app)
        await self._served.start()
        self.port = self._served.port

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.stop()


def _pieces(text: str, parts: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
