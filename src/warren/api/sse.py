"""The SSE wire format: one frame per logged run event (`id`, `event`, `data`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.sse import ServerSentEvent

from warren.storage.live import LoggedEvent

# Shown in the OpenAPI document for event-stream responses.
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "`text/event-stream` of run events (see API.md): each frame has `id`, `event` "
            "(the event type) and `data` (JSON repeating `type`, with `run_id`). A `: ping` "
            "comment is sent every 15 s. The stream ends after the `done` event."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def frame(event: LoggedEvent) -> ServerSentEvent:
    return ServerSentEvent(
        id=event.id,
        event=event.type,
        raw_data=event.raw
        if event.raw is not None
        else json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
    )


def json_errors_for_streams(spec: dict[str, Any]) -> dict[str, Any]:
    """Event-stream routes answer errors as JSON; FastAPI documents them under the route's
    media type. Move them where they belong, so the OpenAPI document tells the truth."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status != "200" and "text/event-stream" in content:
                    content["application/json"] = content.pop("text/event-stream")
    return spec
