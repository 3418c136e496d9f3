"""Webhook payloads in every shape captured from the real Smartcar (the project's own payloads, written in those
shapes: tests/app/webhook_payloads.py) go through the receiver over HTTP, signed, and what is stored matches
their meaning: values in the app's units, each data group's age the time the car reported it, per-signal errors
as what they say about the vehicle (not the account), and VEHICLE_ERROR events, ERROR then RESOLVED."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from django_smartcar import tasks
from django_smartcar.models import SmartcarAccount, Vehicle, VehicleSignal, WebhookEvent
from django_smartcar.simulator.webhooks import sign

from . import webhook_payloads as payloads

URL_ID = "shapes-Jf83kQm2Zt6x"
TOKEN = "shapes-management-token"
EVERY_PERMISSION = [
    "read_vehicle_info",
    "read_vin",
    "read_odometer",
    "read_location",
    "read_battery",
    "read_charge",
    "read_fuel",
    "read_engine_oil",
    "read_tires",
    "read_security",
    "control_security",
]


@pytest.fixture
def receiver_url(live_server, transactional_db, settings):
    from tests.celery_app import app

    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "MANAGEMENT_TOKEN": TOKEN}
    app.conf.task_always_eager = True  # processing runs inline, after the receiver's commit
    yield f"{live_server.url}/smartcar/webhooks/{URL_ID}/"
    app.conf.task_always_eager = False


@pytest.fixture
def retries(monkeypatch):
    """The refreshes queued to retry a vehicle reported asleep or unreachable: ``(vehicle pk, countdown)``."""
    queued: list[tuple[int, float]] = []
    monkeypatch.setattr(
        tasks.refresh_vehicle_data,
        "apply_async",
        lambda args, countdown: queued.append((args[0], countdown)),
    )
    return queued


@pytest.fixture
def car(django_user_model) -> Vehicle:
    owner = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    account = SmartcarAccount(
        owner=owner,
        smartcar_user_id=payloads.USER_ID,
        access_expires_at=timezone.now() + timedelta(hours=2),
        refresh_expires_at=timezone.now() + timedelta(days=60),
    )
    account.access_token, account.refresh_token = "access", "refresh"
    account.save()
    return Vehicle.objects.create(
        account=account, smartcar_id="8a1f5e3c-2d4b-4c6a-9e8f-7b6a5d4c3b2a", permissions=EVERY_PERMISSION
    )


def send(url: str, payload: dict) -> requests.Response:
    """POST the payload signed as Smartcar signs it (compact JSON, the exact bytes)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "SC-Signature": sign(TOKEN, body),
        "User-Agent": "Smartcar/4.0",
    }
    return requests.post(url, data=body, headers=headers, timeout=30)


def delivered(url: str, payload: dict) -> None:
    """Send it, and check it was stored and processed without any part skipped."""
    response = send(url, payload)
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get(event_id=payload["eventId"])
    assert event.processed_at is not None and event.last_error == "", event.last_error


def stored(car: Vehicle) -> Vehicle:
    car.refresh_from_db()
    car.account.refresh_from_db()
    return car


def test_a_plug_in_hybrid_with_a_per_signal_error_keeps_its_other_signals(receiver_url, car):
    delivered(receiver_url, payloads.byd_phev(car.smartcar_id))

    car = stored(car)
    reported = payloads.at(payloads.BYD_OEM)  # oemUpdatedAt: when the car recorded them, not the receipt time
    assert (car.battery_percent_remaining, car.battery_age) == (64, reported)
    assert (car.odometer_km, car.odometer_age) == (8215, reported)
    assert (car.is_locked, car.lock_age) == (False, reported)
    assert set(car.not_capable) == {"fuel"}  # FuelLevel: COMPATIBILITY/VEHICLE_NOT_CAPABLE
    assert car.fuel_percent_remaining is None
    assert car.account.status == SmartcarAccount.Status.ACTIVE and car.missing_permissions == {}


