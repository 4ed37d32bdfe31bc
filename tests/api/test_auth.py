"""Auth over HTTP: registration, login and its rate limit, refresh rotation, API keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Api, make_settings, running_warren
from warren.auth.tokens import TokenCodec
from warren.config import ensure_jwt_secret
from warren.storage.records import utcnow

Client = Callable[..., Api]


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]


async def test_register_returns_user_and_tokens_and_me_works(client: Client) -> None:
    api = client()
    body = await api.register("Alice")
    assert body["user"]["username"] == "alice"
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    me = await api.request("GET", "/api/auth/me")
    assert me.status_code == 200
    assert me.json() == body["user"]


async def test_usernames_are_unique_regardless_of_case(client: Client) -> None:
    await client().register("bob")
    response = await client().http.post(
        "/api/auth/register", json={"username": "BOB", "password": "another password"}
    )
    assert_error(response, 409, "username_taken")


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "long enough pw"},
        {"username": "has space", "password": "long enough pw"},
        {"username": "carol", "password": "short"},
        {"username": "carol"},
        {"username": "carol", "password": "long enough pw", "admin": True},
        ["carol", "long enough pw"],
    ],
)
async def test_malformed_registration_is_422(client: Client, body: Any) -> None:
    response = await client().http.post("/api/auth/register", json=body)
    assert_error(response, 422, "invalid_request")


async def test_non_json_body_is_422(client: Client) -> None:
    response = await client().http.post(
        "/api/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "invalid_request")


async def test_login_with_wrong_or_unknown_credentials_is_401(client: Client) -> None:
    await client().register("dave", "dave's password")
    http = client().http
    wrong = await http.post("/api/auth/login", json={"username": "dave", "password": "nope nope"})
    unknown = await http.post("/api/auth/login", json={"username": "nobody", "password": "x" * 9})
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json()["detail"] == unknown.json()["detail"]  # no username oracle
    ok = await http.post(
        "/api/auth/login", json={"username": "DAVE", "password": "dave's password"}
    )
    assert ok.status_code == 200
    assert set(ok.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


async def test_login_is_rate_limited_per_username(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_rate_limit=3)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register("erin", "erin's password")
        for _ in range(3):
            response = await api.http.post(
                "/api/auth/login", json={"username": "erin", "password": "wrong guess"}
            )
            assert response.status_code == 401
        limited = await api.http.post(
            "/api/auth/login", json={"username": "erin", "password": "erin's password"}
        )
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) > 0
        other = await api.http.post(
            "/api/auth/login", json={"username": "frank", "password": "whatever1"}
        )
        assert other.status_code == 401  # another username is not limited
        await api.aclose()


async def test_login_is_rate_limited_per_ip(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_rate_limit=100, login_rate_limit_per_ip=4)
    async with running_warren(settings) as url:
        api = Api(url)
        codes = [
            (
                await api.http.post(
                    "/api/auth/login", json={"username": f"user{i}", "password": "password1"}
                )
            ).status_code
            for i in range(5)
        ]
        assert codes == [401, 401, 401, 401, 429]
        registrations = [
            (
                await api.http.post(
                    "/api/auth/register", json={"username": f"new{i}", "password": "password1"}
                )
            ).status_code
            for i in range(5)
        ]
        assert registrations == [201, 201, 201, 201, 429]
        await api.aclose()


async def test_refresh_rotates_and_reuse_revokes_the_session(client: Client) -> None:
    api = client()
    first = await api.register()
    http = api.http
    second = await http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert (
        await api.request("GET", "/api/auth/me", headers=api.auth(pair["access_token"]))
    ).status_code == 200

    reused = await http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(reused, 401, "token_reused")
    # the whole family is revoked, including the token the thief may hold
    after = await http.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_error(after, 401, "invalid_token")


async def test_logout_revokes_the_session_refresh_tokens(client: Client) -> None:
    api = client()
    first = await api.register()
    other_session = (
        await api.http.post(
            "/api/auth/login",
            json={"username": first["user"]["username"], "password": "correct horse 1"},
        )
    ).json()
    out = await api.http.post("/api/auth/logout", json={"refresh_token": first["refresh_token"]})
    assert out.status_code == 204
    again = await api.http.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(again, 401, "invalid_token")
    # another login of the same user is another session, and keeps working
    kept = await api.http.post(
        "/api/auth/refresh", json={"refresh_token": other_session["refresh_token"]}
    )
    assert kept.status_code == 200
    bogus = await api.http.post("/api/auth/logout", json={"refresh_token": "x.y.z"})
    assert_error(bogus, 401, "invalid_token")


async def test_token_types_are_not_interchangeable(client: Client) -> None:
    api = client()
    tokens = await api.register()
    as_refresh = await api.http.post(
        "/api/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert_error(as_refresh, 401, "invalid_token")
    as_access = await api.request("GET", "/api/auth/me", headers=api.auth(tokens["refresh_token"]))
    assert_error(as_access, 401, "invalid_token")


async def test_missing_bad_and_expired_tokens_are_401(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    async with running_warren(settings) as url:
        api = Api(url)
        body = await api.register()
        missing = await api.http.get("/api/auth/me")
        assert_error(missing, 401, "not_authenticated")
        assert missing.headers["www-authenticate"] == "Bearer"
        garbage = await api.http.get(
            "/api/auth/me", headers={"Authorization": "Bearer abc.def.ghi"}
        )
        assert_error(garbage, 401, "invalid_token")
        basic = await api.http.get("/api/auth/me", headers={"Authorization": "Basic YTpi"})
        assert_error(basic, 401, "not_authenticated")
        codec = TokenCodec(ensure_jwt_secret(settings))
        expired, _ = codec.issue(
            body["user"]["id"], "access", utcnow() - timedelta(hours=2), timedelta(minutes=5)
        )
        stale = await api.http.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
        assert_error(stale, 401, "token_expired")
        forged, _ = TokenCodec("another-secret-" + "y" * 40).issue(
            body["user"]["id"], "access", utcnow(), timedelta(minutes=5)
        )
        wrong_key = await api.http.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {forged}"}
        )
        assert_error(wrong_key, 401, "invalid_token")
        await api.aclose()


async def test_api_keys_are_shown_once_work_as_bearer_and_revoke(client: Client) -> None:
    owner, stranger = client(), client()
    await owner.register()
    await stranger.register()
    created = await owner.request(
        "POST", "/api/auth/api-keys", json={"name": "ci", "expires_in_days": 30}
    )
    assert created.status_code == 201
    key = created.json()
    assert key["secret"].startswith("wk_")
    assert key["secret"].startswith(key["prefix"])
    assert len(key["prefix"]) < len(key["secret"]) // 3

    listed = await owner.request("GET", "/api/auth/api-keys")
    assert listed.json()["count"] == 1
    assert "secret" not in listed.json()["data"][0]
    assert key["secret"] not in listed.text

    by_key = client(key["secret"])
    me = await by_key.request("GET", "/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == (await owner.request("GET", "/api/auth/me")).json()["username"]
    used = (await owner.request("GET", "/api/auth/api-keys")).json()["data"][0]
    assert used["last_used_at"] is not None

    foreign = await stranger.request("DELETE", f"/api/auth/api-keys/{key['id']}")
    assert_error(foreign, 404, "api_key_not_found")
    revoked = await owner.request("DELETE", f"/api/auth/api-keys/{key['id']}")
    assert revoked.status_code == 204
    assert_error(await by_key.request("GET", "/api/auth/me"), 401, "invalid_api_key")
    assert_error(await client("wk_made_up").request("GET", "/api/auth/me"), 401, "invalid_api_key")


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x", "expires_in_days": 0}, {}])
async def test_malformed_api_key_requests_are_422(client: Client, body: dict[str, Any]) -> None:
    api = client()
    await api.register()
    assert_error(await api.request("POST", "/api/auth/api-keys", json=body), 422, "invalid_request")


async def test_registration_can_be_disabled(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", warren_allow_registration=False)
    async with running_warren(settings) as url:
        api = Api(url)
        response = await api.http.post(
            "/api/auth/register", json={"username": "gina", "password": "gina's password"}
        )
        assert_error(response, 403, "registration_closed")
        await api.aclose()


async def test_secrets_never_reach_the_logs(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = client()
    tokens = await api.register("hank", "hank's secret password")
    await api.http.post(
        "/api/auth/login", json={"username": "hank", "password": "hank's secret password"}
    )
    key = (await api.request("POST", "/api/auth/api-keys", json={"name": "k"})).json()["secret"]
    await client(key).request("GET", "/api/auth/me")
    await api.http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "user registered" in logged  # the logs are captured, and hold the events
    assert "api key created" in logged
    for secret in (tokens["access_token"], tokens["refresh_token"], key, "hank's secret password"):
        assert secret not in logged
