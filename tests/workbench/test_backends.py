"""The authentication backend (workbench/backends.py): the user and their agent flag in one query,
never cached, so losing access stops the API at the very next request."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from workbench.backends import AgentBackend
from workbench.permissions import AGENT_FLAG, is_agent

pytestmark = pytest.mark.django_db

API = "/workbench/api/sessions"


def test_get_user_reads_the_user_and_the_agent_flag_in_one_query(agent_user, django_user_model):
    outsider = django_user_model.objects.create_user("mallory", password="mallory-password")
    with CaptureQueriesContext(connection) as queries:
        agent = AgentBackend().get_user(agent_user.pk)
        other = AgentBackend().get_user(outsider.pk)
        assert (is_agent(agent), is_agent(other)) == (True, False)
    assert len(queries) == 2  # one each, and no group query from is_agent
    assert agent == agent_user and agent.username == "alice" and agent.get_full_name() == "Alice"
    assert agent.date_joined == agent_user.date_joined and agent.is_active is True  # converted as the ORM does
    assert AgentBackend().get_user(10**9) is None


def test_an_inactive_user_is_nobody_and_staff_are_agents(django_user_model):
    staff = django_user_model.objects.create_user("sam", password="sam-password", is_staff=True)
    loaded = AgentBackend().get_user(staff.pk)
    assert getattr(loaded, AGENT_FLAG) is False and is_agent(loaded)
    staff.is_active = False
    staff.save()
    assert AgentBackend().get_user(staff.pk) is None
    assert is_agent(staff) is False  # loaded elsewhere: the flag is looked up, and is_active still counts


def test_a_user_loaded_another_way_is_looked_up(agent_user, django_user_model):
    user = django_user_model.objects.get(pk=agent_user.pk)
    assert not hasattr(user, AGENT_FLAG) and is_agent(user)


def test_logging_in_uses_the_backend_and_a_wrong_password_is_hashed_once(agent_user, monkeypatch):
    user = authenticate(username="alice", password="alice-password")
    assert user.backend == "workbench.backends.AgentBackend" == settings.AUTHENTICATION_BACKENDS[0]
    checks, failures = [], []
    original = type(agent_user).check_password
    monkeypatch.setattr(type(agent_user), "check_password", lambda self, raw: checks.append(1) or original(self, raw))
    user_login_failed.connect(receiver := lambda **kwargs: failures.append(kwargs), weak=False)
    try:
        assert authenticate(username="alice", password="wrong") is None
        assert authenticate(username="nobody", password="wrong") is None
    finally:
        user_login_failed.disconnect(receiver)
    assert len(checks) == 1 and len(failures) == 2  # Django's ModelBackend, listed after, never ran


@pytest.mark.parametrize("revoke", ["deactivate", "password", "group"])
def test_losing_access_stops_the_api_at_the_next_request(agent_user, revoke):
    client = Client()
    client.force_login(agent_user)
    assert client.get(API).status_code == 200
    if revoke == "deactivate":
        agent_user.is_active = False
        agent_user.save()
    elif revoke == "password":
        agent_user.set_password("a-new-password-42")
        agent_user.save()
    else:
        agent_user.groups.remove(Group.objects.get(name="agents"))
    assert client.get(API).status_code == (403 if revoke == "group" else 401)


def test_a_login_made_before_the_backend_still_works_and_is_still_revoked(agent_user):
    """Sessions that name Django's ModelBackend (logins from before AgentBackend) keep working."""
    store = SessionStore()
    store[SESSION_KEY] = str(agent_user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = agent_user.get_session_auth_hash()
    store.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    assert client.get(API).status_code == 200
    agent_user.groups.remove(Group.objects.get(name="agents"))
    assert client.get(API).status_code == 403
