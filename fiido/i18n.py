"""Which language each reader gets.

Customers read the shop's languages (``settings.CUSTOMER_LANGUAGES``), agents
theirs (``settings.AGENT_LANGUAGES``); the workbench and the admin are the
agents' side, everything else the customers'. One set of rules serves the
pages (``LanguageMiddleware``) and the raw stream endpoints (which bypass
Django's middleware), so a page and its stream always speak alike:

* a customer's language is ``?lang=`` (which the page then remembers in the
  ``fiido_lang`` cookie: a cookie, not the session, so a page view still
  stores nothing), else that cookie, else the best of ``Accept-Language``,
  else English;
* an agent's is the one they chose in the workbench header (kept on the
  agent, ``AgentPreferences``, and copied into their login session so no
  request pays a query for it), else the best of ``Accept-Language``, else
  English.

Times are not rendered here: pages show every ``<time datetime>`` in the
reader's own time zone and locale format (``static/fiido/live.js``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

LANGUAGE_COOKIE = "fiido_lang"  # the customer's choice (?lang= or the picker)
SESSION_LANGUAGE_KEY = "fiido_language"  # an agent's choice, copied into their login session
AGENT_PATHS = ("/workbench/", "/admin/")


def best_match(accept_language: str | None, supported: Sequence[str]) -> str | None:
    """The first language of an ``Accept-Language`` header that ``supported``
    has (``de-AT`` is ``de``; ``zh``, ``zh-CN`` and ``zh-Hans`` are ``zh-hans``)."""
    if not accept_language:
        return None
    for code, _quality in parse_accept_lang_header(accept_language[:500]):
        match = supported_variant(code, supported)
        if match:
            return match
    return None


def supported_variant(code: str | None, supported: Sequence[str]) -> str | None:
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code in supported:
        return code
    if code == "zh" or code.startswith(("zh-cn", "zh-sg", "zh-hans")):
        return "zh-hans" if "zh-hans" in supported else None
    base = code.split("-")[0]
    return base if base in supported and base != "zh" else None


def customer_language(*, query: str | None, cookie: str | None, accept_language: str | None) -> str:
    supported = settings.CUSTOMER_LANGUAGES
    return (
        supported_variant(query, supported)
        or supported_variant(cookie, supported)
        or best_match(accept_language, supported)
        or settings.LANGUAGE_CODE
    )


def agent_language(*, chosen: str | None, accept_language: str | None) -> str:
    supported = settings.AGENT_LANGUAGES
    return supported_variant(chosen, supported) or best_match(accept_language, supported) or settings.LANGUAGE_CODE


def is_agent_path(path: str) -> bool:
    return path.startswith(AGENT_PATHS)


class LanguageMiddleware:
    """Django's ``LocaleMiddleware``, with a language set per side (see the module docstring).

    Sync-only, like the rest of the chain (``fiido.ratelimits``): Django then
    runs the whole chain in one thread per request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        accept = request.headers.get("Accept-Language")
        query = request.GET.get("lang")
        if is_agent_path(request.path):
            language = agent_language(chosen=request.session.get(SESSION_LANGUAGE_KEY), accept_language=accept)
        else:
            language = customer_language(
                query=query, cookie=request.COOKIES.get(LANGUAGE_COOKIE), accept_language=accept
            )
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        if not is_agent_path(request.path) and supported_variant(query, settings.CUSTOMER_LANGUAGES):
            # The picker's (or a link's) choice outlives this page: the stream and later pages follow it.
            response.set_cookie(
                LANGUAGE_COOKIE,
                language,
                max_age=365 * 24 * 3600,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response


def languages(request: HttpRequest) -> dict[str, list[tuple[str, str]]]:
    """Context processor: ``languages``, the (code, name) choices of the side the page is on."""
    names = dict(settings.LANGUAGES)
    codes = settings.AGENT_LANGUAGES if is_agent_path(request.path) else settings.CUSTOMER_LANGUAGES
    return {"languages": [(code, names.get(code, code)) for code in codes]}
