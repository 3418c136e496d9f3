"""Fixtures for the REST API's tests: signed-in clients for two users, each with accounts at the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.conf import DEFAULTS
from django_smartcar.models import SmartcarAccount, Vehicle
from django_smartcar.services.vehicles import sync_vehicles
from tests.app.conftest import (  # noqa: F401
    account,
    browser,
    make_accounts,
    other_user,
    smartcar,
    smartcar_requests,
    user,
    worker,
)

API = "/api/smartcar"


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counters live in the cache, which outlives a test: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def other_browser(other_user):  # noqa: F811
    other = Client()
    other.force_login(other_user)
    return other


@pytest.fixture
def other_account(smartcar, other_user) -> SmartcarAccount:  # noqa: F811
    """Another user's account, with its own car at the simulator, synced."""
    (created,) = make_accounts(smartcar, other_user, 1, refresh_expires_in=timedelta(days=50), prefix="other")
    sync_vehicles(created)
    return created


@pytest.fixture
def charging_scope(smartcar, settings):  # noqa: F811
    """Connect asks for control_charge too (the app's default scope leaves it out)."""
    settings.SMARTCAR = {**settings.SMARTCAR, "SCOPE": [*DEFAULTS["SCOPE"], "control_charge"]}


@pytest.fixture
def queued(monkeypatch):
    """Celery tasks queued during the test, as ``(task name, args)``, instead of sent to the broker."""
    calls: list[tuple[str, tuple]] = []
    for task in (tasks.send_vehicle_command, tasks.refresh_vehicle_data):
        monkeypatch.setattr(task, "delay", lambda *args, _name=task.name: calls.append((_name, args)))
    return calls


def offline_account(owner, vehicle_count: int, *, prefix: str = "offline") -> SmartcarAccount:
    """An account with ``vehicle_count`` vehicles rows and no Smartcar behind it (for read-only endpoints)."""
    created = SmartcarAccount(
        owner=owner,
        smartcar_user_id=f"{prefix}-{owner.pk}",
        mode="simulated",
        access_expires_at=timezone.now() + timedelta(hours=2),
        refresh_expires_at=timezone.now() + timedelta(days=50),
    )
    created.access_token = "offline-access-token"
    created.refresh_token = "offline-refresh-token"
    created.save()
    Vehicle.objects.bulk_create(
        Vehicle(
            account=created,
            smartcar_id=f"{prefix}-{owner.pk}-{index}",
            make="TESLA",
            model="Model 3",
            year=2021,
            permissions=["read_odometer"],
            odometer_km=1000.0 + index,
            odometer_age=timezone.now(),
        )
        for index in range(vehicle_count)
    )
    return created
