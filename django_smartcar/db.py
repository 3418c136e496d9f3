"""Row locking that holds on every database Django supports, SQLite included."""

from __future__ import annotations

from typing import TypeVar

from django.db import connections
from django.db.models import F, Model, QuerySet

M = TypeVar("M", bound=Model)


def select_for_update(queryset: QuerySet[M]) -> QuerySet[M]:
    """``queryset.select_for_update()``, holding on SQLite too. Call it inside ``transaction.atomic()``.

    SQLite has no row locks: it locks the whole database, and only at a transaction's first write. A
    transaction that reads and then writes fails at once with "database is locked" when another writer got
    there in between. A no-op UPDATE of the rows first takes the write lock before the read, so concurrent
    writers wait their turn (Django 5.1's ``"transaction_mode": "IMMEDIATE"`` does the same for every
    transaction; this keeps Django 4.2 right).
    """
    if not connections[queryset.db].features.has_select_for_update:
        pk = queryset.model._meta.pk.attname
        queryset.update(**{pk: F(pk)})
    return queryset.select_for_update()
