"""The skills service: install from a URL, list, remove, and put skills into sandboxes.

A skill belongs to its user. Installing fetches the archive (SSRF-guarded), checks the
optional sha256 pin and the archive itself before anything is stored, then keeps the archive
in the records (content-addressed) and writes the skill into `/skills/<name>/` of each of
the user's live sandboxes. Every new or recreated sandbox gets the user's skills from the
records (`restore`, a `SandboxManager` setup hook): the URL is never fetched again.
"""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from warren.config import Settings
from warren.errors import BadRequest, TooLarge, Unprocessable, WarrenError
from warren.logs import get_logger
from warren.sandbox.manager import SandboxManager
from warren.sandbox.protocol import META_OWNER, META_USER, SandboxError, SandboxProvider
from warren.skills.archive import CheckedSkill, Limits, SkillArchiveError, check_archive
from warren.storage.records import Skill, SkillRepo, utcnow
from warren.tools.fetch import FetchError, Resolver, safe_get, system_resolver

log = get_logger(__name__)

SKILLS_DIR = "/skills"
PLACE_TIMEOUT_SECONDS = 60.0
UPLOADS_AT_ONCE = 8


class PlacementFailed(SandboxError):
    """The sandbox refused the skill's files (e.g. `/skills` is not a writable directory)."""


def skill_dir(name: str) -> str:
    return f"{SKILLS_DIR}/{name}"


def _fetch_error(exc: FetchError) -> WarrenError:
    if exc.code == "too_large":
        return TooLarge(exc.detail)
    return BadRequest(exc.detail, code=exc.code)


def _archive_error(exc: SkillArchiveError) -> WarrenError:
    if exc.code == "too_large":
        return TooLarge(exc.detail)
    return Unprocessable(exc.detail, code="invalid_skill")


