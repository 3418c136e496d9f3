"""The webhook receiver, fed by the simulator's signed deliveries over HTTP to the live server."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_smartcar.models import SmartcarAccount, Vehicle, WebhookEvent
from django_smartcar.simulator import clock
from django_smartcar.simulator import webhooks as simulated
from django_smartcar.simulator.models import SimulatedVehicle, WebhookSubscription

from .conftest import connect_through_service

URL_ID = "hook-Zq3v9WlXc1rT0eYh5sKd"
WEBHOOK_ID = "webhook-under-test"


@pytest.fixture
def eager_tasks():
    """Queued processing runs inline (after the receiver's commit), so a delivery's effect is visible at once."""
    from tests.celery_app import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def receiver_url(live_server, smartcar, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "WEBHOOK_ID": WEBHOOK_ID}
    return f"{live_server.url}/smartcar/webhooks/{URL_ID}/"


@pytest.fixture
def webhook(smartcar, receiver_url):
    """A v4 webhook registered at the simulator, which verifies it against our receiver (VERIFY handshake)."""
    return simulated.register_webhook(smartcar.application, receiver_url, webhook_id=WEBHOOK_ID)


@pytest.fixture
def hooked_account(smartcar, webhook, user, eager_tasks):
    """An account connected (through the Connect service) after the webhook was configured, so its vehicles are
    subscribed."""
    return connect_through_service(smartcar, user)


def post_signed(
    url: str, payload, *, token: str = "test-management-token", raw: bytes | None = None, **headers
):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "SC-Signature": simulated.sign(token, body), **headers}
    return requests.post(url, data=body, headers=headers, timeout=30)


def state_event(vehicle: Vehicle, *, odometer: float, at, event_id: str) -> dict:
    stamp = {"oemUpdatedAt": at.isoformat(), "retrievedAt": at.isoformat()}
    return {
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "data": {
            "vehicle": {"id": vehicle.smartcar_id},
            "signals": [
                {
                    "code": "odometer-traveleddistance",
                    "body": {"value": odometer, "unit": "km"},
                    "meta": stamp,
                }
            ],
        },
        "meta": {"version": "4.0", "webhookId": WEBHOOK_ID},
    }


def test_the_simulator_verifies_the_receiver(webhook):
    assert webhook.verified_at is not None
    assert not WebhookEvent.objects.exists()  # the handshake is answered, not stored


def test_the_challenge_answer_matches_smartcars_known_value(receiver_url, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "MANAGEMENT_TOKEN": "abc123abc123"}
    payload = {"eventId": "v", "eventType": "VERIFY", "data": {"challenge": "9c9c9c9c"}, "meta": {}}
    response = post_signed(receiver_url, payload, token="abc123abc123")
    assert response.status_code == 200
    assert response.json() == {
        "challenge": "2a596ed34b8c6f069492d952aa51f076fee7b1c662b6498e0217a0d41fd9b936"
    }


def test_connecting_subscribes_and_disconnecting_unsubscribes(hooked_account, browser):
    vehicles = list(hooked_account.vehicles.all())
    subscribed = set(
        WebhookSubscription.objects.filter(webhook__webhook_id=WEBHOOK_ID).values_list("vehicle", flat=True)
    )
    assert subscribed == {vehicle.smartcar_id for vehicle in vehicles}

    browser.post(f"/smartcar/vehicles/{vehicles[0].pk}/disconnect/")
    assert not WebhookSubscription.objects.filter(vehicle=vehicles[0].smartcar_id).exists()


def test_a_delivery_updates_the_vehicle(hooked_account, webhook, record_signal):
    received = record_signal("webhook_received")
    processed = record_signal("webhook_processed")

    deliveries = simulated.deliver(webhook)

    assert deliveries and all(delivery.status_code == 200 for delivery in deliveries)
    assert WebhookEvent.objects.count() == len(deliveries)
    assert all(event.processed_at and event.attempts == 1 for event in WebhookEvent.objects.all())
    for vehicle in hooked_account.vehicles.all():
        assert vehicle.odometer_km and vehicle.latitude is not None and vehicle.is_locked is not None
        assert (vehicle.battery_percent_remaining is None) != (vehicle.fuel_percent_remaining is None)
    assert len(received.calls) == len(processed.calls) == len(deliveries)
    assert all(len(call["updates"]) == 1 for call in processed.calls)


def test_a_v2_webhook_updates_the_vehicle_too(hooked_account, smartcar, receiver_url):
    v2 = simulated.register_webhook(smartcar.application, receiver_url, webhook_id="v2-hook", version="2.0")
    assert v2.verified_at
    vehicle = hooked_account.vehicles.first()
    WebhookSubscription.objects.create(webhook=v2, vehicle_id=vehicle.smartcar_id)

    (delivery,) = simulated.deliver(v2)

    assert delivery.status_code == 200
    vehicle.refresh_from_db()
    assert vehicle.odometer_km and vehicle.odometer_age and vehicle.lock_status is not None


def test_v4_and_v2_deliveries_both_store_percentages_as_percents(
    hooked_account, webhook, smartcar, receiver_url
):
    # v4 signals carry 0-100 percents, v2 bodies 0-1 fractions: the same level is stored as the same percent.
    vehicle = hooked_account.vehicles.first()
    car = SimulatedVehicle.objects.filter(pk=vehicle.smartcar_id)
    car.filter(fuel_level__isnull=False).update(fuel_level=0.5)
    car.filter(battery_level__isnull=False).update(battery_level=0.5, is_plugged_in=False)

    def stored() -> float:
        vehicle.refresh_from_db()
        return vehicle.fuel_percent_remaining or vehicle.battery_percent_remaining

    simulated.deliver(webhook, car)
    assert stored() == pytest.approx(50, abs=1.0)

    v2 = simulated.register_webhook(smartcar.application, receiver_url, webhook_id="v2-hook", version="2.0")
    WebhookSubscription.objects.create(webhook=v2, vehicle_id=vehicle.smartcar_id)
    car.filter(fuel_level__isnull=False).update(fuel_level=0.25)
    car.filter(battery_level__isnull=False).update(battery_level=0.25)
    clock.advance(2)  # reported after the v4 event, whatever the precision of its data age
    simulated.deliver(v2, car)
    assert stored() == pytest.approx(25, abs=1.0)


def test_a_repeated_delivery_is_accepted_and_not_processed_twice(hooked_account, receiver_url, record_signal):
    processed = record_signal("webhook_processed")
    vehicle = hooked_account.vehicles.first()
    payload = state_event(vehicle, odometer=5000.0, at=timezone.now(), event_id="evt-1")

    first = post_signed(receiver_url, payload)
    again = post_signed(receiver_url, payload)

    assert first.json() == {"status": "received"} and again.json() == {"status": "duplicate"}
    assert WebhookEvent.objects.get(event_id="evt-1").attempts == 1
    assert len(processed.calls) == 1


def test_an_older_event_arriving_late_never_overwrites_newer_data(hooked_account, receiver_url):
    vehicle = hooked_account.vehicles.first()
    now = timezone.now()
    post_signed(receiver_url, state_event(vehicle, odometer=5200.0, at=now, event_id="newer"))
    post_signed(
        receiver_url, state_event(vehicle, odometer=5100.0, at=now - timedelta(minutes=10), event_id="older")
    )

    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 5200.0
    assert WebhookEvent.objects.get(event_id="older").processed_at  # accepted and processed, just not newer


def test_a_reauthentication_error_event_moves_the_account(hooked_account, webhook, record_signal):
    reauth = record_signal("reauth_required")
    vehicle = hooked_account.vehicles.first()
    payload = {
        "eventId": "err-1",
        "eventType": "VEHICLE_ERROR",
        "data": {
            "vehicle": {"id": vehicle.smartcar_id},
            "errors": [
                {
                    "type": "AUTHENTICATION",
                    "code": None,
                    "description": "The vehicle owner changed their password.",
                    "resolution": {"type": "REAUTHENTICATE"},
                }
            ],
        },
        "meta": {"version": "4.0", "webhookId": WEBHOOK_ID},
    }

    delivery, _answer = simulated.post(
        webhook, payload, vehicle_id=vehicle.smartcar_id, event_type="VEHICLE_ERROR"
    )

    assert delivery.status_code == 200
    hooked_account.refresh_from_db()
    assert hooked_account.status == SmartcarAccount.Status.REAUTH_REQUIRED
    assert [call["account"].pk for call in reauth.calls] == [hooked_account.pk]


def test_events_signed_with_the_previous_management_token_are_accepted(receiver_url, settings, smartcar):
    settings.SMARTCAR = {**settings.SMARTCAR, "MANAGEMENT_TOKEN": ["new-token", "test-management-token"]}
    payload = {
        "eventId": "rot-1",
        "eventType": "VEHICLE_STATE",
        "data": {"vehicle": {"id": "unknown"}, "signals": []},
    }
    assert post_signed(receiver_url, payload).status_code == 200
    assert WebhookEvent.objects.get(event_id="rot-1").verified_with == 1


@pytest.mark.parametrize(
    "case, expected_status",
    [
        ("missing signature", 401),
        ("wrong signature", 401),
        ("signed with another token", 401),
        ("unknown endpoint", 404),
        ("not json", 400),
        ("not utf-8", 400),
        ("json array", 400),
        ("unknown shape", 400),
        ("vehicle state without vehicle", 400),
        ("verify without challenge", 400),
        ("oversized", 413),
    ],
)
def test_bad_deliveries_get_a_clear_4xx_and_store_nothing(receiver_url, case, expected_status):
    good = json.dumps(
        {"eventId": "x", "eventType": "VEHICLE_STATE", "data": {"vehicle": {"id": "v"}}}
    ).encode()
    url, body, headers, token = receiver_url, good, {}, "test-management-token"
    if case == "missing signature":
        response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    else:
        if case == "wrong signature":
            headers = {"SC-Signature": "0" * 64}
        elif case == "signed with another token":
            token = "not-the-token"
        elif case == "unknown endpoint":
            url = url.replace(URL_ID, "hook-guessed")
        elif case == "not json":
            body = b"{not json"
        elif case == "not utf-8":
            body = b"\xff\xfe\x00"
        elif case == "json array":
            body = b"[1, 2]"
        elif case == "unknown shape":
            body = b'{"hello": "world"}'
        elif case == "vehicle state without vehicle":
            body = b'{"eventId": "y", "eventType": "VEHICLE_STATE", "data": {}}'
        elif case == "verify without challenge":
            body = b'{"eventId": "z", "eventType": "VERIFY", "data": {}}'
        elif case == "oversized":
            body = b'{"pad": "' + b"x" * (300 * 1024) + b'"}'
        response = post_signed(url, None, raw=body, token=token, **headers)

    assert response.status_code == expected_status
    assert response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_the_receiver_only_accepts_post(receiver_url):
    assert requests.get(receiver_url, timeout=10).status_code == 405


def test_pending_and_failed_events_are_processed_by_the_command(hooked_account, receiver_url, capsys):
    from tests.celery_app import app

    vehicle = hooked_account.vehicles.first()
    app.conf.task_always_eager = False  # as if no worker were running: events stay pending
    try:
        post_signed(
            receiver_url, state_event(vehicle, odometer=7777.0, at=timezone.now(), event_id="pending")
        )
        broken = state_event(vehicle, odometer=1.0, at=timezone.now(), event_id="broken")
        broken["data"]["signals"] = 5  # unreadable as a whole (one bad signal alone is skipped, not fatal)
        post_signed(receiver_url, broken)
    finally:
        app.conf.task_always_eager = True
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 2

    with pytest.raises(CommandError):
        call_command("smartcar_process_webhooks", "--fail-on-error")

    out = capsys.readouterr()
    assert "1 processed" in out.out and "1 failed" in out.out and "broken" in out.err
    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 7777.0
    failed = WebhookEvent.objects.get(event_id="broken")
    assert failed.status == "failed" and "ValueError" in failed.last_error and failed.attempts == 1

    call_command("smartcar_process_webhooks", "--failed")
    assert WebhookEvent.objects.get(event_id="broken").attempts == 2


@pytest.mark.django_db
def test_a_repeat_inside_a_callers_transaction_leaves_it_usable(settings):
    from django_smartcar.services import webhooks

    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_URL_ID": URL_ID, "MANAGEMENT_TOKEN": "amt"}
    body = json.dumps(
        {"eventId": "tx-1", "eventType": "VEHICLE_STATE", "data": {"vehicle": {"id": "v"}}}
    ).encode()
    headers = {"SC-Signature": simulated.sign("amt", body)}

    assert webhooks.receive(URL_ID, body, headers).created  # the test runs inside a transaction
    again = webhooks.receive(URL_ID, body, headers)

    assert not again.created and again.answer == {"status": "duplicate"}
    assert WebhookEvent.objects.filter(event_id="tx-1").count() == 1  # the transaction still works


# --- Hostile but signed input (issue 13, items 6-9) -----------------------------------------------------------


def test_a_non_ascii_url_id_is_a_404_that_shows_no_secret_even_with_debug(receiver_url, settings):
    settings.DEBUG = True
    settings.SMARTCAR = {**settings.SMARTCAR, "MANAGEMENT_TOKEN": "amt-secret-Xq81"}
    body = b'{"eventId": "e", "eventType": "VEHICLE_STATE", "data": {"vehicle": {"id": "v"}}}'
    guessed = receiver_url.replace(URL_ID, "hook-\u00e9\u00e9")

    response = post_signed(guessed, None, raw=body, token="amt-secret-Xq81")

    assert response.status_code == 404
    assert response.json()["error"] == "Unknown webhook endpoint."
    for secret in ("amt-secret-Xq81", URL_ID, "test-client-secret"):
        assert secret not in response.text
    assert not WebhookEvent.objects.exists()


def _event(**fields) -> bytes:
    payload = {"eventId": "e-1", "eventType": "VEHICLE_STATE", "data": {"vehicle": {"id": "v"}}, **fields}
    return json.dumps(payload).encode()


HOSTILE_SIGNED_BODIES = {
    "NUL in eventId": _event(eventId="a\x00b"),
    "NUL in eventType": _event(eventType="VEHICLE_STATE\x00"),
    "NUL in the vehicle id": _event(data={"vehicle": {"id": "v\x00"}}),
    "NUL in the vehicle id of another event type": _event(
        eventType="OTHER", data={"vehicle": {"id": "v\x00"}}
    ),
    "vehicle id over the column": _event(data={"vehicle": {"id": "v" * 101}}),
    "eventType over the column": _event(eventType="X" * 51),
    "eventType that grows when upper-cased": _event(eventType="\u00df" * 30),
    "lone surrogate in eventId": b'{"eventId": "\\ud800", "eventType": "X", "data": {}}',
    "lone surrogate in the challenge": b'{"eventType": "VERIFY", "data": {"challenge": "\\udfff"}}',
    "deeply nested JSON": b'{"eventType": "X", "data": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    "UTF-16 body": _event().decode().encode("utf-16"),
    "UTF-32 body": _event().decode().encode("utf-32"),
    "UTF-16 without BOM": _event().decode().encode("utf-16-le"),
    "v2 VERIFY whose data is a list": b'{"eventName": "verify", "payload": {}, "data": [1]}',
    "eventId of 101 characters": _event(eventId="e" * 101),
}


@pytest.mark.parametrize("case", HOSTILE_SIGNED_BODIES)
def test_hostile_signed_bodies_are_a_clear_400_and_store_nothing(receiver_url, case):
    response = post_signed(receiver_url, None, raw=HOSTILE_SIGNED_BODIES[case])

    assert response.status_code == 400, response.text[:500]
    assert response.json()["error"]
    assert not WebhookEvent.objects.exists()


def api_vehicle(browser, vehicle: Vehicle) -> dict:
    response = browser.get(f"/api/smartcar/vehicles/{vehicle.pk}/")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def signal(code: str, body: dict, at) -> dict:
    return {"code": code, "body": body, "meta": {"oemUpdatedAt": at.isoformat()}}


def signals_event(vehicle: Vehicle, event_id: str, *signals_: dict) -> dict:
    return {
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "data": {"vehicle": {"id": vehicle.smartcar_id}, "signals": list(signals_)},
        "meta": {"version": "4.0", "webhookId": WEBHOOK_ID},
    }


@pytest.mark.parametrize(
    "code, body",
    [
        ("odometer-traveleddistance", {"value": float("nan"), "unit": "km"}),
        ("odometer-traveleddistance", {"value": float("inf"), "unit": "km"}),
        ("odometer-traveleddistance", {"value": -1.0, "unit": "km"}),
        ("location-preciselocation", {"latitude": 1000, "longitude": 10}),
        ("location-preciselocation", {"latitude": float("-inf"), "longitude": 10}),
        ("tractionbattery-stateofcharge", {"value": -5000}),
        ("internalcombustionengine-fuellevel", {"value": 1e300}),
        ("closure-islocked", {"value": "false"}),
        ("charge-detailedchargingstatus", {"value": "C" * 21}),
        ("charge-detailedchargingstatus", {"value": "CHARGING\x00"}),
    ],
)
def test_signed_values_outside_their_range_are_dropped_and_the_rest_is_kept(
    hooked_account, receiver_url, browser, code, body
):
    vehicle = hooked_account.vehicles.first()
    before = api_vehicle(browser, vehicle)
    at = timezone.now()
    payload = signals_event(
        vehicle,
        "poison",
        signal(code, body, at),
        signal("odometer-traveleddistance", {"value": 123456.0, "unit": "km"}, at),
    )
    if code == "odometer-traveleddistance":
        payload["data"]["signals"].pop()  # the poisoned signal alone

    assert post_signed(receiver_url, payload).status_code == 200

    event = WebhookEvent.objects.get(event_id="poison")
    assert event.processed_at is not None
    after = api_vehicle(browser, vehicle)
    group = {
        "odometer-traveleddistance": "odometer",
        "location-preciselocation": "location",
        "tractionbattery-stateofcharge": "battery",
        "internalcombustionengine-fuellevel": "fuel",
        "closure-islocked": "security",
        "charge-detailedchargingstatus": "charge",
    }[code]
    assert after[group] == before[group]  # the poisoned group is untouched
    if code != "odometer-traveleddistance":
        assert after["odometer"]["distance_km"] == 123456.0  # the valid signal of the same event is stored


def test_1e999_in_a_signed_body_is_dropped(hooked_account, receiver_url, browser):
    vehicle = hooked_account.vehicles.first()
    before = api_vehicle(browser, vehicle)["odometer"]
    payload = state_event(vehicle, odometer=12345.5, at=timezone.now(), event_id="huge")
    raw = json.dumps(payload).replace("12345.5", "1e999").encode()
    assert b"1e999" in raw

    assert post_signed(receiver_url, None, raw=raw).status_code == 200

    assert WebhookEvent.objects.get(event_id="huge").processed_at
    assert api_vehicle(browser, vehicle)["odometer"] == before


def test_a_data_age_far_in_the_future_cannot_freeze_a_data_group(hooked_account, receiver_url):
    vehicle = hooked_account.vehicles.first()
    far = timezone.now().replace(year=9999)
    post_signed(receiver_url, state_event(vehicle, odometer=9.0, at=far, event_id="from-9999"))
    now = timezone.now()
    post_signed(receiver_url, state_event(vehicle, odometer=4242.0, at=now, event_id="now"))

    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 4242.0
    assert vehicle.odometer_age.year == now.year
    # A clock a little ahead is tolerated.
    ahead = timezone.now() + timedelta(minutes=2)
    post_signed(receiver_url, state_event(vehicle, odometer=4243.0, at=ahead, event_id="ahead"))
    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 4243.0


def test_polled_values_outside_their_range_are_dropped_too(account, smartcar):
    from django_smartcar.services.vehicles import refresh_vehicle_data

    vehicle = account.vehicles.first()
    simulated_vehicle = next(v for v in smartcar.vehicles if v.id == vehicle.smartcar_id)
    type(simulated_vehicle).objects.filter(pk=simulated_vehicle.pk).update(
        odometer_km=-1_000_000.0, home_latitude=1000.0
    )

    result = refresh_vehicle_data(vehicle)

    vehicle.refresh_from_db()
    assert "odometer" not in result.updated and "location" not in result.updated
    assert vehicle.odometer_km is None and vehicle.latitude is None
    assert result.updated  # the vehicle's other data groups were stored


def test_a_vehicle_holding_non_finite_data_from_before_still_renders_in_the_api(account, browser):
    vehicle = account.vehicles.first()
    Vehicle.objects.filter(pk=vehicle.pk).update(
        odometer_km=float("inf"),
        odometer_age=timezone.now(),
        longitude=float("-inf"),
        location_age=timezone.now(),
    )

    data = api_vehicle(browser, vehicle)

    assert data["odometer"]["distance_km"] is None and data["location"]["longitude"] is None


def test_one_malformed_signal_is_skipped_and_noted_the_others_are_stored(hooked_account, receiver_url):
    vehicle = hooked_account.vehicles.first()
    at = timezone.now()
    payload = signals_event(
        vehicle,
        "mixed",
        signal("odometer-traveleddistance", {"value": "not a number"}, at),
        signal("location-preciselocation", {"latitude": 48.1}, at),  # no longitude
        signal("tractionbattery-stateofcharge", {"value": 55}, at),
        signal("closure-islocked", {"value": True}, at),
    )

    assert post_signed(receiver_url, payload).status_code == 200

    event = WebhookEvent.objects.get(event_id="mixed")
    assert event.status == "processed" and event.attempts == 1
    assert "signal 0 (odometer-traveleddistance) skipped" in event.last_error
    assert "signal 1 (location-preciselocation) skipped" in event.last_error
    vehicle.refresh_from_db()
    assert vehicle.battery_percent_remaining == 55.0 and vehicle.is_locked is True  # v4 sends percents


def test_a_nul_in_an_error_description_is_stored_sanitised(hooked_account, receiver_url):
    vehicle = hooked_account.vehicles.first()
    payload = {
        "eventId": "err-nul",
        "eventType": "VEHICLE_ERROR",
        "data": {
            "vehicle": {"id": vehicle.smartcar_id},
            "errors": [{"type": "AUTHENTICATION", "description": "pass\x00word changed \ud800"}],
        },
    }

    assert post_signed(receiver_url, payload).status_code == 200

    event = WebhookEvent.objects.get(event_id="err-nul")
    assert event.status == "processed" and event.attempts == 1
    hooked_account.refresh_from_db()
    assert hooked_account.status == SmartcarAccount.Status.REAUTH_REQUIRED
    assert hooked_account.last_refresh_error == "pass\\x00word changed \\ud800"


REFUSE_ACCOUNT_UPDATES = {
    "postgresql": [
        "CREATE FUNCTION refuse_account_update() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'account writes refused'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_account_update BEFORE UPDATE ON django_smartcar_smartcaraccount "
        "FOR EACH ROW EXECUTE FUNCTION refuse_account_update()",
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_account_update BEFORE UPDATE ON django_smartcar_smartcaraccount "
        "BEGIN SELECT RAISE(ABORT, 'account writes refused'); END",
    ],
}
ALLOW_ACCOUNT_UPDATES = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_account_update ON django_smartcar_smartcaraccount",
        "DROP FUNCTION IF EXISTS refuse_account_update()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_account_update"],
}


def run_sql(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def test_a_database_failure_while_processing_is_recorded_after_the_rollback(hooked_account, receiver_url):
    """The database refuses the account write of a re-authentication event (a trigger). On PostgreSQL that
    aborts the transaction; the failure must still be recorded on the event, never leave it looking pending."""
    from django.db import connection

    from django_smartcar.services import webhooks
    from tests.celery_app import app

    vehicle = hooked_account.vehicles.first()
    payload = {
        "eventId": "refused",
        "eventType": "VEHICLE_ERROR",
        "data": {"vehicle": {"id": vehicle.smartcar_id}, "errors": [{"type": "AUTHENTICATION"}]},
    }
    app.conf.task_always_eager = False
    try:
        assert post_signed(receiver_url, payload).status_code == 200
    finally:
        app.conf.task_always_eager = True
    event = WebhookEvent.objects.get(event_id="refused")
    run_sql(REFUSE_ACCOUNT_UPDATES[connection.vendor])
    try:
        with pytest.raises(Exception, match="account writes refused"):
            webhooks.process_event(event.pk)
    finally:
        run_sql(ALLOW_ACCOUNT_UPDATES[connection.vendor])

    event.refresh_from_db()
    assert event.status == "failed" and event.attempts == 1
    assert "account writes refused" in event.last_error
    hooked_account.refresh_from_db()
    assert hooked_account.status == SmartcarAccount.Status.ACTIVE  # the event's work was rolled back

    webhooks.process_event(event.pk)
    event.refresh_from_db()
    hooked_account.refresh_from_db()
    assert event.status == "processed" and event.attempts == 2
    assert hooked_account.status == SmartcarAccount.Status.REAUTH_REQUIRED


def test_the_command_processes_only_stale_pending_events_with_pending(hooked_account, receiver_url, capsys):
    from tests.celery_app import app

    vehicle = hooked_account.vehicles.first()
    app.conf.task_always_eager = False
    try:
        for event_id in ("stale", "fresh"):
            post_signed(
                receiver_url, state_event(vehicle, odometer=10.0, at=timezone.now(), event_id=event_id)
            )
    finally:
        app.conf.task_always_eager = True
    WebhookEvent.objects.filter(event_id="stale").update(received_at=timezone.now() - timedelta(hours=1))
    WebhookEvent.objects.filter(event_id="fresh").update(received_at=timezone.now())

    call_command("smartcar_process_webhooks", "--pending", "--dry-run")
    assert "would process VEHICLE_STATE stale" in capsys.readouterr().out
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 2

    call_command("smartcar_process_webhooks", "--pending")
    assert WebhookEvent.objects.get(event_id="stale").status == "processed"
    assert WebhookEvent.objects.get(event_id="fresh").status == "pending"  # may still be in the broker


def test_an_event_queued_twice_at_once_is_processed_once(
    hooked_account, receiver_url, record_signal, monkeypatch
):
    """A sweep and a redelivery (or two sweeps) queue the same event: two workers race on it; the row lock lets
    exactly one apply it. Applying is made slow (the work under the lock waits a moment first), so both workers
    are inside ``process_event`` at once: the test fails if they were not, as the lock was then never tested."""
    import threading
    import time

    from django.db import connection

    from django_smartcar.services import webhooks
    from tests.celery_app import app
    from tests.races import CriticalSections

    processed = record_signal("webhook_processed")
    vehicle = hooked_account.vehicles.first()
    app.conf.task_always_eager = False
    try:
        post_signed(receiver_url, state_event(vehicle, odometer=8888.0, at=timezone.now(), event_id="twice"))
    finally:
        app.conf.task_always_eager = True
    event = WebhookEvent.objects.get(event_id="twice")
    apply = webhooks._apply

    def slow_apply(*args: Any, **kwargs: Any) -> webhooks.Outcome:
        time.sleep(0.5)  # under the row lock: the other worker reaches it meanwhile
        return apply(*args, **kwargs)

    monkeypatch.setattr(webhooks, "_apply", slow_apply)
    barrier = threading.Barrier(2, timeout=30)
    sections = CriticalSections()
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()  # both workers hold the task: the race is on
            with sections.inside():
                webhooks.process_event(event.pk)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and not failures, failures
    sections.assert_all_inside_at_once(2)
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 1
    assert len(processed.calls) == 1


def test_the_sweep_retries_a_failed_event_until_its_attempts_run_out(hooked_account, receiver_url, settings):
    """A processing failure (here: what a database that was briefly down leaves behind) is retried by the sweep,
    but only ``WEBHOOK_MAX_ATTEMPTS`` times in all, so an event that can never be applied stops looping."""
    from django_smartcar.services import webhooks
    from tests.celery_app import app

    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_MAX_ATTEMPTS": 3}
    vehicle = hooked_account.vehicles.first()
    app.conf.task_always_eager = False
    try:
        for event_id, odometer in (("failed-once", 4321.0), ("failed-thrice", 5432.0)):
            post_signed(
                receiver_url, state_event(vehicle, odometer=odometer, at=timezone.now(), event_id=event_id)
            )
    finally:
        app.conf.task_always_eager = True
    an_hour_ago = timezone.now() - timedelta(hours=1)
    WebhookEvent.objects.filter(event_id="failed-once").update(
        received_at=an_hour_ago, attempts=1, last_error="OperationalError: server closed the connection"
    )
    WebhookEvent.objects.filter(event_id="failed-thrice").update(
        received_at=an_hour_ago, attempts=3, last_error="OperationalError: server closed the connection"
    )

    assert webhooks.requeue_stale_pending_events() == 1  # eager: processed at once
    retried = WebhookEvent.objects.get(event_id="failed-once")
    assert retried.status == "processed" and retried.attempts == 2
    vehicle.refresh_from_db()
    assert vehicle.odometer_km == 4321.0
    assert WebhookEvent.objects.get(event_id="failed-thrice").status == "failed"
    assert webhooks.requeue_stale_pending_events() == 0
