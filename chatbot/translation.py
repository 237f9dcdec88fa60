"""Machine translation of messages through the configured LLM (``TRANSLATION=on``).

Who reads what (the audience rule, one function: ``targets``):

* a customer's message is translated into every agent language
  (``settings.AGENT_LANGUAGES``) other than the conversation's, for agents
  only: it is published to the agents' group of the session, and history
  carries it only to agents' readers;
* an agent's message, written in the agent's language, is translated into
  the conversation's language for the customer (who also sees that it was
  machine-translated and can open the original); agents keep the original.

Nothing here is on a request or stream path: the state machine commits and
publishes the message first, then ``schedule`` hands each translation to
the background pool (``fiido.background``). The job keeps a row per message
and language (``MessageTranslation``): empty while missing, filled once by
a conditional update, so a late retry and the first try cannot both publish.
A failure (time-out, 429, an answer that is not a translation, or one in
the wrong language) leaves the row empty: agents see "translation missing"
and ``fill_missing`` (a periodic job) asks again later. A 429's
``Retry-After`` pauses every call of this process until it has passed.

What leaves the machine per call: the message's text, the two language
names, and nothing else (no names, emails, orders or earlier messages).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chatbot import payloads
from chatbot.bots import llm
from chatbot.models import Attachment, ChatSession, Message, MessageTranslation
from fiido import background

logger = logging.getLogger(__name__)

Role = Message.Role

RETRY_WINDOW = timedelta(days=1)  # older messages are not translated again: nobody is reading them live
RETRY_BATCH = 50  # translations asked for per retry round; the next round takes the rest
MIN_LETTERS_TO_CHECK = 4  # a text shorter than this ("OK", "👍") cannot be told apart by its script

SYSTEM_PROMPT = """You translate customer-service chat messages.
Translate the user's message from {source} into {target}. Keep the meaning, the tone, names,
numbers, order numbers, links and emoji exactly. Do not answer the message, only translate it.
Reply with a JSON object and nothing else: {{"language": "{code}", "translation": "..."}}"""

_pause_lock = threading.Lock()
_filling = threading.Lock()  # held while this process runs a retry round
_paused_until = 0.0  # time.monotonic(): a 429 asked this process to wait until then


class NotATranslation(llm.LLMError):
    """The model answered, but not with a usable translation into the language asked for."""


def enabled() -> bool:
    """Translation is on and has an endpoint (``fiido.W005`` warns otherwise)."""
    return bool(settings.TRANSLATION and settings.LLM_BASE_URL and settings.LLM_MODEL)


def targets(message: Message, session: ChatSession, *, source_language: str) -> list[str]:
    """The languages ``message`` is translated into, and so who may read it (module docstring)."""
    if message.role == Role.USER:
        return [code for code in settings.AGENT_LANGUAGES if code != session.language]
    if message.role == Role.AGENT and source_language != session.language:
        return [session.language]
    return []


def schedule(message: Message, session: ChatSession, *, source_language: str | None = None) -> None:
    """After the current transaction commits, translate ``message`` off the request path.

    ``source_language`` is what it was written in: the conversation's for a
    customer, the agent's chosen language for an agent. Photos and files are
    never translated.
    """
    if not enabled() or message.role not in (Role.USER, Role.AGENT):
        return
    source = source_language or session.language
    for language in targets(message, session, source_language=source):
        background.run_after_commit(translate, message.pk, language, source)


def translate(message_id: int, language: str, source_language: str) -> bool:
    """Translate one message into ``language``, store it and tell its readers.

    True when it is stored (now or before); False when it is missing for
    now (the LLM failed, is paused after a 429, or translation is off).
    """
    from chatbot import conversations  # the state machine schedules this module's jobs

    if not enabled():
        return False
    message = Message.objects.select_related("session").filter(pk=message_id).first()
    if message is None or Attachment.objects.filter(message_id=message_id).exists():
        return False
    # The row first, even while paused: it keeps the source language (an agent's is stored
    # nowhere else), so the periodic retry can make up a translation this job could not.
    row, _ = MessageTranslation.objects.get_or_create(
        message=message, language=language, defaults={"source_language": source_language, "text": ""}
    )
    if row.text:
        return True
    if paused():
        return False
    try:
        text = ask(message.content, source=row.source_language, target=language)
    except llm.RateLimited as limited:
        pause(limited.retry_after)
        logger.warning("Translation paused for %g s: the LLM endpoint answered 429", limited.retry_after)
        conversations.translation_missing(message, row)
        return False
    except (httpx.HTTPError, llm.LLMError) as error:
        logger.warning("Translation of message %s into %s failed: %s", message_id, language, error)
        conversations.translation_missing(message, row)
        return False
    return (
        conversations.add_translation(message, row, text=text)
        or MessageTranslation.objects.filter(pk=row.pk).exclude(text="").exists()
    )


def ask(text: str, *, source: str, target: str) -> str:
    """``text`` translated from ``source`` into ``target`` by the LLM, checked.

    Raises ``NotATranslation`` for an answer that is not the JSON asked for,
    says another language, or is in the wrong script (Chinese asked, none
    given; a Latin-script language asked, mostly Chinese given): such an
    answer is treated as a failure, never shown (README "Agent copilot").
    """
    names = dict(settings.LANGUAGES)
    prompt = SYSTEM_PROMPT.format(
        source=f"{names.get(source, source)} ({source})", target=f"{names.get(target, target)} ({target})", code=target
    )
    body = {
        "model": settings.LLM_MODEL,
        "messages": [{"role": "system", "content": prompt}, {"role": "user", "content": text}],
        "temperature": 0,
    }
    deadline = time.monotonic() + settings.COPILOT_TIMEOUT_SECONDS
    answer = llm.chat_completion(llm.pooled_client(), _url(), body, remaining=lambda: _remaining(deadline))
    return checked_translation(answer.get("content"), target)


def checked_translation(content: Any, target: str) -> str:
    """The translation in a model's answer, or ``NotATranslation``."""
    if not isinstance(content, str):
        raise NotATranslation("the answer has no text")
    raw = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", raw, re.DOTALL)  # models like code fences
    try:
        data = json.loads(fenced.group(1) if fenced else raw)
    except ValueError:
        raise NotATranslation(f"not JSON: {raw[:80]!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("translation"), str):
        raise NotATranslation(f"no translation in {raw[:80]!r}")
    translated = data["translation"].strip()[: settings.MESSAGE_MAX_CHARS]
    if not translated:
        raise NotATranslation("an empty translation")
    said = str(data.get("language", "")).lower()
    if said and said.split("-")[0] != target.split("-")[0]:
        raise NotATranslation(f"answered in {said!r}, not {target!r}")
    if not in_script_of(translated, target):
        raise NotATranslation(f"not written in {target!r}: {translated[:80]!r}")
    return translated


def in_script_of(text: str, language: str) -> bool:
    """Whether ``text`` is plausibly in ``language`` by its script: Chinese must
    contain Han characters; the shop's Latin-script languages may not be mostly Han.
    (Telling German from French is left to the model's own ``language`` answer.)"""
    letters = [char for char in text if char.isalpha()]
    if len(letters) < MIN_LETTERS_TO_CHECK:
        return True
    han = sum(1 for char in letters if "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff")
    if language.startswith("zh"):
        return han > 0
    return han * 2 < len(letters)


def retry_missing() -> None:
    """The periodic job: one round of ``fill_missing`` on the background pool.

    Periodic jobs run on the workers' shared database threads, which streams
    need; LLM calls must never hold them. A round still running in this
    process makes the next one skip.
    """
    if enabled() and not paused() and not _filling.locked():
        background.submit(_fill_round)


def _fill_round() -> None:
    if _filling.acquire(blocking=False):
        try:
            fill_missing()
        finally:
            _filling.release()


def fill_missing() -> int:
    """Ask again for the translations of the last day that are missing (a periodic job).

    Rows left empty by a failure, and customers' messages that never got a
    row (the process died before its job ran). Returns how many were stored.
    """
    if not enabled() or paused():
        return 0
    since = timezone.now() - RETRY_WINDOW
    stored = 0
    # Newest first: a few that keep failing must not stop the later ones from being retried.
    empty = MessageTranslation.objects.filter(text="", message__created_at__gte=since).order_by("-id")
    for message_id, language, source in empty.values_list("message_id", "language", "source_language")[:RETRY_BATCH]:
        stored += translate(message_id, language, source)
        if paused():
            return stored
    for language in settings.AGENT_LANGUAGES:
        untouched = (
            Message.objects.filter(role=Role.USER, created_at__gte=since)
            .exclude(session__status=ChatSession.Status.CLOSED)
            .exclude(session__language=language)
            .filter(~Exists(MessageTranslation.objects.filter(message=OuterRef("pk"), language=language)))
            .filter(~Exists(Attachment.objects.filter(message=OuterRef("pk"))))
            .select_related("session")
            .order_by("id")
        )
        for message in untouched[:RETRY_BATCH]:
            stored += translate(message.pk, language, message.session.language)
            if paused():
                return stored
    return stored


def attach(messages: list[dict[str, Any]], *, language: str, for_agents: bool) -> list[dict[str, Any]]:
    """``messages`` (payloads, oldest first) with the stored translations their
    reader may see, each such bubble rendered again with it.

    Agents (``for_agents``) reading ``language`` see customers' messages in
    it (or "translation missing"), and, under the messages they wrote in it,
    what the customer was sent. Customers see agents' messages in their
    ``language``. Nobody is shown a translation meant for the other side.
    """
    ids = [m["id"] for m in messages if m.get("role") in (Role.USER, Role.AGENT) and isinstance(m.get("id"), int)]
    if not ids or not enabled_for_reading():
        return messages
    rows = MessageTranslation.objects.filter(message_id__in=ids)
    found: dict[int, MessageTranslation] = {}
    roles = {m["id"]: m["role"] for m in messages if m.get("id") in ids}
    for row in rows:
        role = roles[row.message_id]
        if for_agents:
            visible = (role == Role.USER and row.language == language) or (
                role == Role.AGENT and row.source_language == language
            )
        else:
            visible = role == Role.AGENT and row.language == language and bool(row.text)
        if visible:
            found[row.message_id] = row
    return [
        payloads.with_translation(m, found[m["id"]], replaces=not for_agents) if m.get("id") in found else m
        for m in messages
    ]


RESUME_WINDOW = 20  # messages before a resume point whose translations a resumed stream is sent again


def resume_notices(session: ChatSession, upto_seq: int, *, language: str, for_agents: bool) -> list[dict[str, Any]]:
    """``translation`` notices for a stream that resumes (``Last-Event-ID``):
    the stored translations its reader may see of the last ``RESUME_WINDOW``
    messages up to ``upto_seq``. Notices are not in the event log, so one that
    came while the stream was away would otherwise wait for a reload;
    translations follow their message within seconds, so the window covers
    them. Sent again if already shown: a page replaces the bubble, no change."""
    if not enabled_for_reading():
        return []
    from chatbot.models import Event

    texts = (
        Event.objects.filter(session=session, kind=Event.Kind.MESSAGE, seq__lte=upto_seq)
        .order_by("-seq")
        .values_list("payload", flat=True)[:RESUME_WINDOW]
    )
    messages = [payloads.localized_message(json.loads(text)["message"], language) for text in reversed(texts)]
    shown = attach(messages, language=language, for_agents=for_agents)
    return [
        payloads.translation_event(session.name, message, reader=language)
        for message in shown
        if "translation" in message
    ]


def enabled_for_reading() -> bool:
    """Stored translations are shown while ``TRANSLATION`` is on (switched off, the desk is as before)."""
    return bool(settings.TRANSLATION)


def paused() -> bool:
    return time.monotonic() < _paused_until


def pause(seconds: float) -> None:
    """No call to the LLM from this process for ``seconds`` (a 429's ``Retry-After``)."""
    global _paused_until
    with _pause_lock:
        _paused_until = max(_paused_until, time.monotonic() + seconds)


def resume() -> None:
    """Lift a pause (tests; an operator's shell)."""
    global _paused_until
    with _pause_lock:
        _paused_until = 0.0


def _url() -> str:
    return f"{settings.LLM_BASE_URL.rstrip('/')}/chat/completions"


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.TimeoutException(f"longer than COPILOT_TIMEOUT_SECONDS={settings.COPILOT_TIMEOUT_SECONDS}")
    return left
