"""Locking that holds on every database Django supports, SQLite included: row locks (``select_for_update``) and
locks held by a process across transactions (``process_lock``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from django.db import connections, transaction
from django.db.models import F, Model, QuerySet

try:
    import fcntl
except ImportError:  # Windows: process locks on SQLite are then held per process only
    HAVE_FCNTL = False
else:
    HAVE_FCNTL = True

M = TypeVar("M", bound=Model)


def select_for_update(queryset: QuerySet[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """``queryset.select_for_update()``, holding on SQLite too. Call it inside ``transaction.atomic()``.

    ``skip_locked``: rows another transaction holds are left out instead of waited for, where the database
    supports it (PostgreSQL); elsewhere the lock is waited for, which is still correct, only slower.

    SQLite has no row locks: it locks the whole database, and only at a transaction's first write. A
    transaction that reads and then writes fails at once with "database is locked" when another writer got
    there in between. A no-op UPDATE of the rows first takes the write lock before the read, so concurrent
    writers wait their turn (Django 5.1's ``"transaction_mode": "IMMEDIATE"`` does the same for every
    transaction; this keeps Django 4.2 right).
    """
    if not connections[queryset.db].features.has_select_for_update:
        pk = queryset.model._meta.pk.attname
        queryset.update(**{pk: F(pk)})
    features = connections[queryset.db].features
    return queryset.select_for_update(skip_locked=skip_locked and features.has_select_for_update_skip_locked)


# Striped: the number of locks stays fixed however many rows there are (per namespace).
LOCK_STRIPES = 64
_thread_locks: dict[tuple[int, int], threading.Lock] = {}
_thread_locks_guard = threading.Lock()
INT4_MAX = 2**31 - 1


@contextmanager
def process_lock(
    db: str, model: type[Model], pk: int, *, namespace: int, blocking: bool = True
) -> Iterator[bool]:
    """Serialize work on one row (``model`` ``pk``) across threads and processes; yields whether it is held.

    The lock belongs to the process, not to a transaction, so that work can be committed while it is held,
    and it dies with the process. PostgreSQL: a session advisory lock (``namespace``, ``pk``). SQLite: an
    ``flock`` on a file beside the database, one set of files per ``namespace`` (so that locks of different
    kinds never wait for each other, nor deadlock when one is taken inside another). With ``blocking=False`` the block runs at once, with False, when
    another live process holds the lock.
    """
    connection = connections[db]
    if connection.vendor == "postgresql":
        with _postgresql_advisory_lock(db, namespace, pk, blocking=blocking) as held:
            yield held
        return
    if connection.vendor == "sqlite":
        with _sqlite_file_lock(db, pk, namespace=namespace, blocking=blocking) as held:
            yield held
        return
    # Other databases: the row lock of one transaction around the whole exchange (the marker is then only
    # committed with the outcome, so recovery from a killed process relies on the rotation task's retry).
    with transaction.atomic(using=db, durable=True):
        rows = model._default_manager.using(db).filter(pk=pk)
        rows = rows.select_for_update() if blocking else rows.select_for_update(skip_locked=True)
        yield rows.exists()


@contextmanager
def _postgresql_advisory_lock(db: str, namespace: int, pk: int, *, blocking: bool) -> Iterator[bool]:
    key = (namespace, pk % INT4_MAX)
    with connections[db].cursor() as cursor:
        if blocking:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
            held = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connections[db].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


@contextmanager
def _sqlite_file_lock(db: str, pk: int, *, namespace: int, blocking: bool = True) -> Iterator[bool]:
    stripe = pk % LOCK_STRIPES
    name = str(connections[db].settings_dict["NAME"])
    if not HAVE_FCNTL or name == ":memory:" or name.startswith("file:"):
        # No lock files (Windows, or an in-memory database, which only one process can see anyway).
        with _thread_locks_guard:
            lock = _thread_locks.setdefault((namespace, stripe), threading.Lock())
        held = lock.acquire(blocking=blocking)
        try:
            yield held
        finally:
            if held:
                lock.release()
        return
    lock_dir = Path(f"{name}.smartcar-locks")
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{namespace:x}-{stripe}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
