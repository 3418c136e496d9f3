"""Handing work to Celery, with a broker that may be down: the one place that knows how publishing fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction

from ..exceptions import NotQueued

if TYPE_CHECKING:
    from ..models import VehicleCommand, VehicleRefresh

    Record = VehicleCommand | VehicleRefresh

logger = logging.getLogger(__name__)


def publish(
    send: Callable[[], object], *, what: str, on_failure: Callable[[], Record | None] | None = None
) -> None:
    """Run ``send`` (e.g. ``task.delay``) once the caller's rows are committed; raise ``NotQueued`` if it fails.

    Outside a transaction the message is published now, so a dead broker is reported to the caller (the API
    answers 503; ``NotQueued.command`` or ``.refresh`` is what ``on_failure`` returned) and ``on_failure``
    records it (e.g. marks the command or refresh row failed) instead of leaving a row
    ``pending`` forever. Inside a transaction the message must wait for the commit (a worker could not see
    the row before), so a failure then can only be recorded and logged.
    """

    failed: list[Record | None] = []

    def attempt() -> None:
        if not send_now(send, what=what):
            failed.append(on_failure() if on_failure is not None else None)

    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(attempt)
        return
    attempt()
    if failed:
        from ..models import VehicleCommand

        record = failed[0]
        if isinstance(record, VehicleCommand) or record is None:
            raise NotQueued(what, command=record)
        raise NotQueued(what, refresh=record)


def send_now(send: Callable[[], object], *, what: str) -> bool:
    """Run ``send`` now; False (logged) when the broker could not take the message."""
    try:
        send()
    except Exception as exc:  # kombu/redis/amqp/OSError: any of them means the message is not queued
        # Only the type: a broker error's text may carry its URL, and with it the broker's credentials.
        logger.error("Could not queue the %s: %s", what, type(exc).__name__)
        return False
    return True
