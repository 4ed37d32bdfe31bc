"""`MongoDBStore` with the defects of langgraph-store-mongodb 0.4.0 fixed.

Upstream, verified against 0.4.0 (each has a regression test in
`tests/storage/test_langgraph_store.py`):

1. `search` raises `NotImplementedError` on any `offset`. deepagents pages store
   listings 100 at a time, so `/memories/` broke at 100 files. Fixed: offset is a
   `$skip` over a stable order (namespace, key), which the unique index serves.
2. `list_namespaces` applies `limit` before de-duplicating, so a namespace with
   many items hid the others, and `offset` raised. Fixed: group, sort, skip, limit.
3. `get` writes (`find_one_and_update` of `updated_at`) on every read when no TTL
   is configured. Fixed: reads only write when a TTL with `refresh_on_read` is on.
4. `TTLConfig.default_ttl` is minutes, but was passed as `expireAfterSeconds`.
   Fixed: converted to seconds.
"""

from __future__ import annotations

import re
from typing import Any

from langgraph.store.base import Item, NamespacePath, SearchItem, TTLConfig
from langgraph.store.mongodb import MongoDBStore
from pymongo import ASCENDING
from pymongo.collection import Collection


class FixedMongoDBStore(MongoDBStore):
    """The LangGraph store on MongoDB, without the upstream defects listed above."""

    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        ttl_config: TTLConfig | None = None,
        **kwargs: Any,
    ) -> None:
        # Upstream would create its TTL index with minutes as seconds; do it here instead.
        super().__init__(collection, ttl_config=None, **kwargs)
        self.ttl_config = ttl_config or TTLConfig()
        minutes = self.ttl_config.get("default_ttl")
        if minutes:
            collection.create_index(
                [("updated_at", ASCENDING)],
                expireAfterSeconds=int(float(minutes) * 60),
                name="updated_at_ttl",
            )

    def _refreshes_on_read(self, refresh_ttl: bool | None) -> bool:
        config = self.ttl_config or TTLConfig()
        if not config.get("default_ttl"):
            return False
        if refresh_ttl is not None:
            return refresh_ttl
        return bool(config.get("refresh_on_read", True))

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        if self._refreshes_on_read(refresh_ttl):
            result: Item | None = super().get(namespace, key, refresh_ttl=True)
            return result
        self._validate_namespace(namespace)
        doc = self.collection.find_one({"namespace_str": self.sep.join(namespace), "key": key})
        if doc is None:
            return None
        return Item(
            value=doc["value"],
            key=doc["key"],
            namespace=tuple(doc["namespace"]),
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        **kwargs: Any,
    ) -> list[SearchItem]:
        if query is not None:  # vector search: upstream's path (Atlas only)
            results: list[SearchItem] = super().search(
                namespace_prefix, query=query, filter=filter, limit=limit, offset=offset
            )
            return results
        if not isinstance(namespace_prefix, tuple):
            raise TypeError("namespace_prefix must be a tuple of strings")
        match: dict[str, Any] = {}
        if namespace_prefix:
            joined = re.escape(self.sep.join(namespace_prefix))
            match["namespace_str"] = {"$regex": f"^{joined}(?:{re.escape(self.sep)}|$)"}
        if filter:
            _check_filter(filter)
            for field, value in filter.items():
                match[f"value.{field}"] = value
        cursor = self.collection.find(match).sort(
            [("namespace_str", ASCENDING), ("key", ASCENDING)]
        )
        if offset:
            cursor = cursor.skip(offset)
        if limit:
            cursor = cursor.limit(limit)
        return [
            SearchItem(
                namespace=tuple(doc["namespace"]),
                key=doc["key"],
                value=doc["value"],
                created_at=doc["created_at"],
                updated_at=doc["updated_at"],
                score=None,
            )
            for doc in cursor
        ]

    def list_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        conditions = []
        if prefix:
            conditions.append(self._match_prefix(prefix))
        if suffix:
            conditions.append(self._match_suffix(suffix))
        conditions = [c for c in conditions if c]
        pipeline: list[dict[str, Any]] = []
        if conditions:
            expr = conditions[0] if len(conditions) == 1 else {"$and": conditions}
            pipeline.append({"$match": {"$expr": expr}})
        namespace: Any = {"$slice": ["$namespace", max_depth]} if max_depth else "$namespace"
        pipeline.append({"$group": {"_id": namespace}})
        # Sort on the joined path: MongoDB sorts arrays by their smallest element.
        joined = {
            "$reduce": {
                "input": "$_id",
                "initialValue": "",
                "in": {"$concat": ["$$value", self.sep, "$$this"]},
            }
        }
        pipeline.append({"$addFields": {"path": joined}})
        pipeline.append({"$sort": {"path": ASCENDING}})
        if offset:
            pipeline.append({"$skip": offset})
        if limit:
            pipeline.append({"$limit": limit})
        return [tuple(doc["_id"]) for doc in self.collection.aggregate(pipeline)]


def _check_filter(filter_: dict[str, Any], top: bool = True) -> None:
    """Upstream's rules: plain field names only (no `$` operators, no `value.` prefix)."""
    for key, value in filter_.items():
        if not isinstance(key, str) or key.startswith("$"):
            raise ValueError(f"Invalid filter key {key!r}: MongoDB operator keys are not allowed.")
        if top and key.startswith("value"):
            raise ValueError("filters should be specified without `value`")
        if isinstance(value, dict):
            _check_filter(value, top=False)