def test_each_signal_keeps_its_own_age_and_a_server_error_drops_nothing_else(receiver_url, car):
    delivered(receiver_url, payloads.polestar(car.smartcar_id))

    car = stored(car)
    assert (car.odometer_km, car.odometer_age) == (31877.4, payloads.at(payloads.POLESTAR_ODOMETER_OEM))
    assert (car.latitude, car.longitude) == (59.3293, 18.0686)
    assert car.location_age == payloads.at(payloads.POLESTAR_LOCATION_OEM)
    assert (car.battery_percent_remaining, car.battery_range_km) == (71, 263)
    assert car.battery_age == payloads.at(payloads.POLESTAR_CHARGE_OEM)
    assert (car.charge_state, car.is_plugged_in) == ("CHARGING", True)
    assert car.charge_age == payloads.at(payloads.POLESTAR_CHARGE_OEM)
    assert car.vin == "LPSVSEDEEML004321"  # a static signal: its times are 0
    assert car.is_locked is True
    assert car.not_capable == {} and car.missing_permissions == {} and car.vehicle_errors == {}


def test_permission_errors_on_signals_the_app_does_not_use_change_nothing(receiver_url, car):
    delivered(receiver_url, payloads.jaguar_ipace(car.smartcar_id))

    car = stored(car)
    assert (car.odometer_km, car.odometer_age) == (120544, payloads.at(payloads.JAGUAR_OEM))
    assert (car.battery_percent_remaining, car.battery_range_km) == (47, 151)
    assert (car.charge_state, car.is_plugged_in) == ("NOT_CHARGING", False)
    assert car.location_age == payloads.at(payloads.JAGUAR_LOCATION_OEM)
    assert car.vin == "SADHA2B11K1F00042"
    assert car.missing_permissions == {} and car.account.status == SmartcarAccount.Status.ACTIVE


@pytest.mark.parametrize(
    ("pressures", "unit", "kpa"),
    [
        # As captured: "bar" with kPa-sized values (read as kPa, as Home Assistant does).
        (
            (258, 262, 255, 260.5),
            "bar",
            {"frontLeft": 258, "frontRight": 262, "backLeft": 255, "backRight": 260.5},
        ),
        # Real bar values.
        (
            (2.5, 2.6, 2.4, 2.5),
            "bar",
            {"frontLeft": 250, "frontRight": 260, "backLeft": 240, "backRight": 250},
        ),
        (
            (36, 36, 35, 35),
            "psi",
            {"frontLeft": 248.211, "frontRight": 248.211, "backLeft": 241.316, "backRight": 241.316},
        ),
        (
            (240, 241, 242, 243),
            "kPa",
            {"frontLeft": 240, "frontRight": 241, "backLeft": 242, "backRight": 243},
        ),
    ],
)
def test_tire_pressures_are_stored_in_kpa_whatever_unit_smartcar_writes(
    receiver_url, car, pressures, unit, kpa
):
    delivered(receiver_url, payloads.jaguar_ipace_tires(car.smartcar_id, pressures=pressures, unit=unit))

    car = stored(car)
    assert car.tire_pressure_kpa == pytest.approx(kpa, abs=0.01)
    assert car.tires_age == payloads.at(payloads.JAGUAR2_OEM)
    # Every engine signal not capable: an electric car has no fuel nor oil data to ask for.
    assert {"fuel", "engine_oil"} <= set(car.not_capable)


def test_the_2025_shape_a_per_signal_permission_error_marks_that_permission_missing_on_the_vehicle(
    receiver_url, car
):
    delivered(receiver_url, payloads.vw_id4_all(car.smartcar_id))

    car = stored(car)
    assert (car.odometer_km, car.odometer_age) == (58112, payloads.at(payloads.VW_ODOMETER_OEM))
    assert (car.battery_percent_remaining, car.battery_age) == (57, payloads.at(payloads.VW_SOC_OEM))
    # IsLocked: PERMISSION. The vehicle lacks read_security; the account is not asked to re-authenticate.
    assert set(car.missing_permissions) == {"read_security"}
    assert not car.has_permission("read_security") and car.has_permission("read_odometer")
    assert car.account.status == SmartcarAccount.Status.ACTIVE
    # FuelLevel not capable (fuel); a range the car cannot give does not make the battery not capable.
    assert set(car.not_capable) == {"fuel"}


