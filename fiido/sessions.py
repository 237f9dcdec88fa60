"""Django's database sessions, loaded with one plain ``SELECT``.

Every request that carries a session cookie loads its session: every agent
request, and every customer request (the customer's conversations are listed
in it). Through the ORM that read was ≈ 200 µs of query building and
compiling for ≈ 12 µs of database work (``bench/NOTES.md``, third round).
This store reads the row with the same query Django's would run, written
out once; saving, creating, deleting, expiry and ``clearsessions`` are
Django's own (``django.contrib.sessions.backends.db``), and so are the
encoding and the signature (the key salt follows the class name, which is
Django's: sessions stored before this store existed still load).

No cache in front of it: the session stays where every worker and the raw
stream endpoints (``fiido.realtime.stream.django_session``) read it, and a
logout, which deletes the row, takes effect everywhere at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        """The session's data, or ``{}`` (and no key) when it is missing or expired, as Django's store does."""
        model = self.model
        connection = connections[router.db_for_read(model)]
        expire_date = model._meta.get_field("expire_date")
        with connection.cursor() as cursor:
            cursor.execute(
                self._load_sql(connection),
                [self.session_key, expire_date.get_db_prep_value(timezone.now(), connection)],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])

    def _load_sql(self, connection) -> str:
        opts = self.model._meta
        quote = connection.ops.quote_name
        data, key, expiry = (quote(opts.get_field(f).column) for f in ("session_data", "session_key", "expire_date"))
        return f"SELECT {data} FROM {quote(opts.db_table)} WHERE {key} = %s AND {expiry} > %s"
