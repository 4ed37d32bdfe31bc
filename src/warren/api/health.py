"""Health routes: `/healthz` (the process answers) and `/readyz` (its dependencies do)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from warren.api.deps import ServicesDep

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 3.0


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, Check]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _run_check(name: str, check: object) -> Check:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)  # type: ignore[operator]
    except TimeoutError:
        return Check(ok=False, detail=f"{name} did not answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:  # a failing dependency is reported, not raised
        return Check(ok=False, detail=f"{name} failed: {type(exc).__name__}")
    return Check(ok=True, detail="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency is failing"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ping every configured dependency; 503 names the ones that fail."""
    names = list(services.storage.checks)
    results = await asyncio.gather(
        *(_run_check(name, services.storage.checks[name]) for name in names)
    )
    checks = dict(zip(names, results, strict=True))
    if services.agents.configured:
        checks["model"] = Check(
            ok=True,
            detail=f"{services.settings.model_provider}: {', '.join(services.agents.names)}",
        )
    else:
        checks["model"] = Check(
            ok=False, detail="no model is configured: set MODEL_API_KEY (and MODEL_NAME)"
        )
    failing = [name for name, check in checks.items() if not check.ok]
    body = Readiness(status="not_ready" if failing else "ready", checks=checks).model_dump()
    if failing:
        body |= {"error": "not_ready", "detail": "failing: " + ", ".join(failing)}
    return JSONResponse(body, status_code=503 if failing else 200)
