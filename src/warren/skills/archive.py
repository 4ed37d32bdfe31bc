"""Checking a skill archive before anything of it is stored or written anywhere.

A skill is a zip with `SKILL.md` at its root (or inside its single top-level directory),
whose YAML front matter names it and says what it does, as deepagents' `SkillsMiddleware`
reads it (`^---\\n...\\n---\\n`, `name`, `description` of at most 1024 characters). The
archive comes from anywhere, so it is refused when an entry could land outside the skill's
directory (`..`, absolute paths, backslashes, drive letters), is a link or a device, is
encrypted, repeats another, or when it holds too many entries or unpacks too large
(declared sizes first, then the bytes actually inflated, and each entry's compression
ratio). `check_archive` blocks: call it in a thread.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass
from typing import Literal

import yaml  # type: ignore[import-untyped]

SKILL_FILE = "SKILL.md"
NAME = re.compile(r"^[a-z0-9-]{1,64}$")
MAX_DESCRIPTION_CHARS = 1024  # the Agent Skills limit deepagents applies
MAX_FRONT_MATTER_CHARS = 64 * 1024
MAX_RATIO = 100  # inflated / compressed, for entries over RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
READ_CHUNK = 64 * 1024
_FRONT_MATTER = re.compile(r"^---\s*\n(.*?)\n---\s*\n", re.DOTALL)  # deepagents' pattern
_DRIVE = re.compile(r"^[A-Za-z]:")
_SPECIAL = {stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK}
_IGNORED = "__MACOSX/"  # resource forks macOS's archiver adds; never part of a skill

ArchiveErrorCode = Literal["invalid_skill", "too_large"]


class SkillArchiveError(Exception):
    def __init__(self, code: ArchiveErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code: ArchiveErrorCode = code
        self.detail = detail


def _invalid(detail: str) -> SkillArchiveError:
    return SkillArchiveError("invalid_skill", detail)


@dataclass(frozen=True, slots=True)
class Limits:
    max_files: int
    max_unpacked_bytes: int


@dataclass(frozen=True, slots=True)
class SkillFile:
    path: str  # relative to the skill's directory, POSIX
    data: bytes
    executable: bool


@dataclass(frozen=True, slots=True)
class CheckedSkill:
    name: str
    description: str
    files: tuple[SkillFile, ...]
    directories: tuple[str, ...]  # relative, as listed in the archive (empty ones included)


def _check_name(info: zipfile.ZipInfo) -> str:
    """The entry's path without a trailing `/`, or refuse it."""
    name = info.filename
    if "\x00" in info.orig_filename:
        raise _invalid(f"entry {name!r} has a NUL byte in its name")
    if "\\" in name:
        raise _invalid(f"entry {name!r} uses backslashes; zip paths use '/'")
    if name.startswith("/") or _DRIVE.match(name):
        raise _invalid(f"entry {name!r} is an absolute path")
    path = name.rstrip("/")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise _invalid(f"entry {name!r} has an empty, '.' or '..' path component")
    return path


def _check_entry(info: zipfile.ZipInfo, path: str) -> None:
    if info.flag_bits & 0x1:
        raise _invalid(f"entry {path!r} is encrypted")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise _invalid(f"entry {path!r} is a symbolic link; skills may not contain links")
    if kind in _SPECIAL:
        raise _invalid(f"entry {path!r} is not a regular file or directory")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise SkillArchiveError(
            "too_large", f"entry {path!r} compresses more than {MAX_RATIO}:1 (a zip bomb?)"
        )


