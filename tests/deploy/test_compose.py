"""docker-compose.yml: valid against the Compose specification, refuses to start without its
secrets, gives Warren a valid production configuration, keeps the databases off the host's
ports, and its Redis command really runs (no Docker engine here: the commands run bare)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import redis
from pymongo.uri_parser import parse_uri

from tests.deploy.files import (
    BIN,
    ROOT,
    MissingVariable,
    dotenv,
    interpolate,
    load_yaml,
    run_tool,
    shellcheck,
    variables,
)
from tests.services import free_port
from warren.config import Deployment, Settings
from warren.sandbox.bwrap import find_bwrap

COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "JWT_SECRET_KEY": "k" * 48,
    "MONGO_PASSWORD": "mongoPassw0rd",
    "REDIS_PASSWORD": "redisPassw0rd",
}


def example_env(**overrides: str) -> dict[str, str]:
    """What compose reads from `.env` right after `cp .env.example .env`, plus overrides."""
    return {**dotenv(ROOT / ".env.example"), **overrides}


def resolved(**overrides: str) -> dict[str, Any]:
    return interpolate(load_yaml(COMPOSE), example_env(**SECRETS, **overrides))


def test_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    as_written = run_tool(
        BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE
    )
    assert as_written.returncode == 0, as_written.stdout + as_written.stderr
    interpolated = tmp_path / "compose.json"  # YAML is a superset of JSON
    interpolated.write_text(json.dumps(resolved()))
    result = run_tool(
        BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", interpolated
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(secret: str) -> None:
    given = {name: value for name, value in SECRETS.items() if name != secret}
    with pytest.raises(MissingVariable) as refused:
        interpolate(load_yaml(COMPOSE), example_env(**given))
    assert str(refused.value).startswith(f"{secret}: set {secret} in .env")


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = set(variables(load_yaml(COMPOSE)))
    assert used - set(dotenv(ROOT / ".env.example")) == set()


def test_the_databases_are_private_durable_and_healthy_before_warren_starts() -> None:
    services = resolved()["services"]
    assert set(services) >= {"app", "mongodb", "redis", "opensandbox"}
    for name in ("mongodb", "redis"):
        assert "ports" not in services[name], f"{name} must not be published on the host"
        assert services[name]["healthcheck"]["test"]
        assert services[name]["restart"] == "unless-stopped"
    assert services["app"]["depends_on"]["mongodb"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # MongoDB: a replica set (majority writes) with authentication and a key file
    mongod = services["mongodb"]["entrypoint"][-1]
    assert "mongod --replSet rs0 --keyFile" in mongod
    assert services["mongodb"]["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == "mongoPassw0rd"
    # Redis: append-only file and no eviction
    assert "--appendonly yes" in services["redis"]["entrypoint"][-1]
    assert "--maxmemory-policy noeviction" in services["redis"]["entrypoint"][-1]
    # data lives in named volumes, declared at the top level; the one file mounted from this
    # checkout exists and is read-only; only the OpenSandbox server gets the Docker socket
    declared = set(resolved()["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), volume
                assert volume.endswith(":ro"), volume
            elif source.startswith("/"):
                assert (name, volume) == ("opensandbox", f"{source}:/var/run/docker.sock")
            else:
                assert source in declared, volume
    # the app listens on the host's loopback unless told otherwise
    assert services["app"]["ports"] == ["127.0.0.1:8000:8000"]
    assert resolved(WARREN_BIND_ADDRESS="0.0.0.0")["services"]["app"]["ports"] == [
        "0.0.0.0:8000:8000"
    ]


def test_the_app_gets_a_valid_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    app = resolved()["services"]["app"]
    assert app["env_file"] == ".env"
    environment = {**example_env(**SECRETS), **app["environment"]}  # environment wins
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.deployment is Deployment.PRODUCTION
    assert settings.warren_data_dir == Path("/data")
    assert settings.jwt_secret_key is not None
    assert settings.jwt_secret_key.get_secret_value() == SECRETS["JWT_SECRET_KEY"]
    assert settings.mongo_uri is not None
    assert settings.redis_url is not None
    mongo = parse_uri(settings.mongo_uri.get_secret_value())
    assert mongo["nodelist"] == [("mongodb", 27017)]
    assert mongo["username"] == "warren"
    assert mongo["password"] == "mongoPassw0rd"
    assert mongo["options"]["replicaSet"] == "rs0"
    assert mongo["options"]["authSource"] == "admin"
    assert settings.redis_url.get_secret_value() == "redis://:redisPassw0rd@redis:6379/0"


def test_the_opensandbox_profile_is_optional_and_keeps_execd_off_the_network() -> None:
    services = resolved()["services"]
    server = services["opensandbox"]
    assert server["profiles"] == ["opensandbox"]
    assert services["app"]["depends_on"]["opensandbox"] == {
        "condition": "service_healthy",
        "required": False,
    }
    assert "ports" not in server  # Warren reaches it on the project network only
    assert all("profiles" not in services[name] for name in ("app", "mongodb", "redis"))
    assert server["environment"] == {"OPENSANDBOX_SERVER_API_KEY": ""}  # from .env, not a file
    assert resolved(OPENSANDBOX_API_KEY="k" * 32)["services"]["opensandbox"]["environment"] == {
        "OPENSANDBOX_SERVER_API_KEY": "k" * 32
    }
    config = tomllib.loads((ROOT / "deploy" / "opensandbox" / "sandbox.toml").read_text())
    assert "api_key" not in config["server"]
    assert config["docker"]["publish_host"] == "127.0.0.1"  # execd ports: host loopback only
    assert config["docker"]["network_mode"] == resolved()["networks"]["sandboxes"]["name"]
    assert config["proxy"]["resolve_internal"] is True
    assert config["storage"]["allowed_host_paths"] == []
    assert set(server["networks"]) == {"default", "sandboxes"}
    assert "networks" not in services["app"]  # the app never joins the sandboxes' network


def test_entrypoint_scripts_pass_shellcheck() -> None:
    services = resolved()["services"]  # `$$` is now `$`, as the container's shell sees it
    findings = []
    for name in ("mongodb", "redis"):
        shell, _flags, script = services[name]["entrypoint"]
        findings.append(shellcheck(script, shell, f"{name} entrypoint"))
    assert "".join(findings) == ""


def test_redis_service_command_runs_with_the_password_off_its_command_line(
    tmp_path: Path,
) -> None:
    """The compose `redis` entrypoint, run by its own shell against the real redis-server.
    The image's `docker-entrypoint.sh` (which drops to the redis user) is stood in for by a
    shim that moves the data dir and port to this test's."""
    service = resolved()["services"]["redis"]
    shell, flags, script = service["entrypoint"]
    port = free_port()
    shims = tmp_path / "bin"
    shims.mkdir()
    shim = shims / "docker-entrypoint.sh"
    shim.write_text(
        "#!/bin/sh\n"
        'for arg; do shift; [ "$arg" = /data ] && arg='
        + str(tmp_path)
        + '; set -- "$@" "$arg"; done\n'
        f'exec "$@" --port {port} --bind 127.0.0.1\n'
    )
    shim.chmod(0o755)
    env = {**os.environ, **service["environment"], "PATH": f"{shims}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        [shell, flags, script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = redis.Redis(port=port, password="redisPassw0rd")
        deadline = time.monotonic() + 15
        while True:
            try:
                assert client.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        # exec'd, not forked: redis-server is the process compose signals on `stop`
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert command_line.startswith(b"redis-server")
        assert b"redisPassw0rd" not in command_line
        healthcheck = service["healthcheck"]["test"][1].replace("redis-cli", f"redis-cli -p {port}")
        assert subprocess.run(["sh", "-c", healthcheck], env=env, timeout=10).returncode == 0
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert (tmp_path / "appendonlydir").is_dir()


def test_the_readmes_secret_step_makes_a_startable_env(tmp_path: Path) -> None:
    """README "Run it with Docker Compose": `cp .env.example .env`, then its Python step."""
    readme = (ROOT / "README.md").read_text()
    step = readme.split("python3 - <<'PY'", 1)[1].split("\n", 1)[1].split("\nPY\n", 1)[0]
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    subprocess.run([sys.executable, "-c", step], cwd=tmp_path, check=True, timeout=30)
    env = dotenv(tmp_path / ".env")
    assert len(env["JWT_SECRET_KEY"]) >= 48
    assert env["MONGO_PASSWORD"].isalnum()
    assert env["REDIS_PASSWORD"].isalnum()
    lines = (tmp_path / ".env").read_text().splitlines()
    for secret in SECRETS:  # filled in place: one line each, as .env.example has it
        assert [line for line in lines if line.startswith(f"{secret}=")] == [
            f"{secret}={env[secret]}"
        ]
    app = interpolate(load_yaml(COMPOSE), env)["services"]["app"]
    assert app["environment"]["JWT_SECRET_KEY"] == env["JWT_SECRET_KEY"]


def test_mongodb_entrypoint_makes_one_key_file_and_starts_a_replica_set_member(
    tmp_path: Path,
) -> None:
    """The compose `mongodb` entrypoint, run by bash with /data/configdb bound to a temporary
    directory (bubblewrap). The image's `docker-entrypoint.sh` and the `mongodb` user's
    `chown` are stood in for by shims that record their arguments."""
    bwrap = find_bwrap()
    assert bwrap is not None
    service = resolved()["services"]["mongodb"]
    shell, flags, script = service["entrypoint"]
    configdb, shims = tmp_path / "configdb", tmp_path / "bin"
    configdb.mkdir()
    shims.mkdir()
    for name in ("docker-entrypoint.sh", "chown"):
        (shims / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {tmp_path}/calls\n')
        (shims / name).chmod(0o755)
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    command = [bwrap, *user, "--dev-bind", "/", "/", "--tmpfs", "/data",
               "--bind", str(configdb), "/data/configdb", shell, flags, script]  # fmt: skip
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}

    subprocess.run(command, env=env, check=True, timeout=30)
    key = configdb / "replica.key"
    first = key.read_text()
    assert re.fullmatch(r"[A-Za-z0-9+/]{1008}", first)  # base64, no padding, 756 bytes
    assert key.stat().st_mode & 0o777 == 0o400
    subprocess.run(command, env=env, check=True, timeout=30)  # a restart keeps the key
    assert key.read_text() == first
    calls = (tmp_path / "calls").read_text().splitlines()
    start = "docker-entrypoint.sh mongod --replSet rs0 --keyFile /data/configdb/replica.key"
    assert (
        calls
        == [
            "chown mongodb:mongodb /data/configdb/replica.key",
            f"{start} --bind_ip_all",
        ]
        * 2
    )