def test_a_vehicle_error_scoped_to_signals_marks_them_and_keeps_the_account(receiver_url, car):
    delivered(receiver_url, payloads.vw_id4_error(car.smartcar_id))

    car = stored(car)
    assert set(car.missing_permissions) == {"read_security"}  # found by its code: name and group were swapped
    assert set(car.not_capable) == {"fuel"}  # "InternalCombustionEngine.FuelLevel"
    assert car.account.status == SmartcarAccount.Status.ACTIVE


def test_a_broad_permission_error_asks_the_owner_to_reauthenticate(receiver_url, car):
    delivered(receiver_url, payloads.vw_id4_broad_auth_error(car.smartcar_id))

    car = stored(car)
    assert car.account.status == SmartcarAccount.Status.REAUTH_REQUIRED
    assert car.missing_permissions == {}


def test_a_permission_error_about_signals_the_app_does_not_read_is_harmless(receiver_url, car):
    delivered(receiver_url, payloads.vw_id4_irrelevant_auth_error(car.smartcar_id))

    car = stored(car)
    assert car.account.status == SmartcarAccount.Status.ACTIVE
    assert car.missing_permissions == {}


def test_an_event_for_an_unknown_vehicle_is_accepted_and_stores_nothing(receiver_url, car):
    delivered(receiver_url, payloads.vw_id4_mismatch())

    assert stored(car).odometer_km is None


@pytest.mark.parametrize("build", [payloads.vw_id4_verify, payloads.verify_iso_delivered])
def test_verify_events_in_both_captured_shapes_are_answered(receiver_url, build):
    from django_smartcar.client import hash_challenge

    payload = build()
    response = send(receiver_url, payload)

    assert response.status_code == 200
    assert response.json() == {"challenge": hash_challenge(TOKEN, payload["data"]["challenge"])}


def test_the_oct_2025_shape_without_status_is_read(receiver_url, car):
    delivered(receiver_url, payloads.oct_2025_without_status(car.smartcar_id))

    car = stored(car)
    reported = payloads.at(payloads.OCT_OEM)
    assert (car.odometer_km, car.odometer_age) == (21337.5, reported)
    assert (car.fuel_percent_remaining, car.fuel_age) == (75, reported)


def state_with(vehicle_id: str, event_id: str, *signals: dict, triggers=None, data_triggers=None) -> dict:
    payload = payloads.state(
        event_id,
        payloads.vehicle(vehicle_id, "BMW", "i3", 2019),
        list(signals),
        triggers or [],
        payloads.OCT_OEM,
    )
    if data_triggers is not None:
        payload["data"]["triggers"] = data_triggers
    return payload


def signal(code: str, body: dict, oem=payloads.OCT_OEM, retrieved=payloads.OCT_OEM + 900) -> dict:
    group, _, name = code.partition("-")
    return payloads.ok(code, name, group, body, oem, retrieved)


@pytest.mark.parametrize(
    ("body", "percent"),
    [
        ({"value": 0.77}, 77),  # no unit, at most 1: a fraction (a captured BMW)
        ({"value": 75, "unit": "percent"}, 75),
        ({"value": 75}, 75),  # no unit, above 1: a percent
        ({"value": 1, "unit": "percent"}, 1),
    ],
)
def test_fuel_level_is_read_as_a_fraction_or_a_percent(receiver_url, car, body, percent):
    delivered(
        receiver_url,
        state_with(car.smartcar_id, "fuel-level", signal("internalcombustionengine-fuellevel", body)),
    )

    assert stored(car).fuel_percent_remaining == pytest.approx(percent)


