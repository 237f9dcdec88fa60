"""System checks for deploy-time misconfiguration."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def check_channel_layer(app_configs, **kwargs) -> list[Warning]:
    """Without Redis, events never leave the process that wrote them."""
    if not settings.DEBUG and not settings.REDIS_URL:
        return [
            Warning(
                "REDIS_URL is not set: the in-memory channel layer only delivers events inside one process.",
                hint="Set REDIS_URL when running more than one worker.",
                id="fiido.W001",
            )
        ]
    return []
