"""What an agent chose for their workbench."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def agent_language_choices() -> list[tuple[str, str]]:
    """The agents' languages (``settings.AGENT_LANGUAGES``), named as in ``settings.LANGUAGES``."""
    names = dict(settings.LANGUAGES)
    return [(code, names.get(code, code)) for code in settings.AGENT_LANGUAGES]


class AgentPreferences(models.Model):
    """An agent's own settings; without a language, the browser's is used."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_preferences")
    language = models.CharField(max_length=10, blank=True, choices=agent_language_choices)

    class Meta:
        verbose_name_plural = "agent preferences"

    def __str__(self) -> str:
        return f"{self.user} ({self.language or 'browser'})"
