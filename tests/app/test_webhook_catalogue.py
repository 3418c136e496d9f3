"""The simulator's webhooks for the catalogue's cars, through the app's receiver over HTTP: a plug-in hybrid's
VEHICLE_STATE carries both its fuel and its battery signals, a stale car's signals are as old as its data, a
sleeping car gets VEHICLE_STATE/ASLEEP as a VEHICLE_ERROR, then RESOLVED once awake; a CONNECTED_SERVICES_ACCOUNT
error event is recorded on the vehicle, or asks for re-authentication when its resolution says so."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from django_smartcar.models import Vehicle, WebhookEvent
from django_smartcar.simulator import clock
from django_smartcar.simulator import webhooks as simulated
from django_smartcar.simulator.seeding import create_user, create_vehicle
from django_smartcar.simulator.vehicle_state import is_sleeping

from .conftest import connect_through_service

OWNER = "webhook-catalogue@example.com"
URL_ID = "hook-Catalogue0123456789ab"
WEBHOOK_ID = "webhook-catalogue"


@pytest.fixture
def eager_tasks():
    from tests.celery_app import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def webhook(live_server, smartcar, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "WEBHOOK_ID": WEBHOOK_ID}
    url = f"{live_server.url}/smartcar/webhooks/{URL_ID}/"
    return simulated.register_webhook(smartcar.application, url, webhook_id=WEBHOOK_ID)


@pytest.fixture
def hooked_car(smartcar, webhook, user, eager_tasks):
    """One car of ``OWNER`` made with the given attributes, connected (and so subscribed to the webhook)."""

    def connect(**attributes):
        car = create_vehicle(create_user(OWNER), **attributes)
        account = connect_through_service(smartcar, user, email=OWNER)
        return car, account.vehicles.get(smartcar_id=car.pk)

    return connect


def signals_of(event: WebhookEvent) -> dict[str, dict]:
    return {signal["code"]: signal for signal in json.loads(event.body)["data"]["signals"]}


def test_a_plug_in_hybrids_webhook_carries_and_stores_both_fuel_and_battery(hooked_car, webhook):
    _, vehicle = hooked_car(powertrain="PHEV", battery_level=0.4, fuel_level=0.7, speed_kmh=0.0)

    (delivery,) = simulated.deliver(webhook)

    assert delivery.status_code == 200
    signals = signals_of(WebhookEvent.objects.get())
    for code in (
        "tractionbattery-stateofcharge",
        "charge-ischargingcableconnected",
        "internalcombustionengine-fuellevel",
        "internalcombustionengine-amountremaining",
    ):
        assert signals[code]["status"] == {"value": "SUCCESS"}, code
    vehicle.refresh_from_db()
    assert vehicle.battery_percent_remaining == pytest.approx(40, abs=1)
    assert vehicle.fuel_percent_remaining == pytest.approx(70, abs=1)
    assert vehicle.battery_range_km and vehicle.fuel_range_km and vehicle.fuel_amount_liters
    assert vehicle.is_plugged_in is not None


def test_a_stale_cars_signals_are_as_old_as_its_data_and_the_app_keeps_that_age(hooked_car, webhook):
    _, vehicle = hooked_car(powertrain="FUEL", data_age_hours=6, speed_kmh=0.0)
    before = timezone.now()

    simulated.deliver(webhook)

    after = timezone.now()
    odometer = signals_of(WebhookEvent.objects.get())["odometer-traveleddistance"]["meta"]
    assert odometer["retrievedAt"] - odometer["oemUpdatedAt"] == pytest.approx(6 * 3600 * 1000, abs=1)
    vehicle.refresh_from_db()
    for age in (vehicle.odometer_age, vehicle.fuel_age, vehicle.location_age):
        assert before - timedelta(hours=6, seconds=1) <= age <= after - timedelta(hours=6)


def test_a_sleeping_car_gets_an_asleep_error_then_resolved_once_awake(hooked_car, webhook, monkeypatch):
    car, vehicle = hooked_car(powertrain="FUEL", speed_kmh=0.0, awake_minutes=10, asleep_minutes=20)
    moment = clock.now().replace(second=0, microsecond=0)
    while not is_sleeping(car, moment):
        moment += timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: moment)

    (delivery,) = simulated.deliver(webhook)

    assert delivery.status_code == 200
    (event,) = WebhookEvent.objects.all()
    payload = json.loads(event.body)
    assert payload["eventType"] == "VEHICLE_ERROR"
    (error,) = payload["data"]["errors"]
    assert (error["type"], error["code"], error["state"]) == ("VEHICLE_STATE", "ASLEEP", "ERROR")
    assert error["resolution"] == {"type": None}
    vehicle = Vehicle.objects.get(pk=vehicle.pk)
    assert "VEHICLE_STATE:ASLEEP" in vehicle.vehicle_errors

    while is_sleeping(car, moment):
        moment += timedelta(minutes=1)
    deliveries = simulated.deliver(webhook)

    assert [delivery.event_type for delivery in deliveries] == ["VEHICLE_ERROR", "VEHICLE_STATE"]
    vehicle = Vehicle.objects.get(pk=vehicle.pk)
    assert not vehicle.vehicle_errors and vehicle.odometer_km


def test_a_connected_services_account_error_event_is_recorded_for_the_owner_not_a_reconnect(
    hooked_car, webhook
):
    car, vehicle = hooked_car(powertrain="FUEL", speed_kmh=0.0)

    delivery = simulated.report_error(webhook, car, "CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION")

    assert delivery.status_code == 200
    (error,) = json.loads(WebhookEvent.objects.get().body)["data"]["errors"]
    assert error["resolution"] == {"type": None}
    assert error["docURL"].endswith("/connected-services-account-errors#subscription")
    vehicle = Vehicle.objects.select_related("account").get(pk=vehicle.pk)
    assert "CONNECTED_SERVICES_ACCOUNT:SUBSCRIPTION" in vehicle.vehicle_errors
    assert vehicle.account.status == vehicle.account.Status.ACTIVE

    simulated.report_error(webhook, car, "CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION", resolved=True)

    assert not Vehicle.objects.get(pk=vehicle.pk).vehicle_errors


def test_authentication_failed_in_an_error_event_asks_for_reauthentication(hooked_car, webhook):
    car, vehicle = hooked_car(powertrain="FUEL", speed_kmh=0.0)

    simulated.report_error(webhook, car, "CONNECTED_SERVICES_ACCOUNT", "AUTHENTICATION_FAILED")

    (error,) = json.loads(WebhookEvent.objects.get().body)["data"]["errors"]
    assert error["resolution"] == {"type": "REAUTHENTICATE"}
    account = Vehicle.objects.select_related("account").get(pk=vehicle.pk).account
    assert account.status == account.Status.REAUTH_REQUIRED
