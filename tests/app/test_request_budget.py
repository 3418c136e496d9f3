"""Each vehicle's monthly request budget against the simulator's billing (which answers 430 past its limit, as
Smartcar does): the ledger counts what Smartcar bills, polling stops at its share, people keep the reserved
share, commands are counted, the warning signal fires once, and no read ever gets a 430."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_smartcar import client
from django_smartcar.exceptions import BudgetExhausted
from django_smartcar.models import VehicleCommand, VehicleRequestUsage
from django_smartcar.services import budget, commands, polling
from django_smartcar.services.vehicles import refresh_vehicle_data, refreshable_paths
from django_smartcar.simulator.models import RateBucket

from .conftest import connect_through_service

PLAN = 30  # billed requests per vehicle a month, at the app and at the simulator alike


def simulator_billed(car) -> int:
    return sum(RateBucket.objects.filter(key=f"billing:{car.smartcar_id}").values_list("count", flat=True))


def ledger(car) -> int:
    row = VehicleRequestUsage.objects.filter(vehicle=car).first()
    return row.total if row else 0


@pytest.fixture
def plan(smartcar, settings):
    """The same monthly plan at the app and at Smartcar (the simulator)."""
    settings.SMARTCAR = {**settings.SMARTCAR, "MONTHLY_REQUESTS_PER_VEHICLE": PLAN}
    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "VEHICLE_MONTHLY_REQUEST_LIMIT": PLAN}
    return PLAN


@pytest.fixture
def car(plan, smartcar, browser, user):
    account = connect_through_service(smartcar, user)
    return account.vehicles.order_by("pk").first()


def test_the_ledger_counts_what_smartcar_bills(car):
    """A v2 batch is billed per item, Connect's identification of the car too (attributes and VIN): the ledger
    and the simulator's billing agree after Connect and after each read."""
    assert ledger(car) == simulator_billed(car) == 2
    items = len(refreshable_paths(car))
    refresh_vehicle_data(car, retry_later=False)

    assert ledger(car) == simulator_billed(car) == 2 + items
    car.refresh_from_db()
    assert car.next_poll_at > timezone.now() and car.poll_reason == polling.PARKED


def test_polling_stops_at_its_share_and_people_keep_theirs(car, browser):
    """Polling may use 80 % of the plan; past it a poll is refused before anything is sent, the vehicle is not
    due before next month, and a person's refresh still goes through, up to the plan, never to a 430."""
    items = len(refreshable_paths(car))
    scheduled_share = int(PLAN * 0.8)
    polls = scheduled_share // items
    for _ in range(polls):
        refresh_vehicle_data(car, retry_later=False)
    sent = simulator_billed(car)

    with pytest.raises(BudgetExhausted):
        refresh_vehicle_data(car, retry_later=False)
    assert simulator_billed(car) == sent  # nothing was sent
    car.refresh_from_db()
    assert car.poll_reason == polling.BUDGET and car.next_poll_at >= budget.next_month_start(timezone.now())

    while ledger(car) + items <= PLAN:
        refresh_vehicle_data(car, retry_later=False, kind=budget.USER)
    assert ledger(car) == simulator_billed(car) <= PLAN

    response = browser.post(f"/api/smartcar/vehicles/{car.pk}/refresh/?async=0")
    assert response.status_code == 429, response.content
    assert response.json()["type"] == "BUDGET" and int(response["Retry-After"]) > 0
    assert simulator_billed(car) == ledger(car)  # still nothing sent, and no 430 at any point


def test_a_command_is_counted_and_refused_past_the_plan(plan, smartcar, browser, user, settings):
    # Connect's identification of the car bills 2 (attributes, VIN): room for two commands.
    settings.SMARTCAR = {**settings.SMARTCAR, "MONTHLY_REQUESTS_PER_VEHICLE": 4}
    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "VEHICLE_MONTHLY_REQUEST_LIMIT": 4}
    car = connect_through_service(smartcar, user).vehicles.order_by("pk").first()

    outcomes = [commands.send_command(car, VehicleCommand.Action.LOCK).status for _ in range(3)]

    assert outcomes == ["succeeded", "succeeded", "failed"]
    last = VehicleCommand.objects.order_by("-pk").first()
    assert last.error_type == "BUDGET" and last.retry_after > 0
    assert ledger(car) == simulator_billed(car) == 4


def test_the_warning_fires_once_a_month(car, record_signal):
    nearing = record_signal("vehicle_budget_nearing")
    items = len(refreshable_paths(car))
    while ledger(car) + items <= PLAN:
        refresh_vehicle_data(car, retry_later=False, kind=budget.USER)

    assert len(nearing.calls) == 1
    call = nearing.calls[0]
    assert call["vehicle"] == car and call["limit"] == PLAN and call["used"] >= PLAN * 0.8
    assert call["month"] == budget.month_of(timezone.now())


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_pass_the_budget(car):
    """Eight threads reserve at once: exactly polling's share is granted, whatever the interleaving."""
    VehicleRequestUsage.objects.all().delete()
    granted = []
    start = threading.Barrier(8)

    def reserve_many():
        start.wait()
        try:
            for _ in range(10):
                if budget.reserve(car, 1, budget.SCHEDULED):
                    granted.append(1)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == ledger(car) == int(PLAN * 0.8)


def test_a_read_smartcar_did_not_bill_is_given_back(car, settings):
    """A 429 is not billed: the ledger gives the reservation back, and the poll waits for Retry-After."""
    settings.SMARTCAR_SIMULATOR = {
        **settings.SMARTCAR_SIMULATOR,
        "VEHICLE_RATE_LIMIT": {"requests": 1, "window_seconds": 3600},
    }
    refresh_vehicle_data(car, retry_later=False)
    billed = ledger(car)

    with pytest.raises(client.RateLimitingException) as refused:
        refresh_vehicle_data(car, retry_later=False)

    assert refused.value.status_code == 429
    assert ledger(car) == simulator_billed(car) == billed
    car.refresh_from_db()
    assert car.poll_reason == polling.RATE_LIMITED
    assert car.next_poll_at >= timezone.now() + timedelta(seconds=refused.value.retry_after - 5)


def test_the_api_and_the_admin_show_budget_use_and_next_poll(car, browser, admin_client):
    refresh_vehicle_data(car, retry_later=False)
    car.refresh_from_db()

    detail = browser.get(f"/api/smartcar/vehicles/{car.pk}/").json()["request_budget"]
    listed = browser.get("/api/smartcar/vehicles/").json()["results"][0]["request_budget"]

    assert detail == listed
    assert detail["used"] == ledger(car) > 0 and detail["limit"] == PLAN
    assert detail["month"] == f"{timezone.now():%Y-%m}" and detail["polling_state"] == "parked"
    assert detail["next_poll_at"] is not None
    page = admin_client.get("/admin/django_smartcar/vehicle/").content.decode()
    assert f"{ledger(car)} / {PLAN}" in page
    page = admin_client.get(f"/admin/django_smartcar/vehicle/{car.pk}/change/").content.decode()
    assert f"{ledger(car)} / {PLAN}" in page and "Next poll" in page
