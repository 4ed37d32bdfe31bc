"""Chat models from settings: both providers are built, and their failures are named."""

from __future__ import annotations

from pathlib import Path

from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI

from tests.helpers import Api, make_settings, running_warren
from tests.services import free_port
from warren.agent.model import chat_model


def test_each_provider_gets_its_client(tmp_path: Path) -> None:
    openai = chat_model(
        make_settings(tmp_path, model_api_key="k", model_base_url="http://x/v1"), "m"
    )
    assert isinstance(openai, ChatOpenAI)
    assert openai.model_name == "m"
    assert openai.openai_api_base == "http://x/v1"
    assert openai.stream_usage
    assert not openai.use_responses_api
    anthropic = chat_model(
        make_settings(tmp_path, model_provider="anthropic", model_api_key="k"), "claude-x"
    )
    assert isinstance(anthropic, ChatAnthropic)
    assert anthropic.model == "claude-x"


async def test_an_unreachable_anthropic_endpoint_is_reported_as_such(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        model_provider="anthropic",
        model_name="claude-test",
        model_api_key="sk-ant-test",
        model_base_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        ready = (await api.http.get("/readyz")).json()
        assert ready["checks"]["model"]["detail"] == "anthropic: claude-test"
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "hello")
        errors = [f.data for f in stream.frames if f.event == "error"]
        assert [e["code"] for e in errors] == ["model_unreachable"]
        assert stream.frames[-1].data["status"] == "error"
        await api.aclose()
