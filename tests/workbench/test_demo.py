"""The demo login is for development only: seed_demo never overwrites a user,
refuses with DEBUG off, and fiido.W003 warns if the public password still works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from workbench.checks import check_demo_login
from workbench.management.commands.create_agent import ensure_agent
from workbench.management.commands.seed_demo import DEMO_AGENT, DEMO_PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent


def test_seed_demo_creates_the_demo_agent_once_and_prints_the_login(settings, django_user_model, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    assert DEMO_PASSWORD in capsys.readouterr().out
    call_command("seed_demo")
    assert "already exists" in capsys.readouterr().out
    assert django_user_model.objects.filter(username=DEMO_AGENT).count() == 1
    assert Client().login(username=DEMO_AGENT, password=DEMO_PASSWORD)


def test_seed_demo_never_changes_an_existing_user(settings, django_user_model, capsys):
    """An administrator's own password and deactivation of 'alice' stand."""
    settings.DEBUG = True
    user, _ = ensure_agent(DEMO_AGENT, "her-own-password-42")
    user.is_active = False
    user.save()
    call_command("seed_demo")
    assert "already exists" in capsys.readouterr().out
    user.refresh_from_db()
    assert user.check_password("her-own-password-42")
    assert not user.check_password(DEMO_PASSWORD)
    assert user.is_active is False


def test_seed_demo_refuses_with_debug_off_unless_forced(settings, django_user_model):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development"):
        call_command("seed_demo")
    assert not django_user_model.objects.filter(username=DEMO_AGENT).exists()
    call_command("seed_demo", "--force-demo-login")
    assert django_user_model.objects.filter(username=DEMO_AGENT).exists()


def test_a_working_demo_login_with_debug_off_is_warned_about(settings):
    settings.DEBUG = False
    assert check_demo_login(None) == []  # no such user
    user, _ = ensure_agent(DEMO_AGENT, DEMO_PASSWORD)
    assert [w.id for w in check_demo_login(None)] == ["fiido.W003"]
    settings.DEBUG = True
    assert check_demo_login(None) == []
    settings.DEBUG = False
    user.set_password("a-real-password-42")
    user.save()
    assert check_demo_login(None) == []
    user.set_password(DEMO_PASSWORD)
    user.is_active = False
    user.save()
    assert check_demo_login(None) == []


def test_make_serve_never_creates_demo_users():
    """Only `make run` (development) seeds demo data; the multi-worker path does not."""
    makefile = (ROOT / "Makefile").read_text()
    recipes = dict(re.findall(r"^([a-z]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, flags=re.M))
    assert "seed_demo" in recipes["run"]
    assert "seed_demo" not in recipes["serve"]
    assert "seed_demo" not in (ROOT / "deploy" / "supervisord.conf").read_text()
