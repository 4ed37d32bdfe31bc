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
        raw_data=json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
    )
