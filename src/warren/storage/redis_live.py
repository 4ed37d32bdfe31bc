"""Production live state in Redis: streams for run events, pub/sub for cancels, leases."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from warren.storage import keys
from warren.storage.live import (
    TERMINAL_EVENT,
    InvalidEventId,
    LiveState,
    LoggedEvent,
    SandboxLease,
)

Entries = list[tuple[str, dict[str, str]]]  # stream entries, as decode_responses returns them
_STREAM_ID = re.compile(r"^\d+-\d+$")
_BLOCK_MS = 5_000
_CANCEL_FLAG_SECONDS = 24 * 3600

# Compare-and-set on a lease: only its owner may renew or release it.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501
# Compare-and-set on a sandbox lease: only while it still names the same sandbox.
_TOUCH = """
if redis.call('hget', KEYS[1], 'sandbox_id') ~= ARGV[1] then return 0 end
if ARGV[2] > (redis.call('hget', KEYS[1], 'last_used_at') or '') then
  redis.call('hset', KEYS[1], 'last_used_at', ARGV[2])
end
redis.call('hset', KEYS[1], 'expires_at', ARGV[3])
return 1
"""
_DROP_LEASE = """
if ARGV[1] ~= '' and redis.call('hget', KEYS[1], 'sandbox_id') ~= ARGV[1] then return 0 end
redis.call('srem', KEYS[2], ARGV[2])
return redis.call('del', KEYS[1])
"""

# Run queues: a sorted set (order) and a hash (lease deadlines in ms, plus the order counter).
# Every script first drops the entries whose lease ran out (their replica died).
_QUEUE_PRELUDE = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, m in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
  local deadline = redis.call('hget', KEYS[2], m)
  if (not deadline) or tonumber(deadline) <= now then
    redis.call('zrem', KEYS[1], m)
    redis.call('hdel', KEYS[2], m)
  end
end
if redis.call('zcard', KEYS[1]) == 0 then redis.call('del', KEYS[1], KEYS[2]) end
"""
_QUEUE_PUSH = (
    _QUEUE_PRELUDE
    + """
if tonumber(ARGV[3]) >= 0 and redis.call('zcard', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
local order = redis.call('hincrby', KEYS[2], '#order', 1)
if ARGV[4] == '1' then order = -order end
redis.call('zadd', KEYS[1], order, ARGV[1])
redis.call('hset', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
redis.call('pexpire', KEYS[1], ARGV[5])
redis.call('pexpire', KEYS[2], ARGV[5])
return 1
"""
)
_QUEUE_RENEW = (
    _QUEUE_PRELUDE
    + """
if not redis.call('zscore', KEYS[1], ARGV[1]) then return 0 end
redis.call('hset', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
redis.call('pexpire', KEYS[1], ARGV[3])
redis.call('pexpire', KEYS[2], ARGV[3])
return 1
"""
)
_QUEUE_ENTRIES = _QUEUE_PRELUDE + "return redis.call('zrange', KEYS[1], 0, -1)"
_QUEUE_REMOVE = """
local removed = redis.call('zrem', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
if redis.call('zcard', KEYS[1]) == 0 then redis.call('del', KEYS[1], KEYS[2]) end
return removed
"""


# Every streamed run holds two connections while it lives (its cancel subscription, and each
# follower's blocking XREAD): redis-py's default cap of 100 failed runs from ~45 concurrent
# streams on. Redis' own default `maxclients` is 10 000.
_MAX_CONNECTIONS = 5_000


