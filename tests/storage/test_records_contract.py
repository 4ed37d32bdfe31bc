"""The record repositories' contract, run against SQLite and MongoDB (secantusdb / mongo:7)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from warren.storage.records import (
    ApiKey,
    ConsumeOutcome,
    Records,
    RefreshToken,
    Run,
    RunOutcome,
    RunStatus,
    Skill,
    Thread,
    ThreadPatch,
    ThreadQuery,
    ThreadStatus,
    User,
    UsernameTaken,
    utcnow,
)


def uid() -> str:
    return str(uuid.uuid4())


def a_user(name: str | None = None) -> User:
    return User(
        id=uid(),
        username=name or f"u{uuid.uuid4().hex[:10]}",
        password_hash="h",
        created_at=utcnow(),
    )


def a_thread(user_id: str, title: str = "", minutes_ago: int = 0) -> Thread:
    stamp = utcnow() - timedelta(minutes=minutes_ago)
    return Thread(
        id=uid(),
        user_id=user_id,
        title=title,
        metadata={"k": [1, "two", {"three": None}]},
        status=ThreadStatus.IDLE,
        created_at=stamp,
        updated_at=stamp,
    )


async def test_users_are_unique_by_username(records: Records) -> None:
    user = a_user()
    await records.users.create(user)
    assert await records.users.get(user.id) == user
    assert await records.users.get_by_username(user.username) == user
    assert await records.users.get(uid()) is None
    with pytest.raises(UsernameTaken):
        await records.users.create(a_user(user.username))


async def test_api_keys_list_newest_first_and_delete_only_for_their_owner(
    records: Records,
) -> None:
    owner, other = uid(), uid()
    keys = []
    for i in range(3):
        key = ApiKey(
            id=uid(),
            user_id=owner,
            name=f"k{i}",
            prefix=f"wk_{i}",
            secret_hash=uuid.uuid4().hex,
            created_at=utcnow() + timedelta(seconds=i),
            expires_at=None if i else utcnow() + timedelta(days=1),
        )
        await records.api_keys.create(key)
        keys.append(key)
    assert [k.id for k in await records.api_keys.list_for_user(owner)] == [
        k.id for k in reversed(keys)
    ]
    assert await records.api_keys.get_by_hash(keys[0].secret_hash) == keys[0]
    when = utcnow()
    await records.api_keys.touch(keys[1].id, when)
    touched = await records.api_keys.get_by_hash(keys[1].secret_hash)
    assert touched is not None
    assert touched.last_used_at == when
    assert not await records.api_keys.delete(other, keys[0].id)
    assert await records.api_keys.delete(owner, keys[0].id)
    assert await records.api_keys.get_by_hash(keys[0].secret_hash) is None
    assert await records.api_keys.list_for_user(other) == []


async def test_refresh_token_is_consumed_once_then_reported_reused(records: Records) -> None:
    family = uid()
    token = RefreshToken(
        id=uid(), family_id=family, user_id=uid(), expires_at=utcnow() + timedelta(days=1)
    )
    await records.refresh_tokens.create(token)
    outcome, stored = await records.refresh_tokens.consume(token.id, utcnow())
    assert outcome is ConsumeOutcome.OK
    assert stored is not None
    assert stored.family_id == family
    outcome, _ = await records.refresh_tokens.consume(token.id, utcnow())
    assert outcome is ConsumeOutcome.REUSED
    assert (await records.refresh_tokens.consume(uid(), utcnow()))[0] is ConsumeOutcome.INVALID


async def test_refresh_token_consume_races_have_one_winner(records: Records) -> None:
    token = RefreshToken(
        id=uid(), family_id=uid(), user_id=uid(), expires_at=utcnow() + timedelta(days=1)
    )
    await records.refresh_tokens.create(token)
    outcomes = await asyncio.gather(
        *(records.refresh_tokens.consume(token.id, utcnow()) for _ in range(8))
    )
    assert [o for o, _ in outcomes].count(ConsumeOutcome.OK) == 1


async def test_revoked_and_expired_refresh_tokens_are_invalid(records: Records) -> None:
    family = uid()
    live = RefreshToken(
        id=uid(), family_id=family, user_id=uid(), expires_at=utcnow() + timedelta(days=1)
    )
    sibling = RefreshToken(
        id=uid(), family_id=family, user_id=live.user_id, expires_at=live.expires_at
    )
    expired = RefreshToken(
        id=uid(), family_id=uid(), user_id=uid(), expires_at=utcnow() - timedelta(seconds=1)
    )
    for token in (live, sibling, expired):
        await records.refresh_tokens.create(token)
    await records.refresh_tokens.revoke_family(family)
    assert (await records.refresh_tokens.consume(live.id, utcnow()))[0] is ConsumeOutcome.INVALID
    assert (await records.refresh_tokens.consume(sibling.id, utcnow()))[0] is ConsumeOutcome.INVALID
    assert (await records.refresh_tokens.consume(expired.id, utcnow()))[0] is ConsumeOutcome.INVALID


async def test_threads_are_scoped_to_their_owner(records: Records) -> None:
    owner, other = uid(), uid()
    thread = a_thread(owner, "Mine")
    await records.threads.create(thread)
    assert await records.threads.get(owner, thread.id) == thread
    assert await records.threads.get(other, thread.id) is None
    assert await records.threads.update(other, thread.id, ThreadPatch(title="x"), utcnow()) is None
    assert not await records.threads.delete(other, thread.id)
    assert (await records.threads.list(ThreadQuery(user_id=other))).total == 0
    assert await records.threads.delete(owner, thread.id)
    assert await records.threads.get(owner, thread.id) is None


async def test_threads_page_newest_activity_first_without_gaps(records: Records) -> None:
    owner = uid()
    created = [a_thread(owner, f"t{i}", minutes_ago=i % 3) for i in range(7)]  # ties on purpose
    for thread in created:
        await records.threads.create(thread)
    expected = sorted(created, key=lambda t: (t.updated_at, t.id), reverse=True)
    seen: list[Thread] = []
    before = None
    while True:
        page = await records.threads.list(ThreadQuery(user_id=owner, limit=3, before=before))
        assert page.total == 7
        seen.extend(page.threads)
        if len(page.threads) < 3:
            break
        last = page.threads[-1]
        before = (last.updated_at, last.id)
    assert [t.id for t in seen] == [t.id for t in expected]


async def test_threads_filter_by_title_text_and_status(records: Records) -> None:
    owner = uid()
    plain = a_thread(owner, "Trip to Lisbon")
    dotted = a_thread(owner, "a.b notes")
    busy = a_thread(owner, "axb")
    for thread in (plain, dotted, busy):
        await records.threads.create(thread)
    await records.threads.set_status(busy.id, ThreadStatus.BUSY, utcnow())

    async def ids(**kw: object) -> set[str]:
        page = await records.threads.list(ThreadQuery(user_id=owner, **kw))  # type: ignore[arg-type]
        assert page.total == len(page.threads)
        return {t.id for t in page.threads}

    assert await ids(q="LISBON") == {plain.id}
    assert await ids(q="a.b") == {dotted.id}  # the text is literal, not a pattern
    assert await ids(q="(") == set()
    assert await ids(status=ThreadStatus.BUSY) == {busy.id}
    assert await ids(status=ThreadStatus.IDLE) == {plain.id, dotted.id}


async def test_thread_update_changes_only_what_is_given(records: Records) -> None:
    owner = uid()
    thread = a_thread(owner, "Old", minutes_ago=5)
    await records.threads.create(thread)
    now = utcnow()
    renamed = await records.threads.update(owner, thread.id, ThreadPatch(title="New"), now)
    assert renamed is not None
    assert (renamed.title, renamed.metadata, renamed.updated_at) == ("New", thread.metadata, now)
    remeta = await records.threads.update(owner, thread.id, ThreadPatch(metadata={}), now)
    assert remeta is not None
    assert (remeta.title, remeta.metadata) == ("New", {})
    later = now + timedelta(seconds=1)
    await records.threads.set_status(thread.id, ThreadStatus.ERROR, later)
    stored = await records.threads.get(owner, thread.id)
    assert stored is not None
    assert (stored.status, stored.updated_at) == (ThreadStatus.ERROR, later)


async def test_runs_lifecycle(records: Records) -> None:
    thread_id, user_id = uid(), uid()
    runs = [
        Run(
            id=uid(),
            thread_id=thread_id,
            user_id=user_id,
            status=RunStatus.PENDING,
            model="m",
            created_at=utcnow() + timedelta(seconds=i),
        )
        for i in range(3)
    ]
    for run in runs:
        await records.runs.create(run)
    assert [r.id for r in await records.runs.list_for_thread(thread_id, 2)] == [
        runs[2].id,
        runs[1].id,
    ]
    started = utcnow()
    await records.runs.mark_running(runs[0].id, started)
    running = await records.runs.get(thread_id, runs[0].id)
    assert running is not None
    assert (running.status, running.started_at) == (RunStatus.RUNNING, started)
    outcome = RunOutcome(
        status=RunStatus.ERROR,
        finished_at=utcnow(),
        input_tokens=10,
        output_tokens=5,
        error_code="model_error",
        error_detail="boom",
    )
    assert await records.runs.finish(runs[0].id, outcome)
    # only an unfinished run is closed: of two replicas closing it, one wins
    assert not await records.runs.finish(runs[0].id, replace(outcome, error_code="late"))
    done = await records.runs.get(thread_id, runs[0].id)
    assert done is not None
    assert (done.status, done.input_tokens, done.output_tokens, done.error_code) == (
        RunStatus.ERROR,
        10,
        5,
        "model_error",
    )
    await records.runs.mark_running(runs[0].id, utcnow())  # finished runs never go back
    again = await records.runs.get(thread_id, runs[0].id)
    assert again is not None
    assert again.status is RunStatus.ERROR
    unfinished = {r.id for r in await records.runs.list_unfinished()}
    assert {runs[1].id, runs[2].id} <= unfinished
    assert runs[0].id not in unfinished
    assert await records.runs.get(uid(), runs[1].id) is None
    assert sorted(await records.runs.delete_for_thread(thread_id)) == sorted(r.id for r in runs)
    assert await records.runs.list_for_thread(thread_id, 10) == []


# skills -----------------------------------------------------------------------


def a_skill(user_id: str, name: str, archive: bytes, description: str = "does things") -> Skill:
    return Skill(
        user_id=user_id,
        name=name,
        description=description,
        sha256=hashlib.sha256(archive).hexdigest(),
        source_url=f"http://skills.example/{name}.zip",
        size=len(archive),
        installed_at=utcnow(),
    )


async def test_skills_are_per_user_by_name_with_content_addressed_archives(
    records: Records,
) -> None:
    alice, bob = uid(), uid()
    zip_a, zip_b = b"PK archive a " + os.urandom(8), b"PK archive b " + os.urandom(8)
    first = a_skill(alice, "writer", zip_a)
    await records.skills.put(first, zip_a)
    await records.skills.put(a_skill(alice, "alpha", zip_b), zip_b)
    assert await records.skills.get(alice, "writer") == first
    assert [s.name for s in await records.skills.list_for_user(alice)] == ["alpha", "writer"]
    assert await records.skills.archive(first.sha256) == zip_a
    # another user sees none of them, and may hold the same archive under the same name
    assert await records.skills.list_for_user(bob) == []
    assert await records.skills.get(bob, "writer") is None
    assert await records.skills.delete(bob, "writer") is False
    await records.skills.put(a_skill(bob, "writer", zip_a), zip_a)

    # replacing a skill keeps the archive another user still refers to
    replaced = a_skill(alice, "writer", zip_b, description="v2")
    await records.skills.put(replaced, zip_b)
    assert await records.skills.get(alice, "writer") == replaced
    assert await records.skills.archive(first.sha256) == zip_a  # bob's

    # the last skill referring to an archive takes it away
    assert await records.skills.delete(bob, "writer") is True
    assert await records.skills.get(bob, "writer") is None
    assert await records.skills.archive(first.sha256) is None
    assert await records.skills.delete(alice, "alpha") is True
    assert await records.skills.archive(replaced.sha256) == zip_b  # alice's writer uses it
    assert await records.skills.delete(alice, "writer") is True
    assert await records.skills.archive(replaced.sha256) is None
    assert await records.skills.list_for_user(alice) == []


async def test_replacing_a_skill_drops_its_unused_archive(records: Records) -> None:
    user = uid()
    old, new = b"old " + os.urandom(8), b"new " + os.urandom(8)
    await records.skills.put(a_skill(user, "tool", old), old)
    await records.skills.put(a_skill(user, "tool", new), new)
    assert await records.skills.archive(hashlib.sha256(old).hexdigest()) is None
    assert await records.skills.archive(hashlib.sha256(new).hexdigest()) == new
    await records.skills.put(a_skill(user, "tool", new), new)  # the same again: kept
    assert await records.skills.archive(hashlib.sha256(new).hexdigest()) == new


async def test_a_users_skills_go_with_the_user(records: Records) -> None:
    gone, stays = uid(), uid()
    shared, own = b"shared " + os.urandom(8), b"own " + os.urandom(8)
    await records.skills.put(a_skill(gone, "a", shared), shared)
    await records.skills.put(a_skill(gone, "b", own), own)
    await records.skills.put(a_skill(stays, "a", shared), shared)
    assert await records.skills.delete_for_user(gone) == 2
    assert await records.skills.list_for_user(gone) == []
    assert await records.skills.archive(hashlib.sha256(own).hexdigest()) is None
    assert await records.skills.archive(hashlib.sha256(shared).hexdigest()) == shared
    assert await records.skills.delete_for_user(gone) == 0


async def test_concurrent_installs_and_removals_never_lose_an_archive(records: Records) -> None:
    """A removal collecting an archive while another user installs the same one: whatever
    the interleaving, a skill that exists has its archive."""
    data = b"contended " + os.urandom(8)
    sha = hashlib.sha256(data).hexdigest()
    users = [uid() for _ in range(6)]
    for user in users[:3]:
        await records.skills.put(a_skill(user, "x", data), data)
    await asyncio.gather(
        *(records.skills.delete(user, "x") for user in users[:3]),
        *(records.skills.put(a_skill(user, "x", data), data) for user in users[3:]),
    )
    assert await records.skills.archive(sha) == data
    for user in users[3:]:
        assert await records.skills.get(user, "x") is not None
