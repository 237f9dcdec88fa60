"""Prepare benchmark sessions: ``prepare.py OUT.jsonl --sessions N [--viewers V]``.

Run with the project's Python and the bench's ``DATABASE_URL``. It creates a
bench agent and N conversations taken over by that agent (``manual_live``,
through the real state machine), so an agent message is exactly one event
and the bot never answers. For every line of OUT it mints a customer Django
session owning the conversation (the cookie the customer stream checks) and
writes ``{"session", "cookie", "agent_cookie", "csrf", "lang"}``: subscribers use
``cookie`` (and ``lang``, en or de in turn, in the mixed-language scenarios),
publishers ``agent_cookie`` and ``csrf``.

``--viewers V`` writes V lines for the *first* conversation, each with its own
customer cookie: V separate screens of one session (the fan-out scenario).

``--status`` leaves the conversations elsewhere: ``pending_manual`` (waiting
for an agent: a customer message is one event and the bot stays quiet) or
``bot_active`` (the bot answers every customer message); ``postcost.py
--as customer`` posts as the customer (``cookie``, plus the CSRF cookie).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fiido.settings")

BENCH_AGENT = "bench-agent"


def session_row(store_class, data: dict, expiry):
    from django.contrib.sessions.models import Session

    key = store_class()._get_new_session_key()
    return Session(session_key=key, session_data=store_class().encode(data), expire_date=expiry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--viewers", type=int, default=0, help="lines for the first session, one cookie each")
    parser.add_argument("--status", default="manual_live", choices=["manual_live", "pending_manual", "bot_active"])
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from chatbot import conversations
    from chatbot.selectors import OWNED_SESSIONS_KEY
    from workbench.management.commands.create_agent import ensure_agent

    started = time.monotonic()
    agent, _ = ensure_agent(BENCH_AGENT, None, first_name="Bench")
    expiry = timezone.now() + timezone.timedelta(days=1)
    agent_row = session_row(
        SessionStore,
        {
            SESSION_KEY: str(agent.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],  # as the login form would
            HASH_SESSION_KEY: agent.get_session_auth_hash(),
        },
        expiry,
    )
    csrf = get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS)  # the unmasked cookie secret
    agent_cookie = f"{settings.SESSION_COOKIE_NAME}={agent_row.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}"

    names = []
    for _ in range(args.sessions):
        # BENCH_CUSTOMER_LANGUAGE=de: conversations in German, so with TRANSLATION on
        # every (English) agent message is translated for the customer (bench/slow_llm.py).
        session = conversations.start(customer_name="bench", language=os.environ.get("BENCH_CUSTOMER_LANGUAGE") or None)
        if args.status != "bot_active":
            conversations.escalate(session, reason="bench")
        if args.status == "manual_live":
            conversations.take_over(session, agent=agent)
        names.append(session.name)

    owners = [names[0]] * args.viewers if args.viewers else names
    rows = [session_row(SessionStore, {OWNED_SESSIONS_KEY: [name]}, expiry) for name in owners]
    Session.objects.bulk_create([agent_row, *rows], batch_size=500)

    with open(args.out, "w") as out:
        for index, (name, row) in enumerate(zip(owners, rows, strict=True)):
            line = {
                "session": name,
                "cookie": f"{settings.SESSION_COOKIE_NAME}={row.session_key}",
                "agent_cookie": agent_cookie,
                "csrf": csrf,
                # Every other viewer reads German: the mixed-language scenarios use it (?lang={lang}).
                "lang": "de" if index % 2 else "en",
            }
            out.write(json.dumps(line) + "\n")
    print(
        f"prepared {len(names)} sessions, {len(rows)} viewer cookies -> {args.out} "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
