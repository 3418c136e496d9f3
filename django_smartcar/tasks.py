"""Celery tasks: thin adapters over ``services``. They take ids, never model instances.

Task names are explicit (``django_smartcar.<task>``) so schedules and routes keep working if modules move.
Add ``django_smartcar.beat.beat_schedule()`` to your Celery config to run the periodic ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import islice
from typing import Any, NoReturn

from celery import Task, shared_task
from django.db import transaction

from . import client
from .conf import smartcar_settings
from .services import bulk, commands, connect, polling, refreshes, rotation, tokens, vehicles, webhooks

logger = logging.getLogger(__name__)


def batched(items: Iterable[int], size: int) -> Iterator[tuple[int, ...]]:
    """``itertools.batched`` (Python 3.12) for 3.11."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def _will_retry(task: Any, transient: bool) -> bool:
    return transient and task.request.retries < int(smartcar_settings.TASK_MAX_RETRIES)


def _retry_or_raise(task: Any, exc: client.SmartcarException, transient: bool) -> NoReturn:
    """The tasks' one retry policy: a transient failure is retried up to ``TASK_MAX_RETRIES`` times, after
    ``rotation.retry_delay`` (Smartcar's Retry-After, else the client's backoff); anything else is raised."""
    if not _will_retry(task, transient):
        raise exc
    raise task.retry(exc=exc, countdown=rotation.retry_delay(task.request.retries, exc.retry_after)) from exc


@shared_task(name="django_smartcar.rotate_expiring_tokens", ignore_result=True)
def rotate_expiring_tokens() -> int:
    """Beat task: queue one ``rotate_accounts_tokens`` per ``ROTATION_CHUNK_SIZE`` accounts due for rotation."""
    queued = 0
    for chunk in rotation.claim_rotation_chunks():
        transaction.on_commit(partial(rotate_accounts_tokens.delay, chunk))
        queued += len(chunk)
    logger.info("Queued refresh-token rotation for %s Smartcar account(s)", queued)
    return queued


@shared_task(
    bind=True,
    name="django_smartcar.rotate_accounts_tokens",
    acks_late=True,
    # A prefork child killed mid-chunk puts its message back: the rerun skips what is rotated and resumes what
    # was in flight (the in-flight markers; resume_interrupted_token_exchanges does so sooner).
    reject_on_worker_lost=True,
    ignore_result=True,
)
def rotate_accounts_tokens(self: Task[..., dict[str, int]], account_ids: list[int]) -> dict[str, int]:
    """Rotate a chunk of accounts, ``ROTATION_MAX_IN_FLIGHT`` exchanges in flight; the accounts that failed
    transiently or were locked elsewhere are retried together, later (Celery countdown, nobody sleeps)."""
    outcomes = rotation.rotate_accounts(account_ids)
    again = [outcome.account_id for outcome in outcomes if outcome.to_retry]
    retries = self.request.retries
    if again and retries < int(smartcar_settings.TASK_MAX_RETRIES):
        raise self.retry(
            args=(again,),
            countdown=rotation.retry_delay(retries, rotation.retry_after(outcomes)),
            max_retries=int(smartcar_settings.TASK_MAX_RETRIES),
        )
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    if again:
        logger.warning("Gave up rotating %s Smartcar account(s) for now: %s", len(again), counts)
    return counts


@shared_task(
    bind=True,
    name="django_smartcar.rotate_account_tokens",
    acks_late=True,
    # A prefork child killed mid-task puts its message back instead of acknowledging it.
    reject_on_worker_lost=True,
    ignore_result=True,
)
def rotate_account_tokens(self: Task[..., str], account_id: int) -> str:
    """Rotate one account's tokens; transient Smartcar failures are retried with backoff and jitter. The beat
    queues ``rotate_accounts_tokens`` now; this one stays for messages and callers of earlier versions."""
    try:
        return rotation.rotate_account(account_id).outcome
    except client.SmartcarException as exc:
        _retry_or_raise(self, exc, rotation.is_transient(exc))


@shared_task(name="django_smartcar.resume_interrupted_token_exchanges", ignore_result=True)
def resume_interrupted_token_exchanges() -> int:
    """Beat task: repeat token exchanges left in flight by a killed process, inside Smartcar's reuse window."""
    return tokens.resume_interrupted_exchanges()


