"""fiido.db.sqlite3: write transactions of one process queue on a lock before
BEGIN, and every way a transaction ends gives the lock back."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from chatbot import conversations
from chatbot.models import ChatSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend only; PostgreSQL has row locks"),
]


def in_thread(function) -> threading.Thread:
    def run():
        try:
            function()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_writer_waits_for_the_first_and_then_writes():
    session = conversations.start()
    inside, release, order = threading.Event(), threading.Event(), []

    def first():
        with transaction.atomic():
            ChatSession.objects.filter(pk=session.pk).update(customer_name="first")
            inside.set()
            release.wait(10)
            order.append("first commits")

    def second():
        inside.wait(10)
        with transaction.atomic():
            order.append("second begins")
            ChatSession.objects.filter(pk=session.pk).update(customer_name="second")

    one = in_thread(first)
    inside.wait(10)
    two = in_thread(second)
    two.join(0.5)
    assert two.is_alive() and order == []  # queued on the lock, not failing with "database is locked"
    release.set()
    one.join(10)
    two.join(10)
    assert order == ["first commits", "second begins"]
    session.refresh_from_db()
    assert session.customer_name == "second"


def test_the_lock_is_released_after_commit_rollback_and_close():
    session = conversations.start()
    with transaction.atomic():
        ChatSession.objects.filter(pk=session.pk).update(customer_name="a")
    with pytest.raises(RuntimeError), transaction.atomic():
        ChatSession.objects.filter(pk=session.pk).update(customer_name="b")
        raise RuntimeError("roll back")

    def closed_mid_transaction():
        with transaction.atomic():
            ChatSession.objects.filter(pk=session.pk).update(customer_name="c")
            connection.close()  # e.g. the database went away under a request

    in_thread(closed_mid_transaction).join(10)

    done = []
    thread = in_thread(lambda: (conversations.escalate(session), done.append(True)))
    thread.join(10)
    assert done == [True]
    session.refresh_from_db()
    assert (session.customer_name, session.status) == ("a", ChatSession.Status.PENDING_MANUAL)


def test_on_commit_hooks_run_before_the_next_writer_and_may_write_again():
    """Events are published from on-commit hooks; holding the lock through them
    keeps one worker's publishes in commit order. A hook that writes reuses it."""
    from fiido.db.sqlite3.base import _write_lock

    session = conversations.start()
    lock = _write_lock(str(connection.settings_dict["NAME"]))
    seen = []

    def hook():
        seen.append(lock.locked())
        with transaction.atomic():
            ChatSession.objects.filter(pk=session.pk).update(customer_name="from the hook")

    with transaction.atomic():
        ChatSession.objects.filter(pk=session.pk).update(customer_name="first")
        transaction.on_commit(hook)
    assert seen == [True]
    assert not lock.locked()
    session.refresh_from_db()
    assert session.customer_name == "from the hook"
