"""The LangGraph memory store on both backends, and the upstream MongoDB store defects.

`FixedMongoDBStore` exists because langgraph-store-mongodb 0.4.0 breaks deepagents'
`/memories/` (see `warren/storage/mongo_store.py`). Each defect has a regression test
here against the fixed class, and a canary against the upstream class: when a canary
fails after an upgrade, upstream fixed that defect and the override can go.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from deepagents.backends import StoreBackend
from langgraph.store.base import BaseStore
from langgraph.store.mongodb import MongoDBStore
from langgraph.store.sqlite.aio import AsyncSqliteStore
from pymongo import MongoClient
from pymongo.collection import Collection

from warren.agent.context import memory_namespace
from warren.storage.mongo_store import FixedMongoDBStore
from warren.storage.sqlite import connect


@pytest.fixture
def collection(mongo_uri: str, mongo_db_name: str) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[mongo_db_name]["memories"]
    finally:
        client.close()


@pytest.fixture(params=["sqlite", "mongo"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseStore]:
    if request.param == "sqlite":
        conn = await connect(tmp_path / "langgraph.sqlite3")
        conn.row_factory = None
        sqlite_store = AsyncSqliteStore(conn)
        await sqlite_store.setup()
        try:
            yield sqlite_store
        finally:
            await conn.close()
        return
    collection = request.getfixturevalue("collection")
    yield await asyncio.to_thread(FixedMongoDBStore, collection)


async def test_150_memory_files_list_fully_through_deepagents(store: BaseStore) -> None:
    backend = StoreBackend(store=store, namespace=lambda _rt: memory_namespace("alice"))
    other = StoreBackend(store=store, namespace=lambda _rt: memory_namespace("bob"))
    for i in range(150):
        result = await backend.awrite(f"/note-{i:03}.md", f"note {i}")
        assert result.error is None
    await other.awrite("/secret.md", "bob's")
    listing = await backend.als("/")
    assert listing.error is None
    assert listing.entries is not None
    paths = sorted(entry["path"] for entry in listing.entries)
    assert paths == [f"/note-{i:03}.md" for i in range(150)]
    read = await backend.aread("/note-149.md")
    assert read.error is None
    globbed = await backend.aglob("*.md")
    assert globbed.matches is not None
    assert len(globbed.matches) == 150


async def test_search_pages_with_offset_in_a_stable_order(store: BaseStore) -> None:
    namespace = ("users", "u1", "memories")
    for i in range(25):
        await store.aput(namespace, f"k{i:02}", {"i": i})
    await store.aput(("users", "u10", "memories"), "x", {"i": -1})  # a prefix look-alike
    pages = [await store.asearch(namespace, limit=10, offset=o) for o in (0, 10, 20)]
    keys = [item.key for page in pages for item in page]
    assert sorted(keys) == [f"k{i:02}" for i in range(25)]
    assert [len(page) for page in pages] == [10, 10, 5]
    matched = await store.asearch(("users",), filter={"i": 7})
    assert [item.key for item in matched] == ["k07"]


async def test_list_namespaces_limits_distinct_namespaces(store: BaseStore) -> None:
    for i in range(30):
        await store.aput(("users", "a", "memories"), f"k{i}", {"i": i})
    await store.aput(("users", "b", "memories"), "k", {})
    await store.aput(("users", "c", "memories"), "k", {})
    assert len(await store.alist_namespaces(prefix=("users",), limit=2)) == 2
    everything = await store.alist_namespaces(prefix=("users",), limit=10)
    assert sorted(everything) == [("users", x, "memories") for x in "abc"]
    paged = await store.alist_namespaces(prefix=("users",), limit=2, offset=2)
    assert len(paged) == 1
    assert sorted(await store.alist_namespaces(prefix=("users",), max_depth=2)) == [
        ("users", x) for x in "abc"
    ]


def _stamp(collection: Collection[dict[str, Any]], key: str) -> Any:
    doc = collection.find_one({"key": key})
    assert doc is not None
    return doc["updated_at"]


async def test_mongo_get_does_not_write(collection: Collection[dict[str, Any]]) -> None:
    store = await asyncio.to_thread(FixedMongoDBStore, collection)
    await store.aput(("users", "u", "memories"), "k", {"v": 1})
    before = _stamp(collection, "k")
    await asyncio.sleep(0.01)
    item = await store.aget(("users", "u", "memories"), "k")
    assert item is not None
    assert item.value == {"v": 1}
    assert _stamp(collection, "k") == before


async def test_mongo_ttl_is_minutes_and_refreshes_on_read(
    collection: Collection[dict[str, Any]],
) -> None:
    store = await asyncio.to_thread(
        FixedMongoDBStore, collection, {"default_ttl": 2, "refresh_on_read": True}
    )
    ttl = [ix for ix in collection.list_indexes() if "expireAfterSeconds" in ix]
    assert [ix["expireAfterSeconds"] for ix in ttl] == [120]
    await store.aput(("ns",), "k", {"v": 1})
    before = _stamp(collection, "k")
    await asyncio.sleep(0.01)
    await store.aget(("ns",), "k")
    assert _stamp(collection, "k") > before  # with a TTL, a read keeps the item alive


# Canaries: the upstream defects, as of langgraph-store-mongodb 0.4.0.


def test_canary_upstream_search_rejects_offset(collection: Collection[dict[str, Any]]) -> None:
    upstream = MongoDBStore(collection)
    with pytest.raises(NotImplementedError):
        upstream.search(("ns",), offset=100)


def test_canary_upstream_list_namespaces_limits_before_grouping(
    collection: Collection[dict[str, Any]],
) -> None:
    upstream = MongoDBStore(collection)
    for i in range(5):
        upstream.put(("users", "a"), f"k{i}", {})
    upstream.put(("users", "b"), "k", {})
    assert len(upstream.list_namespaces(prefix=("users",), limit=2)) < 2


def test_canary_upstream_get_writes(collection: Collection[dict[str, Any]]) -> None:
    upstream = MongoDBStore(collection)
    upstream.put(("ns",), "k", {})
    before = _stamp(collection, "k")
    time.sleep(0.01)
    upstream.get(("ns",), "k")
    assert _stamp(collection, "k") > before


def test_canary_upstream_ttl_takes_minutes_as_seconds(
    collection: Collection[dict[str, Any]],
) -> None:
    MongoDBStore(collection, ttl_config={"default_ttl": 2, "refresh_on_read": True})
    ttl = [
        ix["expireAfterSeconds"] for ix in collection.list_indexes() if "expireAfterSeconds" in ix
    ]
    assert ttl == [2]