async def place(
    provider: SandboxProvider, sandbox_id: str, skill: CheckedSkill, seconds: float
) -> None:
    """Write `skill` to `/skills/<name>/`, replacing what is there in one move: the files go
    to a staging directory next to it first, so a reader never sees half a skill."""
    token = uuid.uuid4().hex
    staging, old = f"{SKILLS_DIR}/.staging-{token}", f"{SKILLS_DIR}/.old-{token}"
    dest = skill_dir(skill.name)
    gate = asyncio.Semaphore(UPLOADS_AT_ONCE)

    async def upload(path: str, data: bytes) -> None:
        async with gate:
            await provider.upload(sandbox_id, f"{staging}/{path}", data)

    q = shlex.quote
    script = [
        "set -e",
        *(f"mkdir -p {q(f'{staging}/{d}')}" for d in skill.directories),
        *(f"chmod 755 {q(f'{staging}/{f.path}')}" for f in skill.files if f.executable),
        f"if [ -e {q(dest)} ] || [ -L {q(dest)} ]; then mv -T {q(dest)} {q(old)}; fi",
        f"mv -T {q(staging)} {q(dest)}",
        f"rm -rf {q(old)}",
    ]
    try:
        # every upload settles before any cleanup, so none recreates what the cleanup removes
        outcomes = await asyncio.gather(
            *(upload(f.path, f.data) for f in skill.files), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        result = await provider.execute(sandbox_id, "\n".join(script), timeout=seconds)
        if result.exit_code != 0:
            raise PlacementFailed(result.output.strip()[-500:] or "the move failed")
    except BaseException:
        try:
            await provider.execute(sandbox_id, f"rm -rf {q(staging)}", timeout=seconds)
        except Exception:
            log.warning("could not clean a skill's staging directory", sandbox_id=sandbox_id)
        raise


class SkillService:
    def __init__(
        self,
        settings: Settings,
        repo: SkillRepo,
        sandboxes: SandboxManager,
        *,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.sandboxes = sandboxes
        self.resolve = resolve
        self.limits = Limits(settings.skill_max_files, settings.skill_max_unpacked_bytes)
        self.timeout = min(PLACE_TIMEOUT_SECONDS, sandboxes.command_timeout)

    async def list(self, user_id: str) -> list[Skill]:
        return await self.repo.list_for_user(user_id)

    async def install(self, user_id: str, url: str, sha256: str | None = None) -> Skill:
        """Fetch, check and store a skill, then put it into the user's live sandboxes.
        Any refusal comes before the first write: no record, no archive, no file."""
        try:
            fetched = await safe_get(
                url,
                allow_hosts=self.settings.warren_fetch_allow_hosts,
                max_bytes=self.settings.skill_max_bytes,
                seconds=self.settings.fetch_timeout_seconds,
                resolve=self.resolve,
            )
        except FetchError as exc:
            raise _fetch_error(exc) from None
        digest = hashlib.sha256(fetched.content).hexdigest()
        pin = None if sha256 is None else sha256.strip().lower()
        if pin is not None and pin != digest:
            raise Unprocessable(
                f"the archive's sha256 is {digest}, not the {pin[:64]} asked for",
                code="sha256_mismatch",
            )
        checked = await self._check(fetched.content)
        skill = Skill(
            user_id=user_id,
            name=checked.name,
            description=checked.description,
            sha256=digest,
            source_url=url,
            size=len(fetched.content),
            installed_at=utcnow(),
        )
        await self.repo.put(skill, fetched.content)
        log.info(
            "skill installed",
            user_id=user_id,
            skill=skill.name,
            sha256=digest,
            host=urlsplit(url).hostname,  # never the whole URL: it may carry a token
        )
        await self._everywhere(
            user_id, lambda provider, sid: place(provider, sid, checked, self.timeout)
        )
        return skill

    async def remove(self, user_id: str, name: str) -> bool:
        """Forget the skill, and take it out of the user's live sandboxes (best effort)."""
        if not await self.repo.delete(user_id, name):
            return False

        async def unplace(provider: SandboxProvider, sandbox_id: str) -> None:
            command = f"rm -rf {shlex.quote(skill_dir(name))}"
            await provider.execute(sandbox_id, command, timeout=self.timeout)

        await self._everywhere(user_id, unplace)
        log.info("skill removed", user_id=user_id, skill=name)
        return True

    async def restore(self, user_id: str, thread_id: str, sandbox_id: str) -> None:
        """The setup hook: the user's skills into a new sandbox, from the stored archives.
        It runs under the thread's creation lock, so it uses the provider directly."""
        for skill in await self.repo.list_for_user(user_id):
            data = await self.repo.archive(skill.sha256)
            if data is None or hashlib.sha256(data).hexdigest() != skill.sha256:
                log.error("a skill's stored archive is missing or altered", skill=skill.name)
                continue
            try:
                checked = await self._check(data)
                await place(self.sandboxes.provider, sandbox_id, checked, self.timeout)
            except (WarrenError, SandboxError) as exc:
                log.warning(
                    "skill not restored", thread_id=thread_id, skill=skill.name, error=str(exc)
                )

    async def _check(self, data: bytes) -> CheckedSkill:
        try:
            return await asyncio.to_thread(check_archive, data, self.limits)
        except SkillArchiveError as exc:
            raise _archive_error(exc) from None

    async def _everywhere(
        self, user_id: str, work: Callable[[SandboxProvider, str], Awaitable[None]]
    ) -> None:
        """Apply `work` to each live sandbox of the user; failures are logged, not raised:
        a sandbox that missed it gets every skill again when it is recreated."""
        provider = self.sandboxes.provider
        try:
            live = await provider.list({META_OWNER: self.sandboxes.owner, META_USER: user_id})
        except SandboxError as exc:
            log.warning("cannot list the user's sandboxes", user_id=user_id, error=str(exc))
            return
        for info in live:
            try:
                await work(provider, info.id)
            except SandboxError as exc:
                log.warning("skill change not applied", sandbox_id=info.id, error=str(exc))
