"""Health routes: `/healthz` (the process answers) and `/readyz` (its dependencies do)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from warren.api.deps import ServicesDep
from warren.sandbox.factory import provider_warning
from warren.sandbox.protocol import SandboxUnavailable

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 3.0


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, Check]
    tools: dict[str, Check] = Field(
        default_factory=dict, description="optional tools and tool servers; never fail readiness"
    )
    warnings: list[str] = Field(
        default_factory=list, description="ready, but running in a degraded or unsafe mode"
    )


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _run_check(name: str, check: object) -> Check:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)  # type: ignore[operator]
    except TimeoutError:
        return Check(ok=False, detail=f"{name} did not answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except SandboxUnavailable as exc:  # its message is written for operators
        return Check(ok=False, detail=f"{name} failed: {exc}")
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
    probes = dict(services.storage.checks)
    probes["sandbox"] = services.sandboxes.provider.check
    names = list(probes)
    results = await asyncio.gather(*(_run_check(name, probes[name]) for name in names))
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
    if checks["sandbox"].ok:
        checks["sandbox"] = Check(ok=True, detail=services.sandboxes.provider.name)
    warnings = [w for w in [provider_warning(services.sandboxes.provider)] if w]
    tools = {
        name: Check(ok=state.ok, detail=state.detail)
        for name, state in services.toolbox.status.items()
    }
    warnings.extend(f"{name}: {check.detail}" for name, check in tools.items() if not check.ok)
    failing = [name for name, check in checks.items() if not check.ok]
    status = "not_ready" if failing else "ready"
    body = Readiness(status=status, checks=checks, tools=tools, warnings=warnings).model_dump()
    if failing:
        body |= {"error": "not_ready", "detail": "failing: " + ", ".join(failing)}
    return JSONResponse(body, status_code=503 if failing else 200)