@shared_task(bind=True, name="django_smartcar.refresh_vehicle_data", ignore_result=True)
def refresh_vehicle_data(
    self: Task[..., list[str]], vehicle_id: int, refresh_id: int | None = None
) -> list[str]:
    """Fetch a vehicle's data (one batch request) and store what is newer.

    A car asleep or unreachable (VEHICLE_STATE) is tried again later, like a rate limit: up to
    ``TASK_MAX_RETRIES`` times; after that its failure stays recorded until the next refresh.

    ``refreshes.queue_refresh`` passes its pending row's ``refresh_id``, on which the outcome is recorded: a
    transient failure of the whole request keeps it pending while the task is retried; data points the car's
    state made fail are recorded as they are, and a later refresh (without a row) reads the car again. Beat
    and Connect queue the task without one.
    """
    try:
        if refresh_id is not None:
            result = refreshes.execute_queued_refresh(vehicle_id, refresh_id)
        else:
            result = vehicles.refresh_queued_vehicle(vehicle_id, retry_later=False)
    except client.SmartcarException as exc:
        transient = vehicles.is_refresh_transient(exc)
        if refresh_id is not None and not _will_retry(self, transient):
            refreshes.record_failure(refresh_id, exc)
        _retry_or_raise(self, exc, transient)
    retries_left = self.request.retries < int(smartcar_settings.TASK_MAX_RETRIES)
    if refresh_id is None and result is not None and result.retry_later and retries_left:
        raise self.retry(countdown=rotation.retry_delay(self.request.retries))
    return result.updated if result is not None else []


@shared_task(name="django_smartcar.refresh_connected_vehicles", ignore_result=True)
def refresh_connected_vehicles() -> int:
    """Beat task (``VEHICLE_REFRESH_INTERVAL``, off by default): queue a bulk refresh of every connected vehicle
    of a usable account whose data is older than the interval, in chunks of ``BULK_CHUNK_SIZE``."""
    return _queue_bulk_refreshes(vehicles.refreshable_vehicle_ids(), reason="interval")


@shared_task(name="django_smartcar.poll_due_vehicles", ignore_result=True)
def poll_due_vehicles() -> int:
    """Beat task (every ``POLL_DISPATCH_INTERVAL``): queue bulk refreshes of the vehicles adaptive polling says
    are due, no more than the application's rate limit lets through now (``polling.claim_due``)."""
    return _queue_bulk_refreshes(polling.claim_due(), reason=bulk.POLL)


def _queue_bulk_refreshes(vehicle_ids: Iterable[int], *, reason: str) -> int:
    queued = 0
    for chunk in batched(vehicle_ids, int(smartcar_settings.BULK_CHUNK_SIZE)):
        transaction.on_commit(partial(refresh_vehicles.delay, list(chunk), reason))
        queued += len(chunk)
    return queued


@shared_task(
    bind=True,
    name="django_smartcar.refresh_vehicles",
    acks_late=True,
    # A worker killed mid-chunk puts the chunk back: vehicles read meanwhile are skipped (``polling.is_due``).
    reject_on_worker_lost=True,
    ignore_result=True,
)
def refresh_vehicles(
    self: Task[..., dict[str, int]], vehicle_ids: list[int], reason: str = "poll"
) -> dict[str, int]:
    """Read a chunk of vehicles, hundreds of requests in flight (``services.bulk``); what the application's rate
    limit cannot take now is queued again for when it can."""
    report = bulk.refresh_vehicles(vehicle_ids, reason=reason)
    if report.deferred:
        refresh_vehicles.apply_async((report.deferred, reason), countdown=max(report.retry_in, 1.0))
    return report.summary()


@shared_task(name="django_smartcar.send_vehicle_command", ignore_result=True)
def send_vehicle_command(
    vehicle_id: int, action: str, user_id: int | None = None, command_id: int | None = None
) -> str:
    """Send a command in the background. Never retried: a command may have reached the car before failing.

    ``commands.queue_command`` queues it with the pending audit row's ``command_id``.
    """
    return commands.execute_queued_command(vehicle_id, action, user_id, command_id).status


@shared_task(name="django_smartcar.process_webhook_event", ignore_result=True)
def process_webhook_event(event_id: int) -> None:
    """Apply a stored webhook event. A failure is kept on the event for ``smartcar_process_webhooks --failed``."""
    webhooks.process_event(event_id)


@shared_task(name="django_smartcar.dispatch_webhook_events", ignore_result=True)
def dispatch_webhook_events() -> int:
    """Beat task (every WEBHOOK_DISPATCH_INTERVAL): process the stored webhook events still pending, here in the
    worker, so the receiver never talks to the broker. Returns how many were processed."""
    return webhooks.dispatch_pending_events().processed


@shared_task(name="django_smartcar.clear_connect_states", ignore_result=True)
def clear_connect_states() -> int:
    """Beat task: delete expired Connect states (as ``manage.py smartcar_clear_connect_states`` does)."""
    return connect.clear_expired_states()


@shared_task(name="django_smartcar.requeue_pending_webhook_events", ignore_result=True)
def requeue_pending_webhook_events() -> int:
    """Beat task: queue processing again for webhook events pending longer than WEBHOOK_PENDING_REQUEUE_AFTER."""
    return webhooks.requeue_stale_pending_events()


@shared_task(name="django_smartcar.fail_abandoned_commands", ignore_result=True)
def fail_abandoned_commands() -> int:
    """Beat task: mark failed the commands (and the refreshes asked for by people) that no worker completed
    within COMMAND_ABANDONED_AFTER."""
    return commands.fail_abandoned_commands() + refreshes.fail_abandoned_refreshes()
