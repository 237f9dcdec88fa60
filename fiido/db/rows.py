"""Plain SQL for the few statements every request runs, with the ORM's own conversions.

Building and compiling a query costs Django's ORM 150-300 µs on the machines
this was measured on, where the database's own work for a read by a unique
key or a one-row insert is 10-30 µs (``bench/NOTES.md``, third round). For
the statements of the hot paths (the message POST's lock, inserts and update;
the user with their agent flag) the callers write the SQL themselves and
these helpers do what the ORM would do around it:

* ``table(model)`` gives the model's quoted table and column names, and turns
  a row of its columns back into an instance, through the converters the ORM
  applies (SQLite returns datetimes as text, booleans as integers, UUIDs as
  hex);
* ``insert(obj)`` stores an unsaved instance as ``save()`` would (its
  ``auto_now_add`` values and its new primary key filled in), or nothing when
  ``on_conflict`` names a unique constraint's columns that already hold its
  values;
* ``update(obj, fields)`` is ``obj.save(update_fields=fields)`` (``auto_now``
  included).

What they skip of ``save()``: the ``pre_save`` and ``post_save`` signals and
``Model.save`` overrides, so they are for models that have neither (the
callers say which). The SQL is portable between SQLite and PostgreSQL:
``%s`` placeholders, identifiers through ``quote_name``, values through each
field's ``get_db_prep_save`` as the ORM sends them, ``RETURNING`` where the
database has it (SQLite from 3.35, as Django's own inserts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.db import DatabaseError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


class Table:
    """One model's concrete columns on one database: SQL names and row conversion."""

    def __init__(self, model: type[Model], connection: BaseDatabaseWrapper) -> None:
        quote = connection.ops.quote_name
        opts = model._meta
        self.model = model
        self.alias = connection.alias
        self.name = quote(opts.db_table)
        self.fields: list[Field] = list(opts.concrete_fields)
        self._attnames = [field.attname for field in self.fields]
        self._quoted = {field.attname: quote(field.column) for field in self.fields}
        self._converters = []
        for index, field in enumerate(self.fields):
            column = field.get_col(opts.db_table)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if functions:
                self._converters.append((index, column, functions))

    def column(self, attname: str, alias: str | None = None) -> str:
        """A column's quoted name (``attname``: ``assigned_agent_id``, not ``assigned_agent``)."""
        return f"{alias}.{self._quoted[attname]}" if alias else self._quoted[attname]

    def columns(self, alias: str | None = None) -> str:
        """The select list of every concrete column, in the order ``instance`` reads them."""
        return ", ".join(self.column(attname, alias) for attname in self._attnames)

    @property
    def width(self) -> int:
        return len(self.fields)

    def instance(self, row: Sequence[Any], connection: BaseDatabaseWrapper) -> Model:
        """A row of ``columns()`` as a model instance, as a queryset would have made it."""
        values = list(row)
        for index, column, functions in self._converters:
            value = values[index]
            for convert in functions:
                value = convert(value, column, connection)
            values[index] = value
        return self.model.from_db(self.alias, self._attnames, values)


@cache
def _table(model: type[Model], alias: str) -> Table:
    # The converters read nothing but the alias's settings, which every
    # thread's connection of one alias shares: one Table per model and alias.
    return Table(model, connections[alias])


def table(model: type[Model], *, write: bool = False) -> tuple[Table, BaseDatabaseWrapper]:
    """``model``'s table and this thread's connection to the database it is read (or written) on."""
    alias = router.db_for_write(model) if write else router.db_for_read(model)
    return _table(model, alias), connections[alias]


def insert(obj: Model, *, on_conflict: Iterable[str] = ()) -> bool:
    """Store the unsaved ``obj`` as ``obj.save()`` would; its primary key is set.

    With ``on_conflict`` (the columns of a unique constraint, as attnames), a
    row already holding ``obj``'s values there is left alone and nothing is
    stored: the answer is False (no savepoint needed, and on PostgreSQL the
    transaction stays usable). Any other constraint still raises.
    """
    model = type(obj)
    rows, connection = table(model, write=True)
    pk = model._meta.pk
    fields = [field for field in rows.fields if not (field is pk and obj.pk is None)]
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    sql = (
        f"INSERT INTO {rows.name} ({', '.join(rows.column(field.attname) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if on_conflict:
        sql += f" ON CONFLICT ({', '.join(rows.column(attname) for attname in on_conflict)}) DO NOTHING"
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {rows.column(pk.attname)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if returning:
            row = cursor.fetchone()
            if row is None:
                return False
            new_pk = row[0]
        else:
            if cursor.rowcount == 0:
                return False
            new_pk = connection.ops.last_insert_id(cursor, model._meta.db_table, pk.column)
    if obj.pk is None:
        obj.pk = new_pk
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


def update(obj: Model, fields: Iterable[str]) -> None:
    """``obj.save(update_fields=fields)``: those columns (and ``auto_now`` ones named) of its row."""
    model = type(obj)
    rows, connection = table(model, write=True)
    opts = model._meta
    chosen = [opts.get_field(name) for name in fields]
    values = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in chosen]
    assignments = ", ".join(f"{rows.column(field.attname)} = %s" for field in chosen)
    sql = f"UPDATE {rows.name} SET {assignments} WHERE {rows.column(opts.pk.attname)} = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, opts.pk.get_db_prep_value(obj.pk, connection)])
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")  # as save() says it
