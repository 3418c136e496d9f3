"""The webhook intake's production path: the receiver stores the event and answers, publishing nothing; the
``dispatch_webhook_events`` beat task processes what is pending in the worker, each event once.

Real code throughout: the receiver through Django's test client, the dispatcher called as the beat task calls
it, Celery's own ``before_task_publish`` signal to see what would reach a broker. The race runs on whichever
database the suite runs on (PostgreSQL with ``DATABASE_URL``: two dispatchers claiming with SKIP LOCKED).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.beat import beat_schedule
from django_smartcar.conf import smartcar_settings, type_problem
from django_smartcar.models import SmartcarAccount, Vehicle, WebhookEvent
from django_smartcar.services import webhooks
from django_smartcar.simulator.webhooks import sign
from tests.processes import child_env, free_port, start_python, stop, wait_for
from tests.races import CriticalSections

from .test_webhook_broker_faults import broker_at

URL_ID = "dispatch-Wq8rT2mZk5Lp"
TOKEN = "dispatch-management-token"
USER_ID = "dispatch-smartcar-user"
VEHICLE_ID = "dispatch-vehicle-0001"
PATH = f"/smartcar/webhooks/{URL_ID}/"


@pytest.fixture
def dispatching(settings) -> None:
    """The default production setting: a dispatch interval, so the receiver leaves processing to the beat task."""
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "WEBHOOK_URL_ID": URL_ID,
        "MANAGEMENT_TOKEN": TOKEN,
        "WEBHOOK_DISPATCH_INTERVAL": timedelta(seconds=2),
    }


@pytest.fixture
def car(django_user_model) -> Vehicle:
    owner = django_user_model.objects.create_user("dee", "dee@example.com", "pw")
    account = SmartcarAccount(
        owner=owner,
        smartcar_user_id=USER_ID,
        access_expires_at=timezone.now() + timedelta(hours=2),
        refresh_expires_at=timezone.now() + timedelta(days=60),
    )
    account.access_token, account.refresh_token = "access", "refresh"
    account.save()
    return Vehicle.objects.create(account=account, smartcar_id=VEHICLE_ID, permissions=["read_odometer"])


@pytest.fixture
def published() -> Iterator[list[str]]:
    """The names of the Celery tasks this process tries to publish (Celery's signal, sent before the broker)."""
    names: list[str] = []

    def record(sender: str | None = None, **kwargs: object) -> None:
        names.append(str(sender))

    before_task_publish.connect(record, weak=False)
    yield names
    before_task_publish.disconnect(record)


@pytest.fixture
def processed_signals(record_signal):
    return record_signal("webhook_processed")


def odometer_event(event_id: str, km: float) -> dict:
    at = timezone.now().isoformat()
    return {
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": USER_ID},
            "vehicle": {"id": VEHICLE_ID},
            "signals": [
                {
                    "code": "odometer-traveleddistance",
                    "body": {"value": km, "unit": "km"},
                    "meta": {"oemUpdatedAt": at, "retrievedAt": at},
                }
            ],
        },
        "meta": {"version": "4.0"},
    }