def _entries(archive: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    """Every entry, checked, by path (directories end in `/`)."""
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise _invalid(f"the archive has {len(infos)} entries; the limit is {limits.max_files}")
    entries: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for info in infos:
        if info.filename.startswith(_IGNORED):
            continue
        path = _check_name(info)
        _check_entry(info, path)
        if path in entries or f"{path}/" in entries:
            raise _invalid(f"entry {path!r} appears more than once")
        entries[f"{path}/" if info.is_dir() else path] = info
        declared += info.file_size
        if declared > limits.max_unpacked_bytes:
            raise SkillArchiveError(
                "too_large", f"the archive unpacks to more than {limits.max_unpacked_bytes} bytes"
            )
    parents = {path.rsplit("/", 1)[0] for path in (p.rstrip("/") for p in entries) if "/" in path}
    parents |= {
        parent.rsplit("/", i)[0] for parent in parents for i in range(parent.count("/") + 1)
    }
    for path in entries:  # a file cannot also be the directory of another entry
        if not path.endswith("/") and path in parents:
            raise _invalid(f"entry {path!r} is both a file and a directory")
    return entries


def _root(entries: dict[str, zipfile.ZipInfo]) -> str:
    """The prefix of the skill's directory in the archive: "" or "<top>/"."""
    if SKILL_FILE in entries:
        return ""
    tops = {path.split("/")[0] for path in entries}
    if len(tops) == 1:
        (top,) = tops
        if f"{top}/{SKILL_FILE}" in entries:
            return f"{top}/"
    raise _invalid(
        f"no {SKILL_FILE} at the root of the archive (or inside its single top-level directory)"
    )


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, counted as they inflate: never more than declared or `budget`."""
    parts: list[bytes] = []
    size = 0
    with archive.open(info) as stream:
        while chunk := stream.read(READ_CHUNK):
            size += len(chunk)
            if size > info.file_size or size > budget:
                raise SkillArchiveError(
                    "too_large", f"entry {info.filename!r} unpacks larger than it declares"
                )
            parts.append(chunk)
    return b"".join(parts)


def _scalar(front: dict[object, object], key: str) -> str:
    value = front.get(key)
    if value is None or isinstance(value, (list, dict)):
        raise _invalid(f"{SKILL_FILE} front matter needs a '{key}' text field")
    return str(value).strip()


def parse_front_matter(text: str) -> tuple[str, str]:
    """(name, description) from `SKILL.md`, checked as Warren and deepagents need them."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise _invalid(f"{SKILL_FILE} must start with YAML front matter between '---' lines")
    if len(match.group(1)) > MAX_FRONT_MATTER_CHARS:
        raise _invalid(f"{SKILL_FILE} front matter is over {MAX_FRONT_MATTER_CHARS} characters")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise _invalid(f"{SKILL_FILE} front matter is not valid YAML: {exc}") from None
    if not isinstance(front, dict):
        raise _invalid(f"{SKILL_FILE} front matter must be a mapping with name and description")
    name, description = _scalar(front, "name"), _scalar(front, "description")
    if not NAME.match(name):
        raise _invalid(
            f"skill name {name[:80]!r} must be 1-64 characters: lowercase letters, digits, '-'"
        )
    if not description:
        raise _invalid(f"{SKILL_FILE} front matter needs a non-empty description")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise _invalid(f"the description is over {MAX_DESCRIPTION_CHARS} characters")
    return name, description


def check_archive(data: bytes, limits: Limits) -> CheckedSkill:
    """Check and unpack a skill archive in memory; `SkillArchiveError` says what is wrong."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _invalid("the file is not a zip archive") from None
    with archive:
        entries = _entries(archive, limits)
        root = _root(entries)
        files: list[SkillFile] = []
        directories: list[str] = []
        budget = limits.max_unpacked_bytes
        for path, info in sorted(entries.items()):
            inner = path[len(root) :]
            if not inner:
                continue  # the top-level directory itself
            if path.endswith("/"):
                directories.append(inner.rstrip("/"))
                continue
            try:
                content = _inflate(archive, info, budget)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                raise _invalid(f"entry {path!r} cannot be unpacked: {exc}") from None
            budget -= len(content)
            mode = info.external_attr >> 16
            files.append(SkillFile(inner, content, executable=bool(mode & 0o111)))
    skill_md = next(f for f in files if f.path == SKILL_FILE)
    try:
        text = skill_md.data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(f"{SKILL_FILE} is not UTF-8 text") from None
    name, description = parse_front_matter(text)
    return CheckedSkill(name, description, tuple(files), tuple(directories))