@pytest.mark.parametrize(
    ("code", "body", "field", "expected"),
    [
        ("odometer-traveleddistance", {"value": 100, "unit": "miles"}, "odometer_km", 160.9344),
        ("odometer-traveleddistance", {"value": 100, "unit": "kilometers"}, "odometer_km", 100),
        ("internalcombustionengine-range", {"value": 450, "unit": "kilometers"}, "fuel_range_km", 450),
        ("internalcombustionengine-range", {"value": 200, "unit": "miles"}, "fuel_range_km", 321.8688),
        (
            "internalcombustionengine-amountremaining",
            {"value": 45.5, "unit": "liters"},
            "fuel_amount_liters",
            45.5,
        ),
        (
            "internalcombustionengine-amountremaining",
            {"value": 10, "unit": "gallons"},
            "fuel_amount_liters",
            37.85412,
        ),
        ("internalcombustionengine-oillife", {"value": 85, "unit": "percent"}, "oil_life_remaining", 85),
        ("tractionbattery-range", {"value": 290, "type": "DEFAULT", "unit": "km"}, "battery_range_km", 290),
    ],
)
def test_units_as_smartcar_writes_them(receiver_url, car, code, body, field, expected):
    delivered(receiver_url, state_with(car.smartcar_id, f"unit-{code}-{body['unit']}", signal(code, body)))

    assert getattr(stored(car), field) == pytest.approx(expected, abs=0.001)


def test_iso_times_are_read_too_and_the_documented_fetched_at(receiver_url, car):
    odometer = signal("odometer-traveleddistance", {"value": 5, "unit": "km"})
    odometer["meta"] = {"oemUpdatedAt": "2025-10-21T03:00:00.250Z", "retrievedAt": "2025-10-21T03:00:09Z"}
    location = signal("location-preciselocation", {"latitude": 48.85, "longitude": 2.35})
    location["meta"] = {"fetchedAt": "2025-10-21T02:59:00Z"}  # the docs' name; no oemUpdatedAt
    delivered(receiver_url, state_with(car.smartcar_id, "iso-times", odometer, location))

    car = stored(car)
    assert car.odometer_age == payloads.at(1761015600250)  # 2025-10-21T03:00:00.250Z
    assert car.location_age == payloads.at(1761015540000)  # 2025-10-21T02:59:00Z


@pytest.mark.parametrize(
    ("triggers", "data_triggers", "expected"),
    [
        (
            [payloads.updated("odometer-traveleddistance", "TraveledDistance", "Odometer")],
            None,
            [("SIGNAL_UPDATED", "odometer-traveleddistance")],
        ),
        ([{"type": "FIRST_DELIVERY"}], None, [("FIRST_DELIVERY", None)]),
        (
            [{"type": "SIGNAL_UPDATED", "signal": "Odometer.TraveledDistance"}],
            None,
            [("SIGNAL_UPDATED", "odometer-traveleddistance")],
        ),
        (
            None,
            [{"code": "odometer-traveleddistance", "name": "TraveledDistance", "group": "Odometer"}],
            [("SIGNAL_UPDATED", "odometer-traveleddistance")],
        ),
        (None, [{"code": "FIRST_DELIVERY"}], [("FIRST_DELIVERY", None)]),
    ],
)
def test_every_documented_trigger_shape_is_read(
    receiver_url, car, record_signal, triggers, data_triggers, expected
):
    processed = record_signal("webhook_processed")
    payload = state_with(
        car.smartcar_id,
        f"triggers-{len(processed.calls)}-{json.dumps([triggers, data_triggers])[:60]}",
        signal("odometer-traveleddistance", {"value": 7, "unit": "km"}),
        triggers=triggers,
        data_triggers=data_triggers,
    )
    delivered(receiver_url, payload)

    assert stored(car).odometer_km == 7
    (call,) = processed.calls
    assert call["triggers"] == expected


def unreachable(vehicle_id: str, event_id: str, state: str) -> dict:
    error = {
        "type": "VEHICLE_STATE",
        "code": "UNREACHABLE",
        "state": state,
        "description": "The vehicle is now reachable."
        if state == "RESOLVED"
        else "The vehicle is unreachable.",
        "signals": [{"code": "location-preciselocation", "name": "PreciseLocation", "group": "Location"}],
    }
    if state == "ERROR":
        error["resolution"] = {"type": "RETRY_LATER"}
    return payloads.vehicle_error(vehicle_id, event_id, [error])


