"""Settings: one `Settings` object read from the environment (and `.env`)."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from warren.errors import ConfigError

# Values people copy from examples and forget to change.
_PLACEHOLDER_SECRETS = {
    "",
    "change-me",
    "changeme",
    "change-this",
    "change_me",
    "secret",
    "your-secret-key",
    "replace-me",
    "please-change-me",
}
MIN_SECRET_LENGTH = 32


class Deployment(StrEnum):
    EMBEDDED = "embedded"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Everything Warren reads from its environment. See `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # model
    model_provider: Literal["openai", "anthropic"] = "openai"
    model_name: str = "gpt-4.1-mini"
    model_base_url: str | None = None
    model_api_key: SecretStr | None = None
    model_extra_names: Annotated[list[str], NoDecode] = Field(default_factory=list)
    model_timeout_seconds: float = Field(default=120.0, gt=0)
    model_max_retries: int = Field(default=2, ge=0)

    # storage: unset means embedded SQLite / in-process
    mongo_uri: SecretStr | None = None
    mongo_db_name: str = "warren"
    redis_url: SecretStr | None = None
    warren_data_dir: Path = Path("./data")

    # auth
    jwt_secret_key: SecretStr | None = None
    access_token_expire_minutes: int = Field(default=30, gt=0)
    refresh_token_expire_days: int = Field(default=30, gt=0)
    warren_allow_registration: bool = True
    login_rate_limit: int = Field(default=10, gt=0)
    login_rate_limit_per_ip: int = Field(default=50, gt=0)
    login_rate_window_seconds: int = Field(default=300, gt=0)

    # HTTP
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    warren_forwarded_allow_ips: str = "127.0.0.1"
    warren_max_body_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    warren_client_dir: Path | None = None  # the built web client; default: client/dist

    # runs
    run_event_retention_hours: float = Field(default=24.0, gt=0)
    run_lock_ttl_seconds: float = Field(default=30.0, ge=3)
    run_max_queued: int = Field(default=10, ge=1)  # `enqueue` runs waiting per thread
    run_subscriber_buffer: int = Field(default=1000, ge=10)  # events buffered per SSE client
    hitl_tools: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # tools
    public_url: str | None = None  # e.g. https://warren.example.com; links are absolute then
    download_url_ttl_seconds: int = Field(default=3600, gt=0)
    document_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    pdf_cjk_font: Path | None = None  # a TrueType font to embed; default: search known paths
    tavily_api_key: SecretStr | None = None
    tavily_base_url: str = "https://api.tavily.com"
    search_max_results: int = Field(default=5, ge=1, le=20)
    search_timeout_seconds: float = Field(default=30.0, gt=0)
    warren_fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    fetch_timeout_seconds: float = Field(default=60.0, gt=0)  # one whole server-side fetch
    # MongoDB keeps the archive in one document (16 MB cap): stay under it with room to spare
    skill_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, le=15 * 1024 * 1024)
    skill_max_unpacked_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    skill_max_files: int = Field(default=1000, gt=0)
    mcp_config: str | None = None  # a JSON file's path, or the JSON itself
    mcp_timeout_seconds: float = Field(default=15.0, gt=0)
    mcp_call_timeout_seconds: float = Field(default=300.0, gt=0)

    # sandboxes
    sandbox_provider: Literal["local", "opensandbox"] = "local"
    # a Kubernetes label value: OpenSandbox stores metadata as labels
    sandbox_owner: str = Field(
        default="warren", pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
    )
    sandbox_timeout_hours: float = Field(default=24.0, gt=0)
    sandbox_idle_reap_hours: float = Field(default=0.0, ge=0)  # 0: never reap idle sandboxes
    sandbox_command_timeout_seconds: float = Field(default=300.0, gt=0)
    sandbox_max_output_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    sandbox_max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    sandbox_local_network: bool = False
    sandbox_local_allow_unisolated: bool = False
    sandbox_local_bwrap: str | None = None  # default: the system bwrap, else the bundled one
    sandbox_local_memory_mb: int = Field(default=4096, ge=0)  # 0: no limit
    sandbox_local_max_processes: int = Field(default=512, ge=0)  # 0: no limit
    opensandbox_server_url: str | None = None
    opensandbox_api_key: SecretStr | None = None
    opensandbox_image: str = "python:3.12-slim"
    opensandbox_cpu: str = "1"
    opensandbox_memory: str = "2Gi"
    opensandbox_request_timeout_seconds: float = Field(default=30.0, gt=0)
    opensandbox_warm_pool_size: int = Field(default=0, ge=0)
    opensandbox_use_server_proxy: bool = False

    # logging
    warren_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    warren_log_format: Literal["json", "console"] = "json"

    @field_validator(
        "cors_origins",
        "model_extra_names",
        "hitl_tools",
        "warren_fetch_allow_hosts",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("warren_log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(
        "model_base_url",
        "opensandbox_server_url",
        "sandbox_local_bwrap",
        "warren_client_dir",
        "public_url",
        "mcp_config",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "model_api_key",
        "mongo_uri",
        "redis_url",
        "jwt_secret_key",
        "opensandbox_api_key",
        "tavily_api_key",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def deployment(self) -> Deployment:
        if self.mongo_uri is not None or self.redis_url is not None:
            return Deployment.PRODUCTION
        return Deployment.EMBEDDED

    @model_validator(mode="after")
    def _provider_needs_server(self) -> Settings:
        if self.sandbox_provider == "opensandbox" and self.opensandbox_server_url is None:
            raise ValueError("SANDBOX_PROVIDER=opensandbox needs OPENSANDBOX_SERVER_URL")
        return self

    @property
    def model_configured(self) -> bool:
        return self.model_api_key is not None

    @property
    def model_names(self) -> list[str]:
        """The configured model names: the default first, no duplicates."""
        names = [self.model_name]
        names.extend(n for n in self.model_extra_names if n not in names)
        return names


def _is_placeholder(secret: str) -> bool:
    return secret.strip().lower() in _PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH


def ensure_jwt_secret(settings: Settings) -> str:
    """Return the JWT secret, refusing weak ones in production.

    Production (Mongo or Redis configured) demands a real `JWT_SECRET_KEY`: several
    replicas must share it. Embedded mode uses `JWT_SECRET_KEY` when it is set and
    strong, and otherwise generates one on first start and keeps it in the data dir.
    """
    configured = settings.jwt_secret_key.get_secret_value() if settings.jwt_secret_key else None
    if configured is not None and not _is_placeholder(configured):
        return configured
    if settings.deployment is Deployment.PRODUCTION:
        raise ConfigError(
            "JWT_SECRET_KEY is missing or a placeholder; production mode (MONGO_URI or "
            f"REDIS_URL set) needs a random secret of at least {MIN_SECRET_LENGTH} characters, "
            'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    if configured is not None:
        raise ConfigError(
            f"JWT_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
            "unset it to let Warren generate one, or set a random secret"
        )
    return _stored_secret(settings.warren_data_dir / "jwt_secret")


def _stored_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if _is_placeholder(secret):
            raise ConfigError(f"{path} holds no usable secret; delete it to regenerate") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return secret
