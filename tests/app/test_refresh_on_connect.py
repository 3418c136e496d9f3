"""A newly connected vehicle's data is read once in the background: no "No data yet, press Refresh" after Connect.

A real Celery worker process (Redis when CELERY_BROKER_URL names it, else kombu's filesystem transport) on the
test database, against the live simulator.
"""

from __future__ import annotations

import logging

import pytest

from django_smartcar.models import SmartcarAccount, Vehicle
from django_smartcar.services.vehicles import sync_vehicles
from django_smartcar.simulator import seeding
from tests.api.test_faults import BROKER_PASSWORD, dead_broker  # noqa: F401
from tests.processes import child_env, start_worker, stop, wait_for

from .conftest import DRIVER, connect_through_views
from .test_not_capable import batch_paths  # noqa: F401

# Starts Celery worker processes: make test runs these one at a time, after the rest (see pyproject.toml).
pytestmark = pytest.mark.worker_processes


def test_connect_reads_every_new_vehicle_in_the_background(
    smartcar,
    browser,
    user,
    tmp_path,
    batch_paths,  # noqa: F811
    private_broker,
):
    worker, worker_log = start_worker(child_env(smartcar, **private_broker), tmp_path, purge=True)
    try:
        response = connect_through_views(browser)
        assert response.status_code == 302, response.content
        account = SmartcarAccount.objects.get(owner=user)
        connected = list(account.vehicles.values_list("pk", flat=True))
        assert connected
        wait_for(
            lambda: (
                Vehicle.objects.filter(pk__in=connected, odometer_km__isnull=False).count() == len(connected)
            ),
            "the worker to read the new vehicles' data",
            [worker_log],
        )
    finally:
        stop(worker)

    for vehicle in Vehicle.objects.filter(pk__in=connected):
        assert vehicle.odometer_age and vehicle.latitude is not None and vehicle.data_refreshed_at
    # This process (the web request) asked for no data: the worker read it.
    assert batch_paths and not [paths for paths in batch_paths if "/odometer" in paths]
    assert worker_log.read_text().count("django_smartcar.refresh_vehicle_data") >= len(connected)


def test_a_vehicle_found_by_a_later_sync_is_read_too(account, smartcar, tmp_path, private_broker):
    new = seeding.create_vehicle(seeding.create_user(DRIVER), make="TESLA")
    smartcar.application.grants.latest("id").vehicles.add(new)
    worker, worker_log = start_worker(child_env(smartcar, **private_broker), tmp_path, purge=True)
    try:
        result = sync_vehicles(account)  # as the admin's sync action and smartcar_sync do
        assert [vehicle.smartcar_id for vehicle in result.connected] == [new.id]
        wait_for(
            lambda: Vehicle.objects.filter(smartcar_id=new.id, odometer_km__isnull=False).exists(),
            "the worker to read the newly synced vehicle",
            [worker_log],
        )
    finally:
        stop(worker)


def test_connect_succeeds_with_the_broker_down(smartcar, browser, user, dead_broker, caplog):  # noqa: F811
    with caplog.at_level(logging.WARNING, logger="django_smartcar"):
        response = connect_through_views(browser)

    assert response.status_code == 302, response.content
    account = SmartcarAccount.objects.get(owner=user)
    assert account.vehicles.filter(is_connected=True).exists()
    # One attempt, not one wait for the dead broker per vehicle.
    assert caplog.text.count("Could not queue the first data refresh") == 1
    count = account.vehicles.count()
    assert f"{count} newly connected vehicle(s) not read in the background" in caplog.text
    assert BROKER_PASSWORD not in caplog.text


def test_refresh_on_connect_can_be_switched_off(smartcar, browser, user, settings, dead_broker, caplog):  # noqa: F811
    settings.SMARTCAR = {**settings.SMARTCAR, "REFRESH_ON_CONNECT": False}
    with caplog.at_level(logging.ERROR, logger="django_smartcar"):
        response = connect_through_views(browser)

    assert response.status_code == 302, response.content
    assert "first data refresh" not in caplog.text  # nothing was even tried
