"""The API, admin and tasks under faults: a dead broker, disconnected vehicles, absurd JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from django_smartcar import tasks
from django_smartcar.models import ConnectState, VehicleCommand
from django_smartcar.services import commands, vehicles
from django_smartcar.services.connect import disconnect_vehicle
from tests.api.conftest import API
from tests.celery_app import app as celery_app
from tests.celery_app import forget_broker_connections
from tests.processes import free_port

Status = VehicleCommand.Status
# Publishing to a port where nothing listens must fail fast: one retry, no waiting between attempts.
DEAD_BROKER_PUBLISH_SECONDS = 10.0
# A credential in the broker URL, which must never reach a log line or an answer.
BROKER_PASSWORD = "broker-secret-password"


@pytest.fixture
def dead_broker(monkeypatch) -> Iterator[str]:
    """The test's Celery app pointed at a Redis URL on a free 127.0.0.1 port where nothing listens."""
    names = (
        "broker_url",
        "broker_write_url",
        "task_publish_retry_policy",
        "broker_connection_timeout",
        "broker_transport_options",
    )
    saved = {name: celery_app.conf.get(name) for name in names}
    url = f"redis://:{BROKER_PASSWORD}@127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before its broker_url setting
    celery_app.conf.update(
        broker_url=url,
        broker_write_url=url,  # in case an earlier test left a write URL of its own
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0,
            "interval_max": 0,
        },
        broker_connection_timeout=2,
        broker_transport_options={"max_retries": 1},
    )
    forget_broker_connections()
    yield url
    celery_app.conf.update(saved)
    forget_broker_connections()


def test_an_async_command_with_the_broker_down_is_a_503_and_a_failed_row(
    account, browser, dead_broker, caplog
):
    vehicle = account.vehicles.first()
    caplog.set_level("DEBUG")

    started = time.monotonic()
    response = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=1")

    assert time.monotonic() - started < DEAD_BROKER_PUBLISH_SECONDS
    assert response.status_code == 503
    body = response.json()
    assert body["type"] == "NOT_QUEUED" and body["code"] == "broker_unavailable"
    assert "could not be queued" in body["detail"]
    command = VehicleCommand.objects.get()
    assert command.status == Status.FAILED and command.completed_at is not None
    assert (command.error_type, command.error_code) == ("NOT_QUEUED", "broker_unavailable")
    assert body["command"]["id"] == command.pk and body["command"]["status"] == "failed"
    assert BROKER_PASSWORD not in json.dumps(body) + command.error_message
    assert "Could not queue the command: OperationalError" in caplog.text
    assert BROKER_PASSWORD not in caplog.text


def test_an_async_refresh_with_the_broker_down_is_a_503(account, browser, dead_broker):
    vehicle = account.vehicles.first()

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=1")

    assert response.status_code == 503 and response.json()["type"] == "NOT_QUEUED"


def test_queueing_inside_a_transaction_records_a_dead_broker_after_the_commit(account, dead_broker):
    from django.db import transaction

    vehicle = account.vehicles.first()
    with transaction.atomic():
        command = commands.queue_command(vehicle, "lock")
        assert VehicleCommand.objects.get(pk=command.pk).status == Status.PENDING

    assert VehicleCommand.objects.get(pk=command.pk).status == Status.FAILED


@pytest.fixture
def disconnected(account):
    vehicle = account.vehicles.first()
    disconnect_vehicle(vehicle)
    vehicle.refresh_from_db()
    assert not vehicle.is_connected
    return vehicle


@pytest.mark.parametrize("path", ["lock/", "unlock/", "refresh/", "lock/?async=1", "refresh/?async=1"])
def test_a_disconnected_vehicle_is_refused_without_asking_smartcar(
    disconnected, browser, smartcar_requests, queued, path
):
    response = browser.post(f"{API}/vehicles/{disconnected.pk}/{path}")

    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "VEHICLE_DISCONNECTED" and "disconnected" in body["detail"]
    assert smartcar_requests == [] and queued == []
    assert not VehicleCommand.objects.filter(status=Status.PENDING).exists()


