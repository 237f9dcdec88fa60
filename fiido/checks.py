"""System checks for deploy-time misconfiguration."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def check_channel_layer(app_configs, **kwargs) -> list[Warning]:
    """Without Redis, events never leave the process that wrote them."""
    from fiido.redis_config import configured_hosts

    if not settings.DEBUG and not configured_hosts():
        return [
            Warning(
                "Neither REDIS_URL nor REDIS_SENTINELS is set: the in-memory channel layer only delivers events "
                "inside one process.",
                hint="Set REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER) when running more than one worker.",
                id="fiido.W001",
            )
        ]
    return []


@register()
def check_llm_settings(app_configs, **kwargs) -> list[Warning]:
    """The LLM bot without an endpoint answers every customer with an apology."""
    if settings.CHATBOT_BACKEND.endswith(".llm.LLMBot") and not (settings.LLM_BASE_URL and settings.LLM_MODEL):
        return [
            Warning(
                "CHATBOT_BACKEND is the LLM bot but LLM_BASE_URL or LLM_MODEL is not set.",
                hint="Set LLM_BASE_URL, LLM_MODEL (and LLM_API_KEY), or use the built-in bot.",
                id="fiido.W002",
            )
        ]
    return []


@register(deploy=True)
def check_site_url(app_configs, **kwargs) -> list[Warning]:
    """Emails to customers (replies to offline requests) link back by SITE_URL."""
    if not settings.DEBUG and not settings.SITE_URL.startswith(("https://", "http://")):
        return [
            Warning(
                "SITE_URL is not set: the links in emails to customers would not open anything.",
                hint="Set SITE_URL to the address customers reach the desk at, e.g. https://desk.example.com.",
                id="fiido.W004",
            )
        ]
    return []


@register()
def check_copilot_settings(app_configs, **kwargs) -> list[Warning]:
    """Translation and the copilot go through the LLM endpoint; without one they do nothing."""
    switched_on = [name for name in ("TRANSLATION", "COPILOT") if getattr(settings, name)]
    if switched_on and not (settings.LLM_BASE_URL and settings.LLM_MODEL):
        return [
            Warning(
                f"{' and '.join(switched_on)} on, but LLM_BASE_URL or LLM_MODEL is not set: nothing is translated, "
                "summarised or suggested.",
                hint="Set LLM_BASE_URL and LLM_MODEL (and LLM_API_KEY), or switch them off.",
                id="fiido.W005",
            )
        ]
    return []
