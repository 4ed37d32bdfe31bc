"""Production live state in Redis: streams for run events, pub/sub for cancels, leases."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from warren.storage import keys
from warren.storage.live import TERMINAL_EVENT, InvalidEventId, LiveState, LoggedEvent

Entries = list[tuple[str, dict[str, str]]]  # stream entries, as decode_responses returns them
_STREAM_ID = re.compile(r"^\d+-\d+$")
_BLOCK_MS = 5_000
_CANCEL_FLAG_SECONDS = 24 * 3600

# Compare-and-set on a lease: only its owner may renew or release it.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501


def connect_redis(url: str) -> Redis:
    """The one Redis client factory: timeouts, retries and health checks."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=(_BLOCK_MS / 1000) + 10,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=2, base=0.1), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def _check_id(event_id: str) -> str:
    if not _STREAM_ID.match(event_id):
        raise InvalidEventId(event_id)
    return event_id


def _order(entry_id: str) -> tuple[int, int]:
    millis, seq = entry_id.split("-")
    return int(millis), int(seq)


def _decode(entry_id: str, fields: dict[str, str]) -> LoggedEvent:
    return LoggedEvent(id=entry_id, type=fields["type"], data=json.loads(fields["data"]))


class RedisEventLog:
    def __init__(self, redis: Redis, *, max_age: float = 7 * 24 * 3600) -> None:
        self.redis = redis
        self.max_age_ms = int(max_age * 1000)  # bound on a log whose run never finished

    def is_valid_id(self, event_id: str) -> bool:
        return bool(_STREAM_ID.match(event_id))

    async def append(self, run_id: str, type_: str, data: dict[str, Any]) -> str:
        key = keys.run_events(run_id)
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"type": type_, "data": payload})
            if type_ != TERMINAL_EVENT:
                pipe.pexpire(key, self.max_age_ms)
            entry_id, *_ = await pipe.execute()
        return str(entry_id)

    async def read(self, run_id: str, after: str | None = None) -> list[LoggedEvent]:
        start = "-" if after is None else f"({_check_id(after)}"
        entries = cast(
            Entries, await self.redis.xrange(keys.run_events(run_id), min=start, max="+")
        )
        return [_decode(entry_id, fields) for entry_id, fields in entries]

    async def follow(self, run_id: str, after: str | None = None) -> AsyncIterator[LoggedEvent]:
        key = keys.run_events(run_id)
        cursor = "0-0" if after is None else _check_id(after)
        if after is not None:
            last = cast(Entries, await self.redis.xrevrange(key, "+", "-", count=1))
            ended = bool(last) and last[0][1]["type"] == TERMINAL_EVENT
            if ended and _order(last[0][0]) <= _order(after):
                return  # resumed at or after `done`: nothing more will come
        while True:
            reply = cast(
                list[tuple[str, Entries]] | None,
                await self.redis.xread({key: cursor}, block=_BLOCK_MS, count=500),
            )
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    event = _decode(entry_id, fields)
                    yield event
                    cursor = entry_id
                    if event.type == TERMINAL_EVENT:
                        return

    async def expire(self, run_id: str, seconds: float) -> None:
        await self.redis.pexpire(keys.run_events(run_id), max(1, int(seconds * 1000)))

    async def delete(self, run_id: str) -> None:
        await self.redis.delete(keys.run_events(run_id))


class RedisCancelBus:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def request(self, run_id: str) -> None:
        name = keys.run_cancel(run_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(name, "1", ex=_CANCEL_FLAG_SECONDS)
            pipe.publish(name, "cancel")
            await pipe.execute()

    async def is_requested(self, run_id: str) -> bool:
        return bool(await self.redis.exists(keys.run_cancel(run_id)))

    async def wait(self, run_id: str) -> None:
        name = keys.run_cancel(run_id)
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(name)
            # Subscribed first, then checked: a request in between is not missed.
            while not await self.is_requested(run_id):
                message = await pubsub.get_message(timeout=_BLOCK_MS / 1000)
                if message is not None:
                    return
        finally:
            await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]

    async def clear(self, run_id: str) -> None:
        await self.redis.delete(keys.run_cancel(run_id))


class RedisRunLocks:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def acquire(self, thread_id: str, owner: str, ttl: float) -> bool:
        return bool(
            await self.redis.set(keys.thread_lock(thread_id), owner, nx=True, px=int(ttl * 1000))
        )

    async def renew(self, thread_id: str, owner: str, ttl: float) -> bool:
        result = await self.redis.eval(
            _RENEW, 1, keys.thread_lock(thread_id), owner, int(ttl * 1000)
        )
        return bool(result)

    async def release(self, thread_id: str, owner: str) -> bool:
        result = await self.redis.eval(_RELEASE, 1, keys.thread_lock(thread_id), owner)
        return bool(result)

    async def holder(self, thread_id: str) -> str | None:
        value = await self.redis.get(keys.thread_lock(thread_id))
        return None if value is None else str(value)


class RedisThrottle:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        name = keys.throttle(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.pexpire(name, int(window * 1000), nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        if int(count) > limit:
            return max(0.0, int(ttl_ms) / 1000)
        return None

    async def reset(self, key: str) -> None:
        await self.redis.delete(keys.throttle(key))


def redis_live_state(redis: Redis) -> LiveState:
    return LiveState(
        events=RedisEventLog(redis),
        cancels=RedisCancelBus(redis),
        locks=RedisRunLocks(redis),
        throttle=RedisThrottle(redis),
    )