def connect_redis(url: str) -> Redis:
    """The one Redis client factory: timeouts, retries and health checks."""
    return Redis.from_url(
        url,
        max_connections=_MAX_CONNECTIONS,
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
    raw = fields["data"]
    return LoggedEvent(id=entry_id, type=fields["type"], data=json.loads(raw), raw=raw)


class RedisEventLog:
    def __init__(self, redis: Redis, *, max_age: float = 7 * 24 * 3600) -> None:
        self.redis = redis
        self.max_age_ms = int(max_age * 1000)  # bound on a log whose run never finished

    def is_valid_id(self, event_id: str) -> bool:
        return bool(_STREAM_ID.match(event_id))

    async def append(self, run_id: str, type_: str, data: dict[str, Any]) -> str:
        (entry_id,) = await self.append_many(run_id, [(type_, data)])
        return entry_id

    async def append_many(
        self, run_id: str, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        """One MULTI/EXEC round trip for the whole batch."""
        if not events:
            return []
        key = keys.run_events(run_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for type_, data in events:
                payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
                pipe.xadd(key, {"type": type_, "data": payload})
            if any(type_ != TERMINAL_EVENT for type_, _ in events):
                pipe.pexpire(key, self.max_age_ms)
            results = await pipe.execute()
        return [str(entry_id) for entry_id in results[: len(events)]]

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
    """`SET NX PX` leases; `key` names them (run locks per thread, or named mutexes)."""

    def __init__(self, redis: Redis, key: Callable[[str], str] = keys.thread_lock) -> None:
        self.redis = redis
        self.key = key

    async def acquire(self, thread_id: str, owner: str, ttl: float) -> bool:
        return bool(await self.redis.set(self.key(thread_id), owner, nx=True, px=int(ttl * 1000)))

    async def renew(self, thread_id: str, owner: str, ttl: float) -> bool:
        result = await self.redis.eval(_RENEW, 1, self.key(thread_id), owner, int(ttl * 1000))
        return bool(result)

    async def release(self, thread_id: str, owner: str) -> bool:
        result = await self.redis.eval(_RELEASE, 1, self.key(thread_id), owner)
        return bool(result)

    async def holder(self, thread_id: str) -> str | None:
        value = await self.redis.get(self.key(thread_id))
        return None if value is None else str(value)


class RedisRunQueue:
    """Run queues in Redis; the keys themselves expire when no waiter renews them."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def _call(self, script: str, thread_id: str, *args: str | int) -> Any:
        keys_ = (keys.run_queue(thread_id), keys.run_queue_leases(thread_id))
        return await cast(Any, self.redis.eval(script, 2, *keys_, *args))

    async def push(
        self, thread_id: str, run_id: str, *, ttl: float, limit: int | None, front: bool = False
    ) -> bool:
        ttl_ms = max(1, int(ttl * 1000))
        bound = -1 if limit is None else limit
        flag = "1" if front else "0"
        result = await self._call(_QUEUE_PUSH, thread_id, run_id, ttl_ms, bound, flag, 2 * ttl_ms)
        return bool(result)

    async def renew(self, thread_id: str, run_id: str, ttl: float) -> bool:
        ttl_ms = max(1, int(ttl * 1000))
        return bool(await self._call(_QUEUE_RENEW, thread_id, run_id, ttl_ms, 2 * ttl_ms))

    async def entries(self, thread_id: str) -> list[str]:
        return [str(run_id) for run_id in await self._call(_QUEUE_ENTRIES, thread_id)]

    async def remove(self, thread_id: str, run_id: str) -> bool:
        return bool(await self._call(_QUEUE_REMOVE, thread_id, run_id))


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


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="microseconds")


class RedisSandboxLeases:
    """One hash per thread, plus a set of the threads that have one (for `all`)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def _lease(fields: dict[str, str]) -> SandboxLease | None:
        if "sandbox_id" not in fields:
            return None
        return SandboxLease(
            thread_id=fields["thread_id"],
            user_id=fields["user_id"],
            provider=fields["provider"],
            sandbox_id=fields["sandbox_id"],
            created_at=datetime.fromisoformat(fields["created_at"]),
            last_used_at=datetime.fromisoformat(fields["last_used_at"]),
            expires_at=datetime.fromisoformat(fields["expires_at"])
            if fields.get("expires_at")
            else None,
        )

    async def get(self, thread_id: str) -> SandboxLease | None:
        fields = await cast(Any, self.redis.hgetall(keys.sandbox_lease(thread_id)))
        return self._lease(cast(dict[str, str], fields))

    async def put(self, lease: SandboxLease) -> None:
        mapping: dict[Any, Any] = {
            "thread_id": lease.thread_id,
            "user_id": lease.user_id,
            "provider": lease.provider,
            "sandbox_id": lease.sandbox_id,
            "created_at": _iso(lease.created_at),
            "last_used_at": _iso(lease.last_used_at),
            "expires_at": _iso(lease.expires_at),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.sandbox_lease(lease.thread_id))
            pipe.hset(keys.sandbox_lease(lease.thread_id), mapping=mapping)
            pipe.sadd(keys.sandbox_leases(), lease.thread_id)
            await pipe.execute()

    async def touch(
        self, thread_id: str, sandbox_id: str, *, used_at: datetime, expires_at: datetime | None
    ) -> bool:
        script = cast(
            Any,
            self.redis.eval(
                _TOUCH,
                1,
                keys.sandbox_lease(thread_id),
                sandbox_id,
                _iso(used_at),
                _iso(expires_at),
            ),
        )
        return bool(await script)

    async def delete(self, thread_id: str, sandbox_id: str | None = None) -> bool:
        script = cast(
            Any,
            self.redis.eval(
                _DROP_LEASE,
                2,
                keys.sandbox_lease(thread_id),
                keys.sandbox_leases(),
                sandbox_id or "",
                thread_id,
            ),
        )
        return bool(await script)

    async def all(self) -> list[SandboxLease]:
        members = await cast(Any, self.redis.smembers(keys.sandbox_leases()))
        thread_ids: list[str] = sorted(members)
        async with self.redis.pipeline(transaction=False) as pipe:
            for thread_id in thread_ids:
                pipe.hgetall(keys.sandbox_lease(thread_id))
            rows = await pipe.execute()
        leases = [self._lease(row) for row in rows]
        return [lease for lease in leases if lease is not None]


def redis_live_state(redis: Redis) -> LiveState:
    return LiveState(
        events=RedisEventLog(redis),
        cancels=RedisCancelBus(redis),
        locks=RedisRunLocks(redis),
        throttle=RedisThrottle(redis),
        mutex=RedisRunLocks(redis, keys.lock),
        leases=RedisSandboxLeases(redis),
        queues=RedisRunQueue(redis),
    )
