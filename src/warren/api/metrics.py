"""`GET /metrics`: Prometheus text, unauthenticated as scrapers expect. It carries counts and
latencies only: no user, thread or run ids, no content."""

from __future__ import annotations

from fastapi import APIRouter, Response

from warren.api.deps import ServicesDep
from warren.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(services: ServicesDep) -> Response:
    """Runs by status, active runs and stream subscribers, time to first event, run
    duration, cancels, sandbox counts and create latency, tool errors."""
    registry = services.runs.metrics
    registry.sandboxes.set(len(await services.sandboxes.leases.all()))
    return Response(registry.render(), media_type=CONTENT_TYPE)