def deliver(payload: dict) -> tuple[int, dict, float]:
    """POST it signed through Django's test client: ``(status, answer, seconds taken)``."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    started = time.monotonic()
    response = Client().post(PATH, body, content_type="application/json", HTTP_SC_SIGNATURE=sign(TOKEN, body))
    return response.status_code, response.json(), time.monotonic() - started


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: on-commit work runs at once
def test_the_receiver_stores_and_answers_without_a_broker(dispatching, car, published, caplog):
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    with broker_at(nothing_listens), caplog.at_level(logging.WARNING):
        status, answer, seconds = deliver(odometer_event("no-broker", 1234.0))
    assert (status, answer) == (200, {"status": "received"})
    # No publish (Celery's own signal says so), so no connection attempt nor retry against the dead broker; the
    # time bound is loose for a loaded machine.
    assert published == [] and seconds < 2.0
    assert not [record for record in caplog.records if "Could not queue" in record.getMessage()]
    event = WebhookEvent.objects.get(event_id="no-broker")
    assert event.status == "pending" and event.attempts == 0
    assert json.loads(event.body)["eventId"] == "no-broker"  # the raw request is kept, as before
    assert event.headers["SC-Signature"]

    # A redelivery of the still-pending event is answered, and sends nothing either: the dispatcher will take it.
    with broker_at(nothing_listens):
        assert deliver(odometer_event("no-broker", 1234.0))[:2] == (200, {"status": "duplicate"})
    assert published == [] and WebhookEvent.objects.count() == 1

    assert tasks.dispatch_webhook_events() == 1
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 1
    assert Vehicle.objects.get(pk=car.pk).odometer_km == 1234.0


@pytest.mark.django_db(transaction=True)
def test_with_the_interval_none_the_receiver_still_queues_one_task_per_event(
    dispatching, settings, published, caplog
):
    """The old behaviour, kept for ``None``; also shows that the test above would see a publish if there were
    one: here the receiver tries the dead broker (and, as before, still answers 200 with the row stored)."""
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_DISPATCH_INTERVAL": None}
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"), caplog.at_level(logging.WARNING):
        assert deliver(odometer_event("queued", 1.0))[:2] == (200, {"status": "received"})
    assert published == ["django_smartcar.process_webhook_event"]
    assert [record for record in caplog.records if "Could not queue" in record.getMessage()]
    assert WebhookEvent.objects.get(event_id="queued").status == "pending"
    scheduled = {entry["task"] for entry in beat_schedule().values()}
    assert "django_smartcar.dispatch_webhook_events" not in scheduled


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_processes_each_pending_event_once(dispatching, car, processed_signals):
    for number in range(5):
        assert deliver(odometer_event(f"seq-{number}", 100.0 + number))[0] == 200

    first = webhooks.dispatch_pending_events(chunk_size=2)  # three chunks: 2, 2, 1
    assert (first.processed, first.failed, first.skipped) == (5, 0, 0)
    again = webhooks.dispatch_pending_events(chunk_size=2)
    assert (again.processed, again.failed, again.skipped) == (0, 0, 0)

    processed_ids = sorted(call["event"].event_id for call in processed_signals.calls)
    assert processed_ids == [f"seq-{number}" for number in range(5)]
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert Vehicle.objects.get(pk=car.pk).odometer_km == 104.0  # newer data wins, as with per-event tasks


@pytest.mark.django_db(transaction=True)
def test_a_failed_event_is_left_to_the_sweep_and_the_sweep_still_requeues(dispatching, car, settings):
    from tests.celery_app import app

    assert deliver({"eventId": "broken", "eventType": "VEHICLE_STATE", "data": {"vehicle": {"id": VEHICLE_ID},
                    "signals": "not a list"}})[0] == 200  # fmt: skip
    assert deliver(odometer_event("fine", 50.0))[0] == 200
    outcome = webhooks.dispatch_pending_events()
    assert (outcome.processed, outcome.failed) == (1, 1)
    broken = WebhookEvent.objects.get(event_id="broken")
    assert broken.status == "failed" and broken.attempts == 1 and "not a list" in broken.last_error

    # The dispatcher does not retry a failure at its own pace...
    assert webhooks.dispatch_pending_events().failed == 0
    assert WebhookEvent.objects.get(event_id="broken").attempts == 1
    # ...the sweep does, a bounded number of times, once the event is older than the bound.
    WebhookEvent.objects.filter(event_id="broken").update(received_at=timezone.now() - timedelta(hours=1))
    app.conf.task_always_eager = True
    try:
        assert tasks.requeue_pending_webhook_events() == 1
    finally:
        app.conf.task_always_eager = False
    assert WebhookEvent.objects.get(event_id="broken").attempts == 2


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_process_each_event_once(dispatching, car, processed_signals):
    """Two beat runs overlap (a slow round, two workers): both are released together on the same pending rows
    and every event is processed exactly once. The test fails if the two rounds did not overlap."""
    events = 40
    for number in range(events):
        WebhookEvent.objects.create(
            event_id=f"race-{number}",
            event_type="VEHICLE_STATE",
            endpoint=URL_ID,
            version="4.0",
            body=json.dumps(odometer_event(f"race-{number}", 1000.0 + number)),
        )
    barrier = threading.Barrier(2, timeout=30)
    sections = CriticalSections()
    outcomes: list[webhooks.Dispatched] = []
    failures: list[BaseException] = []

    def dispatcher() -> None:
        try:
            barrier.wait()
            with sections.inside():
                outcomes.append(webhooks.dispatch_pending_events(chunk_size=5))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and not failures, failures
    sections.assert_all_inside_at_once(2)

    assert sum(outcome.processed for outcome in outcomes) == events
    assert sum(outcome.failed for outcome in outcomes) == 0
    processed_ids = [call["event"].event_id for call in processed_signals.calls]
    assert sorted(processed_ids) == sorted(f"race-{number}" for number in range(events))  # each exactly once
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert Vehicle.objects.get(pk=car.pk).odometer_km == 1000.0 + events - 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_killed_mid_event_leaves_it_pending_for_the_next_round(dispatching, car, tmp_path):
    """A real process claims the event and is killed by SIGKILL while processing it (held inside, waiting for
    the vehicle's row lock, which the test holds); the event stays pending and the next round processes it once.
    PostgreSQL only: SQLite has no row locks, so nothing can be held "mid-event" there."""
    assert deliver(odometer_event("killed", 777.0))[0] == 200
    event = WebhookEvent.objects.get(event_id="killed")
    script = (
        "import django; django.setup(); from django_smartcar import tasks; tasks.dispatch_webhook_events()"
    )
    with transaction.atomic():
        Vehicle.objects.select_for_update().get(pk=car.pk)  # the child's processing will wait here
        child, log = start_python("dispatcher", ["-c", script], child_env(), tmp_path)
        try:
            with connection.cursor() as cursor:

                def child_waits_on_the_vehicle() -> bool:
                    # Inside a transaction PostgreSQL shows one snapshot of the activity until it is cleared.
                    cursor.execute("SELECT pg_stat_clear_snapshot()")
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query ILIKE %s",
                        ["SELECT %django_smartcar_vehicle%"],  # the text is cut at 1 KiB: no FOR UPDATE
                    )
                    return cursor.fetchone()[0] == 1

                wait_for(child_waits_on_the_vehicle, "the child to claim the event and wait", [log], 60)
            # The child holds the event: another round skips it rather than wait or process it twice.
            assert webhooks.dispatch_pending_events().skipped == 1
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            stop(child)
    # The vehicle lock is released: the dead child's backend ends and its transaction rolls back.
    rounds: list[webhooks.Dispatched] = []
    wait_for(
        lambda: rounds.append(webhooks.dispatch_pending_events()) or rounds[-1].processed == 1,
        "the next round to process the event",
        [log],
        60,
    )
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 1  # the killed attempt left no trace
    assert Vehicle.objects.get(pk=car.pk).odometer_km == 777.0


def test_the_dispatch_interval_is_validated(settings):
    assert smartcar_settings.WEBHOOK_DISPATCH_INTERVAL is None  # the suite's own setting (tests/settings.py)
    assert type_problem("WEBHOOK_DISPATCH_INTERVAL", timedelta(seconds=2)) is None
    assert type_problem("WEBHOOK_DISPATCH_INTERVAL", None) is None
    assert "datetime.timedelta" in (type_problem("WEBHOOK_DISPATCH_INTERVAL", 2) or "")
    assert "at least" in (type_problem("WEBHOOK_DISPATCH_INTERVAL", timedelta(0)) or "")
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_DISPATCH_INTERVAL": "2"}
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_DISPATCH_INTERVAL"):
        smartcar_settings.WEBHOOK_DISPATCH_INTERVAL


def test_the_default_dispatches_every_two_seconds_from_beat(settings):
    settings.SMARTCAR = {
        key: value for key, value in settings.SMARTCAR.items() if key != "WEBHOOK_DISPATCH_INTERVAL"
    }
    entry = beat_schedule()["django-smartcar-dispatch-webhook-events"]
    assert entry["task"] == "django_smartcar.dispatch_webhook_events"
    assert entry["schedule"] == timedelta(seconds=2) and entry["options"] == {"expires": 2.0}
    assert tasks.dispatch_webhook_events.name == entry["task"]