def test_the_services_refuse_a_disconnected_vehicle_for_tasks_and_admin(disconnected, smartcar_requests):
    command = commands.send_command(disconnected, "unlock")
    assert command.status == Status.FAILED and command.error_type == "VEHICLE_DISCONNECTED"

    queued_earlier = commands.create_command(disconnected, "lock")  # e.g. queued before the disconnect
    assert tasks.send_vehicle_command(disconnected.pk, "lock", None, queued_earlier.pk) == Status.FAILED

    from django_smartcar.exceptions import VehicleDisconnected

    with pytest.raises(VehicleDisconnected):
        vehicles.refresh_vehicle_data(disconnected)
    assert smartcar_requests == []


@pytest.mark.parametrize("path", ["refresh/", "refresh/?async=1"])
def test_a_refresh_now_or_queued_is_refused_alike_when_the_account_needs_reconnecting(
    account, browser, smartcar_requests, queued, path
):
    vehicle = account.vehicles.first()
    account.status = account.Status.REAUTH_REQUIRED
    account.save(update_fields=["status"])

    response = browser.post(f"{API}/vehicles/{vehicle.pk}/{path}")

    assert response.status_code == 409, response.content
    assert response.json()["type"] == "REAUTHENTICATE" and "reconnect_url" in response.json()
    assert smartcar_requests == [] and queued == []


def test_a_queued_refresh_sends_nothing_once_the_vehicle_is_refused(account, smartcar_requests):
    vehicle = account.vehicles.first()
    account.status = account.Status.REAUTH_REQUIRED
    account.save(update_fields=["status"])

    assert tasks.refresh_vehicle_data(vehicle.pk) == []
    assert smartcar_requests == []


def test_admin_actions_refuse_a_disconnected_vehicle(disconnected, django_user_model, smartcar_requests):
    staff = django_user_model.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_vehicle", "change_vehicle", "send_vehicle_commands"])
    )
    admin = Client()
    admin.force_login(staff)

    for action in ("lock", "refresh_data"):
        response = admin.post(
            "/admin/django_smartcar/vehicle/",
            {"action": action, "_selected_action": [disconnected.pk], "confirm": "yes"},
            follow=True,
        )
        assert response.status_code == 200
        assert "disconnected" in response.content.decode()
    assert smartcar_requests == []


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("body", [nested(100_000), '{"next": ' + nested(50_000) + "}"])
def test_deeply_nested_json_is_a_400(smartcar, browser, body):
    response = browser.post(f"{API}/connect-url/", body, content_type="application/json")

    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]
    assert not ConnectState.objects.exists()


def test_connect_url_json_with_control_characters_is_refused_or_dropped(smartcar, browser):
    refused = browser.post(f"{API}/connect-url/", {"make": "TES\u0001LA"}, content_type="application/json")
    assert refused.status_code == 400 and not ConnectState.objects.exists()

    lone_surrogate = '{"next": "/\\ud800"}'
    assert (
        browser.post(f"{API}/connect-url/", lone_surrogate, content_type="application/json").status_code
        == 400
    )

    dropped = browser.post(f"{API}/connect-url/", {"next": "/a\u0001b"}, content_type="application/json")
    assert dropped.status_code == 200 and ConnectState.objects.get().next_url == "/smartcar/"


def api_views() -> Iterator[type]:
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield getattr(pattern.callback, "cls", None)

    (api,) = [p for p in get_resolver().url_patterns if str(p.pattern) == "api/smartcar/"]
    yield from (view for view in walk(api.url_patterns) if view is not None)


def test_every_api_view_parses_json_safely():
    from django_smartcar.api.parsers import SafeJSONParser

    views = set(api_views())
    assert len(views) >= 4
    for view in views:
        parsers = view().get_parsers()
        assert parsers and all(
            isinstance(parser, SafeJSONParser) for parser in parsers if "json" in parser.media_type
        ), view
