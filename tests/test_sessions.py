"""The session store (fiido/sessions.py): Django's database sessions, read with one plain SELECT."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fiido.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_it_is_the_configured_engine():
    assert settings.SESSION_ENGINE == "fiido.sessions"


def test_a_session_saved_by_djangos_store_loads_in_one_query_and_back():
    """Same table, same encoding and signature: sessions from before the store still load."""
    stored = DjangoStore()
    stored["fiido_chat_sessions"] = ["abc"]
    stored.save()
    with CaptureQueriesContext(connection) as queries:
        loaded = SessionStore(stored.session_key)
        assert loaded["fiido_chat_sessions"] == ["abc"]
    assert len(queries) == 1
    loaded["more"] = 1
    loaded.save()
    assert DjangoStore(stored.session_key)["more"] == 1


def test_an_expired_or_missing_session_is_empty_and_loses_its_key():
    stored = SessionStore()
    stored["x"] = 1
    stored.save()
    Session.objects.filter(session_key=stored.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(stored.session_key)
    assert expired.load() == {} and expired.session_key is None
    missing = SessionStore("no-such-session-key")
    assert dict(missing.items()) == {} and missing.session_key is None


def test_a_session_expiring_later_today_still_loads():
    """The expiry comparison is done on the database's own datetime format (naive UTC text on SQLite)."""
    stored = SessionStore()
    stored["x"] = 1
    stored.set_expiry(60)
    stored.save()
    assert SessionStore(stored.session_key)["x"] == 1
