"""Settings: deployment choice, list parsing, and where the JWT secret comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.deploy.files import ROOT, load_yaml, variables
from tests.helpers import make_settings
from warren.config import Deployment, Settings, ensure_jwt_secret
from warren.errors import ConfigError

STRONG = "s" * 48


def test_embedded_mode_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    assert settings.deployment is Deployment.EMBEDDED
    first = ensure_jwt_secret(settings)
    assert len(first) >= 32
    assert ensure_jwt_secret(make_settings(tmp_path / "data")) == first
    assert (tmp_path / "data" / "jwt_secret").stat().st_mode & 0o777 == 0o600
    assert ensure_jwt_secret(make_settings(tmp_path / "other")) != first


def test_embedded_mode_uses_a_strong_configured_secret(tmp_path: Path) -> None:
    assert ensure_jwt_secret(make_settings(tmp_path, jwt_secret_key=STRONG)) == STRONG
    assert not (tmp_path / "jwt_secret").exists()


@pytest.mark.parametrize("secret", ["change-me", "secret", "short-but-random-123"])
def test_weak_secrets_are_refused_everywhere(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ConfigError):
        ensure_jwt_secret(make_settings(tmp_path, jwt_secret_key=secret))
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY is missing or a placeholder"):
        ensure_jwt_secret(make_settings(tmp_path, redis_url="redis://x", jwt_secret_key=secret))


def test_production_mode_requires_a_secret(tmp_path: Path) -> None:
    for storage in ({"mongo_uri": "mongodb://x"}, {"redis_url": "redis://x"}):
        settings = make_settings(tmp_path, **storage)
        assert settings.deployment is Deployment.PRODUCTION
        with pytest.raises(ConfigError):
            ensure_jwt_secret(settings)
        assert (
            ensure_jwt_secret(make_settings(tmp_path, jwt_secret_key=STRONG, **storage)) == STRONG
        )
    assert not (tmp_path / "jwt_secret").exists()


def test_settings_read_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("MODEL_NAME", "m1")
    monkeypatch.setenv("MODEL_EXTRA_NAMES", "m2,m1,m3")
    monkeypatch.setenv("MODEL_API_KEY", "")
    monkeypatch.setenv("MONGO_URI", "")
    monkeypatch.setenv("WARREN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WARREN_LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.model_names == ["m1", "m2", "m3"]
    assert settings.model_api_key is None
    assert not settings.model_configured
    assert settings.deployment is Deployment.EMBEDDED
    assert settings.warren_data_dir == tmp_path
    assert settings.warren_log_level == "DEBUG"


def test_invalid_settings_are_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARREN_LOG_LEVEL", "chatty")
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "0")
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)  # type: ignore[call-arg]
    names = {str(error["loc"][0]) for error in raised.value.errors()}
    assert names == {"warren_log_level", "access_token_expire_minutes"}


def test_env_example_documents_every_setting() -> None:
    example = Path(__file__).parent.parent / ".env.example"
    documented = {
        line.split("=", 1)[0].strip().lower()
        for line in example.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    # and the variables only docker-compose.yml reads (its secrets, ports, image, profiles)
    compose = {name.lower() for name in variables(load_yaml(ROOT / "docker-compose.yml"))}
    assert documented == set(Settings.model_fields) | compose | {"compose_profiles"}


def test_env_example_as_is_starts_an_embedded_server_without_a_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    example = Path(__file__).parent.parent / ".env.example"
    settings = Settings(_env_file=example)  # type: ignore[call-arg]
    assert settings.deployment is Deployment.EMBEDDED
    assert not settings.model_configured
    assert settings.model_names == ["gpt-4.1-mini"]
    assert settings.cors_origins == []
    assert settings.warren_data_dir == Path("./data")


def test_skill_archives_are_capped_below_mongodbs_document_limit(tmp_path: Path) -> None:
    """The archive is stored in one MongoDB document (16 MB): 15 MiB is the most allowed."""
    assert make_settings(tmp_path, skill_max_bytes=15 * 1024 * 1024).skill_max_bytes == (
        15 * 1024 * 1024
    )
    with pytest.raises(ValidationError) as raised:
        make_settings(tmp_path, skill_max_bytes=16 * 1024 * 1024)
    assert [str(error["loc"][0]) for error in raised.value.errors()] == ["skill_max_bytes"]
