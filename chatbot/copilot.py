"""The agents' copilot through the configured LLM (``COPILOT=on``): a summary
when an agent takes over, and suggested replies on request.

Both are for agents only, like notes: the summary is stored apart from the
event log (``ConversationSummary``) and published to the session's agents'
group; suggestions are never stored and go to the agents' group under the
asking page's ``request_id``. Neither enters anything a customer reads.

Both run on the background pool (``fiido.background``), after the take-over
commits or the request has been answered (202): no request or stream waits
for the LLM. A failure is logged and shown to the agents as ``failed``; the
agent can ask again.

What leaves the machine per call: the conversation's last
``CONTEXT_MESSAGES`` messages (customer, assistant and agent words; system
messages, notes, names and emails are not sent), and for suggestions the
FAQ in the customer's language and the asking agent's canned replies.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from django.conf import settings

from chatbot import cards
from chatbot.bots import llm
from chatbot.exceptions import CopilotOff
from chatbot.models import ChatSession, ConversationSummary, FaqEntry, Message
from fiido import background

logger = logging.getLogger(__name__)

Role = Message.Role

CONTEXT_MESSAGES = 30  # the conversation's tail the model reads
MAX_SUGGESTIONS = 3
MAX_SUMMARY_LINE_CHARS = 300
MAX_CANNED_IN_PROMPT = 20

SUMMARY_PROMPT = """You help a customer-service agent of Fiido (electric bikes) who is taking over a chat.
Summarise the conversation below in exactly three short lines, written in {language}:
1. what the customer wants; 2. the order numbers mentioned (or "none"); 3. what the assistant already said.
Reply with a JSON object and nothing else: {{"lines": ["...", "...", "..."]}}"""

SUGGESTIONS_PROMPT = """You help a customer-service agent of Fiido (electric bikes) answer a customer.
Suggest up to three different short replies the agent could send next, written in {language}.
Use only facts from the conversation, the FAQ and the canned replies below; never invent orders,
dates, prices or links. Reply with a JSON object and nothing else: {{"suggestions": ["...", "..."]}}

FAQ:
{faq}

Canned replies:
{canned}"""


class NotAnAnswer(llm.LLMError):
    """The model answered, but not with the JSON asked for."""


def enabled() -> bool:
    """The copilot is on and has an endpoint (``fiido.W005`` warns otherwise)."""
    return bool(settings.COPILOT and settings.LLM_BASE_URL and settings.LLM_MODEL)


# ---------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------
def schedule_summary(session: ChatSession, *, language: str, again: bool = False) -> bool:
    """After the current transaction commits, summarise ``session`` in
    ``language`` for its agents: once (at take-over, quietly nothing while
    the copilot is off), or ``again`` (asked for: ``CopilotOff`` while off)."""
    if not enabled():
        if again:
            raise CopilotOff()
        return False
    if not again and ConversationSummary.objects.filter(session=session).exists():
        return False
    if not again:
        background.run_after_commit(summarise, session.pk, language)
        return True
    # Asked for by an agent (no transaction to wait for): a full pool says so, as a failure
    # would, rather than leaving the page "Summarising…" for ever.
    if background.submit(summarise, session.pk, language) is None:
        from chatbot import conversations

        conversations.copilot_failed(session, what="summary")
        return False
    return True


def summarise(session_id: int, language: str) -> dict[str, Any] | None:
    """Ask the LLM for the summary, store it and show it to the agents; None if it failed."""
    from chatbot import conversations  # the state machine schedules this module's jobs

    session = ChatSession.objects.filter(pk=session_id).first()
    if session is None or not enabled():
        return None
    history = _tail(session)
    try:
        answer = _ask(SUMMARY_PROMPT.format(language=_language_name(language)), _transcript(history))
        lines = _strings(answer, "lines", limit=3, max_chars=MAX_SUMMARY_LINE_CHARS)
    except (httpx.HTTPError, llm.LLMError) as error:
        logger.warning("The summary of session %s failed: %s", session.name, error)
        conversations.copilot_failed(session, what="summary")
        return None
    return conversations.save_summary(session, text="\n".join(lines), upto_seq=session.last_seq)


def stored_summary(session: ChatSession) -> dict[str, Any] | None:
    """The summary stored for ``session`` (agents only), or None."""
    from chatbot import payloads

    summary = ConversationSummary.objects.filter(session=session).first()
    return payloads.summary_payload(summary) if summary else None


# ---------------------------------------------------------------------------
# Suggested replies
# ---------------------------------------------------------------------------
def schedule_suggestions(session: ChatSession, *, agent_language: str, canned: Sequence[str] = ()) -> str:
    """Ask for up to three suggested replies off the request path and return
    the request's id; they arrive on the agents' streams as a ``suggestions``
    notice with it. Written in the agent's language when ``TRANSLATION`` will
    carry them to the customer, else in the customer's. ``CopilotOff`` while off."""
    if not enabled():
        raise CopilotOff()
    request_id = str(uuid.uuid4())
    language = agent_language if settings.TRANSLATION else session.language
    if background.submit(suggest, session.pk, request_id, language, list(canned)[:MAX_CANNED_IN_PROMPT]) is None:
        from chatbot import conversations

        conversations.offer_suggestions(session, request_id=request_id, suggestions=None)  # busy: ask again
    return request_id


