"""Warren from Python, with an API key: create a thread, stream a run, lose the connection
and resume the stream where it stopped, then start a run and cancel it.

    pip install httpx
    WARREN_URL=http://127.0.0.1:8000 WARREN_API_KEY=wk_... python examples/api_client.py
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import httpx


def events(response: httpx.Response) -> Iterator[tuple[str, str, dict]]:
    """The (id, event, data) of each Server-Sent Event; `: ping` comments are skipped."""
    event_id, name, data = "", "", []
    for line in response.iter_lines():
        if not line:  # a blank line ends an event
            if data:
                yield event_id, name, json.loads("\n".join(data))
            name, data = "", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                event_id = value
            elif field == "event":
                name = value
            elif field == "data":
                data.append(value)


def show(name: str, data: dict) -> None:
    if name == "message" and not data["ns"]:  # the main agent's words, as they come
        print(data["content"], end="", flush=True)
    elif name == "tool_call":
        print(f"\n[{data['name']}({json.dumps(data['args'])[:80]})]", flush=True)
    elif name == "done":
        print(f"\n[run {data['run_id']}: {data['status']}]", flush=True)


def main() -> int:
    base = os.environ.get("WARREN_URL", "http://127.0.0.1:8000")
    headers = {"Authorization": f"Bearer {os.environ['WARREN_API_KEY']}"}
    # no read timeout: a run can think for minutes (the server sends `: ping` every 15 s)
    timeout = httpx.Timeout(30.0, read=None)
    with httpx.Client(base_url=base, headers=headers, timeout=timeout) as http:
        thread = http.post("/api/threads", json={"title": "From Python"})
        runs = f"/api/threads/{thread.raise_for_status().json()['id']}/runs"
        question = {"messages": [{"role": "user", "content": "Write a haiku about otters."}]}

        # 1. Stream a run, and drop the connection after a few events.
        last_id, run_id = "", ""
        with http.stream("POST", f"{runs}/stream", json=question) as response:
            response.raise_for_status()
            for count, (event_id, name, data) in enumerate(events(response), 1):
                last_id, run_id = event_id, data["run_id"]
                show(name, data)
                if count == 3:
                    break  # as if the network failed: the run goes on without us

        # 2. Resume: the events after the last one we saw, then live ones, until `done`.
        resume = {"Last-Event-ID": last_id}
        with http.stream("GET", f"{runs}/{run_id}/stream", headers=resume) as response:
            response.raise_for_status()
            for _, name, data in events(response):
                show(name, data)

        # 3. Start another run and cancel it as soon as it has started.
        question = {"messages": [{"role": "user", "content": "Now write a long epic."}]}
        with http.stream("POST", f"{runs}/stream", json=question) as response:
            response.raise_for_status()
            for _, name, data in events(response):
                if name == "run_started":
                    http.post(f"{runs}/{data['run_id']}/cancel").raise_for_status()
                show(name, data)  # ends with `done` and status `cancelled`
    return 0


if __name__ == "__main__":
    sys.exit(main())
