"""Routes under /api/skills: the caller's skills — list, install from a URL, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from warren.api.deps import CurrentUser, ServicesDep
from warren.api.schemas import (
    ERROR_RESPONSES,
    ErrorBody,
    InvalidRequestBody,
    SkillInstall,
    SkillList,
    SkillPublic,
    error,
)
from warren.errors import NotFound
from warren.skills.service import SkillService

router = APIRouter(prefix="/api/skills", tags=["skills"], responses=ERROR_RESPONSES)


def get_skill_service(services: ServicesDep) -> SkillService:
    return SkillService(services.settings, services.storage.records.skills, services.sandboxes)


Skills = Annotated[SkillService, Depends(get_skill_service)]
SkillName = Annotated[str, Path(min_length=1, max_length=64, description="the skill's name")]


@router.get("")
async def list_skills(user: CurrentUser, skills: Skills) -> SkillList:
    """The caller's installed skills, by name."""
    found = await skills.list(user.id)
    return SkillList(data=[SkillPublic.of(skill) for skill in found], count=len(found))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: error("the URL may not be fetched (`fetch_refused`) or could not be (`fetch_failed`)"),
        413: error("the archive, or what it unpacks to, is too large (`too_large`)"),
        422: {
            # a body that fails validation, or an archive that does
            "model": InvalidRequestBody | ErrorBody,
            "description": "the request is not valid, the archive is not a valid skill "
            "(`invalid_skill`), or its sha256 differs from the pin (`sha256_mismatch`)",
        },
    },
)
async def install_skill(body: SkillInstall, user: CurrentUser, skills: Skills) -> SkillPublic:
    """Fetch a skill's zip archive from `url` and install it for the caller, replacing a
    skill of the same name. It appears in `/skills/<name>/` of the caller's sandboxes (live
    ones now, new ones when they are created). Nothing is stored when it is refused."""
    skill = await skills.install(user.id, body.url, body.sha256)
    return SkillPublic.of(skill)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_skill(name: SkillName, user: CurrentUser, skills: Skills) -> Response:
    """Remove one of the caller's skills, also from their live sandboxes."""
    if not await skills.remove(user.id, name):
        raise NotFound(f"no skill named {name!r}", code="skill_not_found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
