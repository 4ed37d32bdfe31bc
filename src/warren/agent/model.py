"""Chat models from settings: any OpenAI-compatible endpoint, or Anthropic."""

from __future__ import annotations

import httpx
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from warren.config import Settings


def chat_model(
    settings: Settings,
    name: str,
    *,
    api_key: SecretStr | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> BaseChatModel:
    """The chat model `name` at the configured provider, with `MODEL_API_KEY` by default.

    `http_client` (OpenAI-compatible only) lets the caller own, and close, the connections.
    """
    key = api_key or settings.model_api_key
    assert key is not None
    if settings.model_provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(
            model=name,
            api_key=key,
            base_url=settings.model_base_url,
            timeout=settings.model_timeout_seconds,
            max_retries=settings.model_max_retries,
            stream_usage=True,
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=name,
        api_key=key,
        base_url=settings.model_base_url,
        timeout=settings.model_timeout_seconds,
        max_retries=settings.model_max_retries,
        stream_usage=True,
        http_async_client=http_client,
        # Chat Completions: the API every OpenAI-compatible server speaks.
        use_responses_api=False,
    )