def suggest(session_id: int, request_id: str, language: str, canned: list[str]) -> list[str] | None:
    """Ask the LLM for suggestions and hand them to the agents' pages; None if it failed."""
    from chatbot import conversations

    session = ChatSession.objects.filter(pk=session_id).first()
    if session is None or not enabled():
        return None
    prompt = SUGGESTIONS_PROMPT.format(
        language=_language_name(language),
        faq=_faq(session.language) or "(none)",
        canned="\n".join(f"- {text}" for text in canned) or "(none)",
    )
    try:
        answer = _ask(prompt, _transcript(_tail(session)))
        suggestions = _strings(answer, "suggestions", limit=MAX_SUGGESTIONS, max_chars=settings.MESSAGE_MAX_CHARS)
    except (httpx.HTTPError, llm.LLMError) as error:
        logger.warning("Suggestions for session %s failed: %s", session.name, error)
        conversations.offer_suggestions(session, request_id=request_id, suggestions=None)
        return None
    conversations.offer_suggestions(session, request_id=request_id, suggestions=suggestions)
    return suggestions


# ---------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------
def _tail(session: ChatSession) -> list[Message]:
    roles = (Role.USER, Role.BOT, Role.AGENT)
    recent = Message.objects.filter(session=session, role__in=roles).order_by("-id")[:CONTEXT_MESSAGES]
    return list(recent)[::-1]


def _transcript(history: Sequence[Message]) -> str:
    """The conversation as plain lines ("Customer: …"); cards by their titles, no names."""
    speakers = {Role.USER: "Customer", Role.BOT: "Assistant", Role.AGENT: "Agent"}
    return "\n".join(f"{speakers[m.role]}: {cards.plain_text(m.content)}" for m in history) or "(empty)"


def _faq(language: str) -> str:
    entries = FaqEntry.objects.filter(is_active=True, language__in={language, settings.LANGUAGE_CODE})
    return "\n".join(f"Q: {e.question}\nA: {e.answer}" for e in entries.order_by("topic")[:30])


def _language_name(code: str) -> str:
    return f"{dict(settings.LANGUAGES).get(code, code)} ({code})"


def _ask(system: str, user: str) -> Any:
    body = {
        "model": settings.LLM_MODEL,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "temperature": 0.3,
    }
    deadline = time.monotonic() + settings.COPILOT_TIMEOUT_SECONDS

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpx.TimeoutException(f"longer than COPILOT_TIMEOUT_SECONDS={settings.COPILOT_TIMEOUT_SECONDS}")
        return left

    url = f"{settings.LLM_BASE_URL.rstrip('/')}/chat/completions"
    message = llm.chat_completion(llm.pooled_client(), url, body, remaining=remaining)
    content = message.get("content")
    if not isinstance(content, str):
        raise NotAnAnswer("the answer has no text")
    raw = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", raw, re.DOTALL)
    try:
        return json.loads(fenced.group(1) if fenced else raw)
    except ValueError:
        raise NotAnAnswer(f"not JSON: {raw[:80]!r}") from None


def _strings(answer: Any, key: str, *, limit: int, max_chars: int) -> list[str]:
    values = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(values, list):
        raise NotAnAnswer(f"no {key!r} list in the answer")
    strings = [value.strip()[:max_chars] for value in values if isinstance(value, str) and value.strip()]
    if not strings:
        raise NotAnAnswer(f"an empty {key!r} list")
    return strings[:limit]
