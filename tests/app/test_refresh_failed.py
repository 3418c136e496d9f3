""" "A refresh failed" means nothing could be read, not "nothing newer": one rule (``RefreshResult.failed``) that
the admin, the API and ``smartcar_sync`` all apply. Against the live simulator."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_smartcar.models import Vehicle
from django_smartcar.services.vehicles import DATA_GROUPS, refresh_vehicle_data

from .test_admin import VEHICLES_URL, messages_of, operator, run_action  # noqa: F401


@pytest.fixture
def read_but_nothing_newer(account, smartcar) -> Vehicle:
    """A vehicle whose stored data is newer than anything the car reports, and whose location is not granted."""
    vehicle = account.vehicles.order_by("pk").first()
    refresh_vehicle_data(vehicle)
    later = timezone.now() + timedelta(days=1)
    Vehicle.objects.filter(pk=vehicle.pk).update(
        **{group.age_field: later for group in DATA_GROUPS if group.age_field}
    )
    grant = smartcar.application.grants.latest("id")
    grant.scope = [scope for scope in grant.scope if scope != "read_location"]
    grant.save()
    vehicle.refresh_from_db()
    return vehicle


def test_data_read_but_not_newer_is_no_failed_refresh(read_but_nothing_newer):
    result = refresh_vehicle_data(read_but_nothing_newer)

    assert result.updated == [] and list(result.errors) == ["/location"]
    assert "odometer" in result.read
    assert not result.failed


def test_the_admin_reports_success_with_the_failed_data_point(read_but_nothing_newer, operator, worker):  # noqa: F811
    vehicle = read_but_nothing_newer

    run_action(operator, VEHICLES_URL, "refresh_data", [vehicle], confirm=True)
    worker()

    page = operator.get(VEHICLES_URL).content.decode()
    assert "nothing newer to report; could not read location: permission not granted" in page
    assert Vehicle.objects.get(pk=vehicle.pk).last_refresh.status == "succeeded"


def test_the_api_answers_200_naming_the_failed_data_point(read_but_nothing_newer, browser):
    response = browser.post(f"/api/smartcar/vehicles/{read_but_nothing_newer.pk}/refresh/?async=0")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["updated"] == [] and [error["path"] for error in answer["errors"]] == ["/location"]


def test_smartcar_sync_counts_it_refreshed(read_but_nothing_newer):
    out, err = StringIO(), StringIO()

    call_command(
        "smartcar_sync",
        "--vehicle",
        str(read_but_nothing_newer.pk),
        "--fail-on-error",
        stdout=out,
        stderr=err,
    )

    assert "could not read location: permission not granted" in out.getvalue()
    assert "vehicles refreshed" in out.getvalue() + err.getvalue()


def test_nothing_read_is_a_failed_refresh(account, smartcar, browser):
    vehicle = account.vehicles.order_by("pk").first()
    grant = smartcar.application.grants.latest("id")
    grant.scope = ["read_vehicle_info"]
    grant.save()
    Vehicle.objects.filter(pk=vehicle.pk).update(permissions=["read_odometer"])
    vehicle.refresh_from_db()

    result = refresh_vehicle_data(vehicle)
    assert result.failed and result.read == []

    response = browser.post(f"/api/smartcar/vehicles/{vehicle.pk}/refresh/?async=0")
    assert response.status_code == 403 and response.json()["type"] == "PERMISSION"
