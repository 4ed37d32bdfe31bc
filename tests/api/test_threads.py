"""Threads over HTTP: CRUD, listing, owner scoping, validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.test_auth import assert_error
from tests.helpers import Api

Client = Callable[..., Api]


async def two_users(client: Client) -> tuple[Api, Api]:
    alice, bob = client(), client()
    await alice.register()
    await bob.register()
    return alice, bob


async def test_thread_crud(client: Client) -> None:
    api = client()
    await api.register()
    created = await api.new_thread(title="  Plans  ", metadata={"project": "x", "n": [1, 2]})
    assert created["title"] == "Plans"
    assert created["status"] == "idle"
    assert created["metadata"] == {"project": "x", "n": [1, 2]}

    fetched = await api.request("GET", f"/api/threads/{created['id']}")
    assert fetched.json() == created

    renamed = await api.request("PATCH", f"/api/threads/{created['id']}", json={"title": "Trips"})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Trips"
    assert renamed.json()["metadata"] == created["metadata"]
    assert renamed.json()["updated_at"] >= created["updated_at"]

    state = await api.request("GET", f"/api/threads/{created['id']}/state")
    assert state.json() == {
        "thread_id": created["id"],
        "messages": [],
        "todos": [],
        "interrupts": [],
        "status": "idle",
    }
    assert (await api.request("DELETE", f"/api/threads/{created['id']}")).status_code == 204
    gone = await api.request("GET", f"/api/threads/{created['id']}")
    assert_error(gone, 404, "thread_not_found")
    again = await api.request("DELETE", f"/api/threads/{created['id']}")
    assert_error(again, 404, "thread_not_found")


async def test_list_pages_newest_activity_first_and_filters(client: Client) -> None:
    api = client()
    await api.register()
    ids = [(await api.new_thread(title=f"Thread {i}"))["id"] for i in range(5)]
    # touching the oldest makes it the newest
    await api.request("PATCH", f"/api/threads/{ids[0]}", json={"title": "Thread zero"})
    expected = [ids[0], ids[4], ids[3], ids[2], ids[1]]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.request("GET", "/api/threads", params=params)).json()
        assert page["count"] == 5
        seen += [t["id"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    found = (await api.request("GET", "/api/threads", params={"q": "ZERO"})).json()
    assert [t["id"] for t in found["data"]] == [ids[0]]
    assert found["count"] == 1
    idle = (await api.request("GET", "/api/threads", params={"status": "idle"})).json()
    assert idle["count"] == 5
    busy = (await api.request("GET", "/api/threads", params={"status": "busy"})).json()
    assert busy == {"data": [], "count": 0, "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"limit": 0}, "invalid_request"),
        ({"limit": 1000}, "invalid_request"),
        ({"status": "sleeping"}, "invalid_request"),
    ],
)
async def test_bad_list_parameters_are_4xx(
    client: Client, params: dict[str, Any], code: str
) -> None:
    api = client()
    await api.register()
    response = await api.request("GET", "/api/threads", params=params)
    assert_error(response, 400 if code == "invalid_cursor" else 422, code)


async def test_another_users_thread_is_404_everywhere(client: Client) -> None:
    alice, bob = await two_users(client)
    thread = await alice.new_thread(title="Private")
    tid = thread["id"]
    for method, url, body in [
        ("GET", f"/api/threads/{tid}", None),
        ("PATCH", f"/api/threads/{tid}", {"title": "mine now"}),
        ("DELETE", f"/api/threads/{tid}", None),
        ("GET", f"/api/threads/{tid}/state", None),
        ("GET", f"/api/threads/{tid}/runs", None),
        ("POST", f"/api/threads/{tid}/runs", {"messages": [{"role": "user", "content": "hi"}]}),
        (
            "POST",
            f"/api/threads/{tid}/runs/stream",
            {"messages": [{"role": "user", "content": "hi"}]},
        ),
        ("GET", f"/api/threads/{tid}/runs/some-run", None),
        ("GET", f"/api/threads/{tid}/runs/some-run/stream", None),
        ("POST", f"/api/threads/{tid}/runs/some-run/cancel", None),
    ]:
        response = await bob.request(method, url, json=body)
        assert_error(response, 404, "thread_not_found")
    assert (await bob.request("GET", "/api/threads")).json()["count"] == 0
    still = await alice.request("GET", f"/api/threads/{tid}")
    assert still.json()["title"] == "Private"


async def test_unauthenticated_thread_routes_are_401(client: Client) -> None:
    api = client()
    for method, url in [
        ("GET", "/api/threads"),
        ("POST", "/api/threads"),
        ("GET", "/api/threads/x"),
        ("POST", "/api/threads/x/runs/stream"),
    ]:
        assert_error(await api.request(method, url), 401, "not_authenticated")


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x" * 201},
        {"metadata": "not an object"},
        {"metadata": {"blob": "x" * 20_000}},
        {"owner": "someone"},
    ],
)
async def test_malformed_thread_bodies_are_422_without_a_write(
    client: Client, body: dict[str, Any]
) -> None:
    api = client()
    await api.register()
    assert_error(await api.request("POST", "/api/threads", json=body), 422, "invalid_request")
    thread = await api.new_thread(title="keep")
    patched = await api.request("PATCH", f"/api/threads/{thread['id']}", json=body)
    assert_error(patched, 422, "invalid_request")
    assert (await api.request("GET", "/api/threads")).json()["count"] == 1
    assert (await api.request("GET", f"/api/threads/{thread['id']}")).json() == thread


async def test_oversized_bodies_are_413(client: Client) -> None:
    api = client()
    await api.register()
    huge = {"messages": [{"role": "user", "content": "x" * (3 * 1024 * 1024)}]}
    thread = await api.new_thread()
    response = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=huge)
    assert_error(response, 413, "body_too_large")


async def test_unknown_routes_use_the_error_shape(client: Client) -> None:
    api = client()
    assert_error(await api.request("GET", "/api/nothing-here"), 404, "not_found")
    assert_error(await api.request("PUT", "/api/threads"), 405, "method_not_allowed")
