"""Webhook events answered 2xx always end processed: with the broker down, and when Redis loses its queue.

Real processes: a redis-server started here on a free port (no persistence, killed by PID), Celery worker and
beat subprocesses on the test database, deliveries signed like Smartcar's over HTTP to the live server.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import SmartcarAccount, Vehicle, WebhookEvent
from tests.processes import child_env, free_port, start_beat, start_worker, stop, wait_for

from .test_webhooks import post_signed, state_event

# Starts Celery worker processes: make test runs these one at a time, after the rest (see pyproject.toml).
pytestmark = pytest.mark.worker_processes

URL_ID = "hook-broker-faults-Yb2k9QmX"
TOKEN = "test-management-token"
DEADLINE_SECONDS = 90


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """This process's Celery app (the live server's receiver) publishes to ``url`` for the block."""
    from tests.celery_app import app, forget_broker_connections

    # The write URL: Celery reads ``broker_url`` from CELERY_BROKER_URL in the environment first (CI's Redis leg).
    # The raw setting is saved, not ``app.conf.broker_write_url``: that property falls back to ``broker_url``, and
    # restoring its value would pin every later test's writes to this test's broker.
    saved = app.conf.get("broker_write_url"), app.conf.task_always_eager

    app.conf.broker_write_url, app.conf.task_always_eager = url, False
    forget_broker_connections()
    try:
        yield
    finally:
        app.conf.broker_write_url, app.conf.task_always_eager = saved
        forget_broker_connections()


class RedisServer:
    """A redis-server of our own: no RDB, no AOF, so a restart loses every queued task, as in production."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port, self.log_dir, self.process = port, log_dir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required for this test"
        with (self.log_dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # no shutdown save either: the queue is simply gone
            self.process.wait(timeout=20)
        self.process = None

    def queued(self) -> int:
        return redis.Redis.from_url(self.url, socket_timeout=2).llen("celery")


@pytest.fixture
def receiver(live_server, account: SmartcarAccount, settings) -> str:
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "MANAGEMENT_TOKEN": TOKEN}
    return f"{live_server.url}/smartcar/webhooks/{URL_ID}/"


def test_with_the_broker_down_a_delivery_is_stored_answered_2xx_and_recovered(account, receiver):
    vehicles = list(account.vehicles.order_by("pk")[:2])
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    with broker_at(nothing_listens):
        started = time.monotonic()
        answers = [
            post_signed(
                receiver,
                state_event(vehicles[0], odometer=1111.0, at=timezone.now(), event_id="down-redelivered"),
            ),
            post_signed(
                receiver, state_event(vehicles[-1], odometer=2222.0, at=timezone.now(), event_id="down-swept")
            ),
        ]
        elapsed = time.monotonic() - started
    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    assert elapsed < 20  # a dead broker costs a bounded publish retry, not a hung receiver
    assert set(WebhookEvent.objects.values_list("event_id", "processed_at", "attempts")) == {
        ("down-redelivered", None, 0),
        ("down-swept", None, 0),
    }

    # The broker is back (eager: a queued task runs at once). Smartcar's redelivery queues its event again...
    from tests.celery_app import app

    app.conf.task_always_eager = True
    try:
        again = post_signed(
            receiver,
            state_event(vehicles[0], odometer=1111.0, at=timezone.now(), event_id="down-redelivered"),
        )
        assert again.json() == {"status": "duplicate"}
        assert WebhookEvent.objects.get(event_id="down-redelivered").status == "processed"
        # ...and the beat sweep queues what is still pending once it is older than the bound.
        assert tasks.requeue_pending_webhook_events() == 0  # too young: may still be in the broker
        WebhookEvent.objects.filter(event_id="down-swept").update(
            received_at=timezone.now() - timedelta(hours=1)
        )
        assert tasks.requeue_pending_webhook_events() == 1
    finally:
        app.conf.task_always_eager = False

    for event in WebhookEvent.objects.all():
        assert event.status == "processed" and event.attempts == 1, event.last_error
    assert Vehicle.objects.get(pk=vehicles[0].pk).odometer_km == 1111.0
    assert Vehicle.objects.get(pk=vehicles[-1].pk).odometer_km == 2222.0


def test_events_whose_tasks_redis_lost_are_processed_by_the_beat_sweep(account, receiver, smartcar, tmp_path):
    vehicles = list(account.vehicles.order_by("pk"))
    server = RedisServer(free_port(), tmp_path)
    worker = beat = None
    logs: list[Path] = []
    server.start()
    try:
        with broker_at(server.url):
            # No worker yet: every delivery is stored and its task waits in Redis.
            for index in range(6):
                vehicle = vehicles[index % len(vehicles)]
                answer = post_signed(
                    receiver,
                    state_event(
                        vehicle, odometer=1000.0 + index, at=timezone.now(), event_id=f"lost-{index}"
                    ),
                )
                assert answer.status_code == 200, answer.text
            assert server.queued() == 6

            server.stop()
            server.start()  # same port, empty: the six tasks are gone
            assert server.queued() == 0
            assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 6

            env = child_env(smartcar, CELERY_BROKER_URL=server.url, DJANGO_SMARTCAR_TEST_SWEEP_SECONDS="1")
            worker, worker_log = start_worker(env, tmp_path)
            logs.append(worker_log)
            beat, beat_log = start_beat(env, tmp_path)
            logs.append(beat_log)

            wait_for(
                lambda: not WebhookEvent.objects.filter(processed_at__isnull=True).exists(),
                "the sweep to get every stored event processed",
                logs,
                timeout=DEADLINE_SECONDS,
            )
    finally:
        stop(beat, worker)
        server.stop()

    # Queued more than once (each sweep), processed once.
    for event in WebhookEvent.objects.all():
        assert event.status == "processed" and event.attempts == 1 and not event.last_error
    assert "requeue_pending_webhook_events" in logs[0].read_text()
    for index, vehicle in enumerate(vehicles):
        expected = max(1000.0 + i for i in range(6) if i % len(vehicles) == index)
        assert Vehicle.objects.get(pk=vehicle.pk).odometer_km == expected
