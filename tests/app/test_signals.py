"""Signals stored: the latest of every signal a vehicle reports, by code, newer never losing to older per signal,
from webhooks (routed by Smartcar user) and from any caller of ``services.signals``; shown in the admin."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
import requests
from django.db import connection
from django.utils import timezone

from django_smartcar.models import SmartcarAccount, Vehicle, VehicleSignal, WebhookEvent
from django_smartcar.services import signals as signal_service
from django_smartcar.services.signals import read_signals, record_signals
from django_smartcar.simulator.webhooks import sign

from . import webhook_payloads as payloads

URL_ID = "signals-Q7m2Lk9xZt4w"
TOKEN = "signals-management-token"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=dt_timezone.utc)
RECEIVED = T0 + timedelta(minutes=5)


def ms(moment: datetime) -> int:
    return payloads.ms(moment)


def odometer(km: float, oem: datetime | None, retrieved: datetime | None = None) -> dict[str, Any]:
    meta = {}
    if oem is not None:
        meta["oemUpdatedAt"] = ms(oem)
    if retrieved is not None:
        meta["retrievedAt"] = ms(retrieved)
    return {
        "code": "odometer-traveleddistance",
        "name": "TraveledDistance",
        "group": "Odometer",
        "body": {"value": km, "unit": "km"},
        "meta": meta,
        "status": {"value": "SUCCESS"},
    }


def locked(value: bool, oem: datetime) -> dict[str, Any]:
    return payloads.ok("closure-islocked", "IsLocked", "Closure", {"value": value}, ms(oem), ms(oem) + 500)


def odometer_error(error_type: str = "VEHICLE_STATE", code: str = "ASLEEP") -> dict[str, Any]:
    return payloads.failed("odometer-traveleddistance", "TraveledDistance", "Odometer", error_type, code)


def make_car(owner, *, smartcar_user_id: str = payloads.USER_ID, api_version: str = "2.0") -> Vehicle:
    account = SmartcarAccount(
        owner=owner,
        smartcar_user_id=smartcar_user_id,
        api_version=api_version,
        access_expires_at=timezone.now() + timedelta(hours=2) if api_version == "2.0" else None,
        refresh_expires_at=timezone.now() + timedelta(days=60) if api_version == "2.0" else None,
    )
    if api_version == "2.0":
        account.access_token, account.refresh_token = "access", "refresh"
    account.save()
    return Vehicle.objects.create(
        account=account,
        smartcar_id=f"car-of-{smartcar_user_id}",
        permissions=["read_odometer", "read_security", "read_battery", "read_fuel", "read_vin"],
    )


@pytest.fixture
def car(db, django_user_model) -> Vehicle:
    return make_car(django_user_model.objects.create_user("ann", "ann@example.com", "pw"))


def rows(vehicle: Vehicle) -> dict[str, VehicleSignal]:
    return {row.code: row for row in VehicleSignal.objects.filter(vehicle=vehicle)}


# --- record_signals -------------------------------------------------------------------------------------------


def test_every_signal_is_stored_by_code_mapped_to_a_typed_field_or_not(car):
    reported = payloads.byd_phev(car.smartcar_id)["data"]["signals"]

    recorded = record_signals(car, reported, received_at=RECEIVED)

    stored = rows(car)
    assert sorted(recorded) == sorted(stored) == sorted(signal["code"] for signal in reported)
    assert recorded.skipped == []
    nickname = stored["vehicleidentification-nickname"]  # no typed field: kept all the same
    assert (nickname.name, nickname.group, nickname.status) == (
        "Nickname",
        "VehicleIdentification",
        "SUCCESS",
    )
    assert nickname.body == {"value": "MY SEAL"} and nickname.error is None
    assert nickname.oem_updated_at == payloads.at(payloads.BYD_OEM)
    assert nickname.retrieved_at == payloads.at(payloads.BYD_READ)
    assert nickname.received_at == RECEIVED
    fuel = stored["internalcombustionengine-fuellevel"]
    assert fuel.status == "ERROR" and fuel.body is None
    assert fuel.error == {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}


def test_newer_wins_per_signal_even_within_one_batch(car):
    record_signals(car, [odometer(1000, T0), locked(True, T0)], received_at=RECEIVED)

    # One event carrying an older odometer and a newer lock state: only the lock state moves.
    later = RECEIVED + timedelta(minutes=1)
    recorded = record_signals(
        car,
        [odometer(900, T0 - timedelta(hours=1)), locked(False, T0 + timedelta(hours=1))],
        received_at=later,
    )

    stored = rows(car)
    assert list(recorded) == ["closure-islocked"]
    assert stored["odometer-traveleddistance"].body == {"value": 1000, "unit": "km"}
    assert stored["odometer-traveleddistance"].oem_updated_at == T0
    assert stored["closure-islocked"].body == {"value": False}
    assert stored["closure-islocked"].oem_updated_at == T0 + timedelta(hours=1)


def test_the_same_time_again_changes_nothing(car):
    record_signals(car, [odometer(1000, T0)], received_at=RECEIVED)

    recorded = record_signals(car, [odometer(1001, T0)], received_at=RECEIVED + timedelta(minutes=1))

    assert list(recorded) == []
    assert rows(car)["odometer-traveleddistance"].body["value"] == 1000


def test_retrieved_at_decides_when_there_is_no_oem_time(car):
    record_signals(car, [odometer(1000, None, retrieved=T0)], received_at=RECEIVED)

    assert (
        record_signals(car, [odometer(999, None, retrieved=T0 - timedelta(seconds=1))], received_at=RECEIVED)
        == []
    )
    assert record_signals(
        car, [odometer(1002, None, retrieved=T0 + timedelta(seconds=1))], received_at=RECEIVED
    ) == ["odometer-traveleddistance"]
    assert rows(car)["odometer-traveleddistance"].body["value"] == 1002


def test_an_error_keeps_the_last_good_value_visible_and_a_newer_value_clears_it(car):
    record_signals(car, [odometer(1000, T0)], received_at=RECEIVED)

    recorded = record_signals(car, [odometer_error()], received_at=RECEIVED + timedelta(minutes=1))

    row = rows(car)["odometer-traveleddistance"]
    assert list(recorded) == ["odometer-traveleddistance"]
    assert row.status == "ERROR" and row.error == {"type": "VEHICLE_STATE", "code": "ASLEEP"}
    # The last known odometer, with the time the car recorded it, beside the error.
    assert row.body == {"value": 1000, "unit": "km"} and row.oem_updated_at == T0
    assert row.received_at == RECEIVED + timedelta(minutes=1)

    record_signals(
        car, [odometer(1010, T0 + timedelta(hours=1))], received_at=RECEIVED + timedelta(minutes=2)
    )

    row = rows(car)["odometer-traveleddistance"]
    assert (row.status, row.error, row.body["value"]) == ("SUCCESS", None, 1010)


def test_a_value_received_before_a_later_error_updates_the_value_and_keeps_the_error(car):
    """Out of order: the error (received 10:06) was processed before an event received at 10:04 whose value is
    newer than the one stored: the value moves, and the row still says that reading failed since."""
    record_signals(car, [odometer(1000, T0)], received_at=RECEIVED)
    record_signals(car, [odometer_error()], received_at=RECEIVED + timedelta(minutes=2))

    recorded = record_signals(
        car, [odometer(1005, T0 + timedelta(minutes=3))], received_at=RECEIVED + timedelta(minutes=1)
    )

    row = rows(car)["odometer-traveleddistance"]
    assert list(recorded) == ["odometer-traveleddistance"]
    assert row.body["value"] == 1005 and row.oem_updated_at == T0 + timedelta(minutes=3)
    assert row.status == "ERROR" and row.received_at == RECEIVED + timedelta(minutes=2)
    # An older error arriving late does not replace the newer one either.
    assert record_signals(car, [odometer_error("SERVER", "INTERNAL")], received_at=RECEIVED) == []
    assert rows(car)["odometer-traveleddistance"].error["code"] == "ASLEEP"


def test_unavailable_is_stored_as_such(car):
    unavailable = {
        "code": "charge-wattage",
        "name": "Wattage",
        "group": "Charge",
        "status": {"value": "UNAVAILABLE"},
    }

    assert record_signals(car, [unavailable], received_at=RECEIVED) == ["charge-wattage"]

    row = rows(car)["charge-wattage"]
    assert (row.status, row.body, row.error) == ("UNAVAILABLE", None, None)


def test_a_signal_without_status_is_a_success_as_in_2025_captures(car):
    signal = odometer(1000, T0)
    del signal["status"]

    record_signals(car, [signal], received_at=RECEIVED)

    assert rows(car)["odometer-traveleddistance"].status == "SUCCESS"


def deep(levels: int) -> dict[str, Any]:
    body: dict[str, Any] = {"value": 1}
    for _ in range(levels):
        body = {"nested": body}
    return body


HOSTILE = {
    "code too long": {"code": "x" * 101, "body": {"value": 1}},
    "code with a control character": {"code": "odometer\ntraveled", "body": {"value": 1}},
    "no code": {"name": "", "body": {"value": 1}},
    "name too long": {"code": "a-b", "name": "n" * 101, "body": {"value": 1}},
    "body nested too deeply": {"code": "a-b", "body": deep(12)},
    "body too large": {"code": "a-b", "body": {"value": "v" * 20_000}},
    "NUL in the body": {"code": "a-b", "body": {"value": "a\x00b"}},
    "lone surrogate in the body": {"code": "a-b", "body": {"value": "\ud800"}},
    "NaN": {"code": "a-b", "body": {"value": float("nan")}},
    "integer beyond 2**53": {"code": "a-b", "body": {"value": 2**60}},
    "body not an object": {"code": "a-b", "body": [1, 2]},
    "success without a body": {"code": "a-b", "status": {"value": "SUCCESS"}},
    "unknown status": {"code": "a-b", "body": {"value": 1}, "status": {"value": "PENDING"}},
    "time in year 9999": {"code": "a-b", "body": {"value": 1}, "meta": {"oemUpdatedAt": 253402214400000}},
    "error too large": {
        "code": "a-b",
        "status": {"value": "ERROR", "error": {"type": "X", "description": "d" * 5000}},
    },
    "not an object": ["odometer-traveleddistance"],
}


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_signal_is_skipped_and_noted_and_the_others_are_stored(car, hostile):
    recorded = record_signals(car, [hostile, odometer(1000, T0)], received_at=RECEIVED)

    assert list(recorded) == ["odometer-traveleddistance"]
    assert set(rows(car)) == {"odometer-traveleddistance"}
    assert len(recorded.skipped) == 1 and recorded.skipped[0].startswith("signal 0 not stored: ")
    # The note says what is wrong, never the value (it could be anything a sender chose).
    assert "vvvv" not in recorded.skipped[0] and "\x00" not in recorded.skipped[0]


def test_v3_api_resources_are_read_and_stored_like_webhook_signals(car):
    resource = {
        "id": "tractionbattery-stateofcharge",
        "type": "signal",
        "attributes": {
            "code": "tractionbattery-stateofcharge",
            "name": "StateOfCharge",
            "group": "TractionBattery",
            "status": {"value": "SUCCESS"},
            "body": {"value": 64, "unit": "percent"},
        },
        "meta": {"retrievedAt": ms(T0 + timedelta(seconds=9)), "oemUpdatedAt": ms(T0)},
        "links": {"self": "/vehicles/v/signals/tractionbattery-stateofcharge"},
    }

    readout = read_signals([resource], received_at=RECEIVED)
    recorded = record_signals(car, [resource], received_at=RECEIVED)

    assert [(point.path, point.body, point.age) for point in readout.points] == [
        ("/battery", {"percentRemaining": 0.64}, T0)
    ]
    assert readout.granted == {"read_battery"}
    row = rows(car)["tractionbattery-stateofcharge"]
    assert list(recorded) == ["tractionbattery-stateofcharge"]
    assert (row.group, row.name, row.body, row.oem_updated_at) == (
        "TractionBattery",
        "StateOfCharge",
        {"value": 64, "unit": "percent"},
        T0,
    )


def test_read_signals_says_what_the_signals_mean_for_the_typed_fields():
    reported = [
        payloads.ok(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            "TractionBattery",
            {"value": 50, "unit": "percent"},
            ms(T0),
            ms(T0),
        ),
        payloads.ok(
            "tractionbattery-range",
            "Range",
            "TractionBattery",
            {"value": 200, "unit": "km"},
            ms(T0 + timedelta(minutes=1)),
            ms(T0),
        ),
        payloads.failed(
            "internalcombustionengine-fuellevel",
            "FuelLevel",
            "InternalCombustionEngine",
            "COMPATIBILITY",
            "VEHICLE_NOT_CAPABLE",
        ),
        payloads.failed("location-preciselocation", "PreciseLocation", "Location", "PERMISSION", None),
        payloads.failed("closure-islocked", "IsLocked", "Closure", "VEHICLE_STATE", "ASLEEP"),
        payloads.ok(
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            {"value": "far", "unit": "km"},
            ms(T0),
            ms(T0),
        ),
        payloads.ok("charge-wattage", "Wattage", "Charge", {"value": 7000, "unit": "watts"}, ms(T0), ms(T0)),
    ]

    readout = read_signals(reported, received_at=RECEIVED)

    # Level and range feed one battery point, with the newer of their times.
    assert [(point.path, point.body, point.age) for point in readout.points] == [
        ("/battery", {"percentRemaining": 0.5, "range": 200.0}, T0 + timedelta(minutes=1))
    ]
    assert readout.not_capable == ["fuel"]
    assert readout.missing_permissions == {"read_location"}
    assert readout.granted == {"read_battery"}
    assert readout.errors == ["VEHICLE_STATE:ASLEEP"]
    assert readout.signal_errors["closure-islocked"] == ("VEHICLE_STATE", "ASLEEP")
    assert readout.skipped == ["signal 5 (odometer-traveleddistance) skipped: TypeError"]


def test_a_webhook_and_a_poll_landing_together_cannot_undo_each_other(
    transactional_db, django_user_model, monkeypatch
):
    """Two writers race on one signal: the one holding the older value is slowed down after it has read the
    row, so that, without the vehicle's row lock, it would write its older value over the newer one (checked on
    PostgreSQL, where removing the lock fails this test; SQLite's IMMEDIATE transactions serialise writers
    anyway)."""
    from tests.races import CriticalSections

    car = make_car(django_user_model.objects.create_user("ann", "ann@example.com", "pw"))
    record_signals(car, [odometer(1000, T0)], received_at=RECEIVED)
    apply = signal_service._apply_incoming

    def slow_for_the_older(incoming, row, received_at):
        changed = apply(incoming, row, received_at)
        if incoming.body and incoming.body["value"] == 1001:
            time.sleep(0.5)  # under the lock: the other writer reaches it meanwhile
        return changed

    monkeypatch.setattr(signal_service, "_apply_incoming", slow_for_the_older)
    barrier = threading.Barrier(2, timeout=30)
    sections = CriticalSections()
    failures: list[BaseException] = []

    def writer(value: float, oem: datetime, head_start: float) -> None:
        try:
            barrier.wait()
            time.sleep(head_start)  # the older one reads first
            with sections.inside():
                record_signals(car, [odometer(value, oem)], received_at=timezone.now())
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=writer, args=(1001, T0 + timedelta(minutes=1), 0)),
        threading.Thread(target=writer, args=(1002, T0 + timedelta(minutes=2), 0.1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and not failures, failures
    sections.assert_all_inside_at_once(2)
    row = rows(car)["odometer-traveleddistance"]
    assert row.body["value"] == 1002 and row.oem_updated_at == T0 + timedelta(minutes=2)


# --- Webhooks --------------------------------------------------------------------------------------------------


@pytest.fixture
def receiver_url(live_server, transactional_db, settings):
    from tests.celery_app import app

    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "MANAGEMENT_TOKEN": TOKEN}
    app.conf.task_always_eager = True  # processing runs inline, after the receiver's commit
    yield f"{live_server.url}/smartcar/webhooks/{URL_ID}/"
    app.conf.task_always_eager = False


@pytest.fixture
def owner(transactional_db, django_user_model):
    return django_user_model.objects.create_user("bea", "bea@example.com", "pw")


def send(url: str, payload: dict) -> WebhookEvent:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "SC-Signature": sign(TOKEN, body)}
    response = requests.post(url, data=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.content
    return WebhookEvent.objects.get(event_id=payload["eventId"])


def state_event(vehicle: Vehicle, event_id: str, signals: list, *, user_id: str = payloads.USER_ID) -> dict:
    data = payloads.vehicle(vehicle.smartcar_id, "BYD", "Seal", 2025)
    data["user"]["id"] = user_id
    return payloads.state(event_id, data, signals, [], ms(T0))


@pytest.mark.parametrize("api_version", ["2.0", "3"])
def test_a_webhook_stores_every_signal_and_the_typed_fields(receiver_url, owner, api_version, record_signal):
    processed = record_signal("webhook_processed")
    car = make_car(owner, api_version=api_version)

    event = send(receiver_url, payloads.byd_phev(car.smartcar_id))

    assert event.processed_at is not None and event.last_error == ""
    reported = payloads.byd_phev(car.smartcar_id)["data"]["signals"]
    assert set(rows(car)) == {signal["code"] for signal in reported}
    car.refresh_from_db()
    assert (car.odometer_km, car.battery_percent_remaining, car.is_locked) == (8215, 64, False)
    (call,) = processed.calls
    assert sorted(call["signals"][car]) == sorted(signal["code"] for signal in reported)


def test_out_of_order_webhooks_keep_the_newest_value_of_each_signal(receiver_url, owner):
    car = make_car(owner)
    early, late = T0, T0 + timedelta(hours=1)

    send(receiver_url, state_event(car, "first", [odometer(2000, late), locked(True, early)]))
    send(receiver_url, state_event(car, "second", [odometer(1900, early), locked(False, late)]))

    stored = rows(car)
    assert stored["odometer-traveleddistance"].body["value"] == 2000
    assert stored["closure-islocked"].body == {"value": False}
    car.refresh_from_db()
    assert (car.odometer_km, car.is_locked) == (2000, False)


def test_an_event_whose_user_does_not_hold_the_vehicle_is_skipped_and_noted(receiver_url, owner):
    car = make_car(owner)
    stranger = "0f0f0f0f-1111-2222-3333-444444444444"

    event = send(receiver_url, state_event(car, "stranger", [odometer(5000, T0)], user_id=stranger))
    error = send(receiver_url, reauth_error(car, stranger))

    car.refresh_from_db()
    car.account.refresh_from_db()
    assert car.odometer_km is None and not rows(car)
    assert (
        car.account.status == SmartcarAccount.Status.ACTIVE
    )  # another user's error does not touch this account
    for skipped in (event, error):
        assert skipped.processed_at is not None
        assert "data.user.id is not the user of vehicle" in skipped.last_error
        assert stranger not in skipped.last_error


def reauth_error(vehicle: Vehicle, user_id: str) -> dict:
    return {
        "eventId": "stranger-error",
        "eventType": "VEHICLE_ERROR",
        "data": {
            "user": {"id": user_id},
            "vehicle": {"id": vehicle.smartcar_id, "make": "BYD", "model": "Seal", "year": 2025},
            "errors": [
                {
                    "type": "AUTHENTICATION",
                    "code": None,
                    "state": "ERROR",
                    "description": "Reconnect.",
                    "resolution": {"type": "REAUTHENTICATE"},
                }
            ],
        },
        "meta": payloads.meta(ms(T0)),
    }


def test_the_right_user_is_applied_and_a_hostile_signal_noted(receiver_url, owner):
    car = make_car(owner)

    event = send(
        receiver_url,
        state_event(car, "mixed", [{"code": "x" * 500, "body": {"value": 1}}, odometer(3000, T0)]),
    )

    assert rows(car)["odometer-traveleddistance"].body["value"] == 3000
    assert "signal 0 not stored: code" in event.last_error and "xxxxxxxx" not in event.last_error


# --- Admin -----------------------------------------------------------------------------------------------------


def test_the_vehicle_admin_shows_its_signals_read_only_in_constant_queries(
    car, admin_client, django_assert_num_queries, django_assert_max_num_queries
):
    asleep = payloads.failed("closure-islocked", "IsLocked", "Closure", "VEHICLE_STATE", "ASLEEP")
    record_signals(car, [odometer(1000, T0), asleep], received_at=RECEIVED)
    url = f"/admin/django_smartcar/vehicle/{car.pk}/change/"
    admin_client.get(url)  # caches warmed (content types, permissions)
    with django_assert_max_num_queries(100) as few:
        response = admin_client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "odometer-traveleddistance" in page and "1000 km" in page
    assert "VEHICLE_STATE:ASLEEP" in page
    # Read-only: no field to edit, no row to delete.
    assert 'name="signals-0-status"' not in page and 'name="signals-0-DELETE"' not in page

    record_signals(
        car,
        [{"code": f"charge-extra{index}", "body": {"value": index}} for index in range(30)],
        received_at=RECEIVED,
    )
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)
    assert "charge-extra29" in response.content.decode()


def test_signals_are_searchable_and_filterable_in_the_admin(car, admin_client):
    failing = payloads.failed("charge-wattage", "Wattage", "Charge", "SERVER", "INTERNAL")
    record_signals(car, [odometer(1000, T0), locked(True, T0), failing], received_at=RECEIVED)

    searched = admin_client.get("/admin/django_smartcar/vehiclesignal/", {"q": "islocked"}).content.decode()
    filtered = admin_client.get(
        "/admin/django_smartcar/vehiclesignal/", {"status__exact": "ERROR"}
    ).content.decode()

    assert "closure-islocked" in searched and "odometer-traveleddistance" not in searched
    assert "charge-wattage" in filtered and "closure-islocked" not in filtered
    assert (
        admin_client.get(
            f"/admin/django_smartcar/vehiclesignal/{rows(car)['closure-islocked'].pk}/change/"
        ).status_code
        == 200
    )


# --- Demo ------------------------------------------------------------------------------------------------------


@pytest.fixture
def demo_pages(settings, monkeypatch):
    """The example project's garage served by the test project, in process."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "example_project"))
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.humanize", "garage"]
    settings.ROOT_URLCONF = "tests.app.demo_urls"


def test_the_demo_dashboard_shows_each_cars_signals(car, client, demo_pages):
    asleep = payloads.failed("closure-islocked", "IsLocked", "Closure", "VEHICLE_STATE", "ASLEEP")
    record_signals(car, [odometer(1000, T0), asleep], received_at=RECEIVED)
    client.force_login(car.account.owner)

    page = client.get("/garage/").content.decode()

    assert "<summary>Signals (2)</summary>" in page and "<caption>Signals</caption>" in page
    assert 'data-signal="odometer-traveleddistance" data-signal-status="SUCCESS"' in page
    assert "1000 km" in page
    assert 'data-signal="closure-islocked" data-signal-status="ERROR"' in page and "Error: ASLEEP" in page