def test_a_vehicle_state_error_is_recorded_retried_later_and_cleared_when_resolved(
    receiver_url, car, retries, settings
):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_VEHICLE_STATE_RETRY_AFTER": timedelta(minutes=20)}

    delivered(receiver_url, unreachable(car.smartcar_id, "unreachable-1", "ERROR"))

    car = stored(car)
    assert set(car.vehicle_errors) == {"VEHICLE_STATE:UNREACHABLE"}
    assert car.account.status == SmartcarAccount.Status.ACTIVE
    assert retries == [(car.pk, 1200.0)]

    delivered(receiver_url, unreachable(car.smartcar_id, "unreachable-2", "RESOLVED"))

    assert stored(car).vehicle_errors == {}
    assert len(retries) == 1


def test_a_resolved_permission_error_gives_the_permission_back(receiver_url, car):
    delivered(receiver_url, payloads.vw_id4_error(car.smartcar_id))
    resolved = payloads.vw_id4_error(car.smartcar_id)
    resolved["eventId"] = "resolved-permission"
    for error in resolved["data"]["errors"]:
        error["state"] = "RESOLVED"
    delivered(receiver_url, resolved)

    car = stored(car)
    assert car.missing_permissions == {} and car.not_capable == {}
    assert car.has_permission("read_security")


def test_data_of_a_permission_reported_missing_gives_it_back(receiver_url, car):
    delivered(receiver_url, payloads.vw_id4_all(car.smartcar_id))
    assert set(stored(car).missing_permissions) == {"read_security"}

    delivered(
        receiver_url,
        state_with(
            car.smartcar_id, "locked-again", signal("closure-islocked", {"value": True}, oem=payloads.VW_READ)
        ),
    )

    car = stored(car)
    assert car.missing_permissions == {} and car.is_locked is True


def test_a_v2_item_refused_for_permission_marks_that_permission_missing_not_the_account(receiver_url, car):
    payload = {
        "version": "2.0",
        "webhookId": payloads.WEBHOOK_ID,
        "eventName": "schedule",
        "mode": "live",
        "payload": {
            "vehicles": [
                {
                    "vehicleId": car.smartcar_id,
                    "requestId": "2b1f0c7e-1d2a-4e3b-9c4d-5e6f7a8b9c0d",
                    "data": [
                        {
                            "path": "/odometer",
                            "code": 200,
                            "body": {"distance": 1234.5},
                            "headers": {"sc-data-age": "2025-10-21T03:00:00.000Z"},
                        },
                        {
                            "path": "/location",
                            "code": 403,
                            "body": {
                                "type": "PERMISSION",
                                "code": None,
                                "description": "Your application has insufficient permissions.",
                                "resolution": {"type": "REAUTHENTICATE"},
                            },
                        },
                    ],
                }
            ]
        },
    }
    response = send(receiver_url, payload)
    assert response.status_code == 200, response.content

    car = stored(car)
    assert (car.odometer_km, car.odometer_age) == (1234.5, payloads.at(1761015600000))
    assert set(car.missing_permissions) == {"read_location"}
    assert car.account.status == SmartcarAccount.Status.ACTIVE


@pytest.mark.parametrize(
    "build",
    [
        payloads.byd_phev,
        payloads.polestar,
        payloads.jaguar_ipace,
        payloads.vw_id4_all,
        payloads.oct_2025_without_status,
    ],
)
def test_every_signal_of_every_captured_shape_is_stored_as_sent(receiver_url, car, build):
    payload = build(car.smartcar_id)

    delivered(receiver_url, payload)

    stored = {row.code: row for row in VehicleSignal.objects.filter(vehicle=car)}
    reported = payload["data"]["signals"]
    assert set(stored) == {signal["code"] for signal in reported}
    for signal in reported:
        row = stored[signal["code"]]
        status = (signal.get("status") or {}).get("value", "SUCCESS")
        assert (row.name, row.group, row.status) == (signal["name"], signal["group"], status)
        assert row.body == signal.get("body")
        assert row.error == (signal["status"].get("error") if status == "ERROR" else None)
        oem = (signal.get("meta") or {}).get("oemUpdatedAt")
        assert row.oem_updated_at == (payloads.at(oem) if oem else None)
