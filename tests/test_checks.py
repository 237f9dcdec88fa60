"""System checks warn about settings that silently break delivery or the bot."""

from __future__ import annotations

from fiido.checks import check_channel_layer, check_llm_settings


def test_no_redis_with_debug_off_warns(settings):
    settings.DEBUG = False
    settings.REDIS_URL = ""
    assert [w.id for w in check_channel_layer(None)] == ["fiido.W001"]
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert check_channel_layer(None) == []


def test_the_llm_bot_without_an_endpoint_warns(settings):
    settings.CHATBOT_BACKEND = "chatbot.bots.llm.LLMBot"
    settings.LLM_BASE_URL = ""
    assert [w.id for w in check_llm_settings(None)] == ["fiido.W002"]
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_MODEL = "some-model"
    assert check_llm_settings(None) == []


def test_translation_or_the_copilot_without_an_endpoint_warns(settings):
    from fiido.checks import check_copilot_settings

    settings.LLM_BASE_URL = ""
    settings.TRANSLATION = False
    settings.COPILOT = False
    assert check_copilot_settings(None) == []
    settings.TRANSLATION = True
    assert [w.id for w in check_copilot_settings(None)] == ["fiido.W005"]
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_MODEL = "some-model"
    assert check_copilot_settings(None) == []
