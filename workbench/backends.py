"""The authentication backend: Django's, with the agent flag read with the user.

Every agent request loads its user (``get_user``, from the login session) and
asks whether they are an agent (``workbench.permissions.is_agent``), and so
does every agent stream at each heartbeat. Through the ORM that was two
queries, ≈ 0.35 ms of query building between them (``bench/NOTES.md``, third
round). ``AgentBackend.get_user`` reads the user's row and whether they are
in the ``agents`` group with one plain ``SELECT`` and leaves the answer on
the user (``AGENT_FLAG``), where ``is_agent`` finds it.

Nothing is cached across requests: each request and each heartbeat re-check
loads the user afresh, so deactivation, a new password (the login session's
hash, which Django's ``get_user`` checks) and leaving the group take effect at
once, as before (README "Security").
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from fiido.db import rows
from workbench.permissions import AGENT_FLAG, AGENTS_GROUP


class AgentBackend(ModelBackend):
    """``ModelBackend`` (usernames and passwords, ``is_active``), with ``get_user``
    answering, in the same query, whether the user is in the ``agents`` group.

    ``settings.AUTHENTICATION_BACKENDS`` lists Django's ``ModelBackend`` after
    it, for the logins made before this backend existed: their sessions name
    that backend, and Django loads their users with it (two queries, as
    before) until they log in again. A login that this backend refuses stops
    here (``PermissionDenied``), so the password is not hashed a second time
    by the backend after it, which would refuse it all the same.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> AbstractBaseUser | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            raise PermissionDenied  # Django then reports the failed login (user_login_failed) as usual
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        user_model = get_user_model()
        users, connection = rows.table(user_model)
        groups, _ = rows.table(Group)
        relation = user_model._meta.get_field("groups")  # the many-to-many, through auth's membership table
        members, _ = rows.table(relation.remote_field.through)
        through = relation.remote_field.through._meta
        member_user = members.column(through.get_field(relation.m2m_field_name()).attname, "m")
        member_group = members.column(through.get_field(relation.m2m_reverse_field_name()).attname, "m")
        user_pk = users.column(user_model._meta.pk.attname, "u")
        sql = (
            f"SELECT {users.columns('u')}, EXISTS ("
            f"SELECT 1 FROM {members.name} m JOIN {groups.name} g"
            f" ON g.{groups.column(Group._meta.pk.attname)} = {member_group}"
            f" WHERE {member_user} = {user_pk} AND g.{groups.column('name')} = %s"
            f") FROM {users.name} u WHERE {user_pk} = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [AGENTS_GROUP, user_model._meta.pk.get_db_prep_value(user_id, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        user = users.instance(row[: users.width], connection)
        setattr(user, AGENT_FLAG, bool(row[users.width]))
        return user if self.user_can_authenticate(user) else None
