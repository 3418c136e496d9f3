"""Webhook deliveries as Smartcar sends them: the v4 VEHICLE_STATE as captured (every configured signal with a
status, epoch-millisecond times, triggers, signalCount), bodies whose bytes survive a re-serialization, the
FIRST_DELIVERY on subscribe, VEHICLE_ERROR then RESOLVED, and redelivery of failed deliveries with the same
eventId at +25, +50 and +100 s (scaled), then dropped. The last test drives the standalone simulator with the
official ``smartcar`` package."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import smartcar

from benchmarks.process import free_port
from django_smartcar.client import hash_challenge
from django_smartcar.simulator import faults, webhooks
from django_smartcar.simulator.models import PendingDelivery, SimulatedVehicle

AMT = "delivery-management-token"


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers VERIFY, and answers events with the statuses it is given
    (then 200), optionally after a delay."""

    def __init__(self, amt: str) -> None:
        self.amt = amt
        self.statuses: list[int] = []
        self.delay = 0.0
        self.events: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                payload = json.loads(body)
                challenge = (payload.get("data") or {}).get("challenge")
                status, answer = 200, {}
                if challenge is not None:
                    answer = {"challenge": hash_challenge(receiver.amt, challenge)}
                else:
                    with receiver.lock:
                        receiver.events.append((dict(self.headers), body))
                        status = receiver.statuses.pop(0) if receiver.statuses else 200
                    time.sleep(receiver.delay)
                encoded = json.dumps(answer).encode()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/smartcar"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def payloads(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(simulator) -> Iterator[Receiver]:
    endpoint = Receiver(simulator.management_token)
    yield endpoint
    endpoint.close()


@pytest.fixture
def hooked(simulator, connected, receiver):
    """A verified v4 webhook with the driver's first vehicle subscribed; its FIRST_DELIVERY already sent."""
    webhook = webhooks.register_webhook(
        simulator.application, receiver.url, webhook_id="wh-delivery", name="Garage"
    )
    connected.vehicle().subscribe("wh-delivery")
    webhooks.deliver_due()
    receiver.events.clear()
    return webhook


def reserialized(body: bytes) -> bytes:
    """What a receiver gets when it parses the body and writes it again (JSON.stringify(JSON.parse(body)))."""
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()


def test_a_vehicle_state_carries_every_configured_signal_as_captured(simulator, connected, receiver, hooked):
    vehicle = SimulatedVehicle.objects.get(pk=connected.vehicle_ids[0])

    (delivery,) = webhooks.deliver(hooked, [vehicle])

    assert delivery.ok
    headers, body = receiver.events[-1]
    assert headers["User-Agent"].startswith("Smartcar/")
    event = json.loads(body)
    assert list(event) == ["eventId", "eventType", "data", "triggers", "meta"]
    meta = event["meta"]
    assert list(meta) == [
        "deliveryId",
        "deliveredAt",
        "version",
        "webhookId",
        "webhookName",
        "mode",
        "signalCount",
    ]
    assert (meta["version"], meta["webhookId"], meta["webhookName"], meta["mode"]) == (
        "4.0",
        "wh-delivery",
        "Garage",
        "LIVE",
    )
    assert isinstance(meta["deliveredAt"], int) and meta["deliveredAt"] > 1_700_000_000_000  # epoch ms
    signals = event["data"]["signals"]
    assert meta["signalCount"] == len(signals)
    assert [signal["code"] for signal in signals] == [signal.code for signal in webhooks.SIGNALS]
    assert event["data"]["vehicle"] == {
        "id": vehicle.pk,
        "make": vehicle.make,
        "model": vehicle.model,
        "year": vehicle.year,
    }
    unsupported = (
        "internalcombustionengine-fuellevel" if vehicle.is_electric else "tractionbattery-stateofcharge"
    )
    for signal in signals:
        if signal["code"] == unsupported:
            assert signal == {
                "name": signal["name"],
                "group": signal["group"],
                "code": unsupported,
                "status": {
                    "value": "ERROR",
                    "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
                },
            }
        if signal["status"]["value"] == "SUCCESS":
            assert list(signal) == ["code", "name", "group", "body", "meta", "status"]
            assert all(isinstance(value, int) for value in signal["meta"].values())
    odometer = next(signal for signal in signals if signal["code"] == "odometer-traveleddistance")
    assert odometer["body"]["unit"] == "km" and odometer["meta"]["oemUpdatedAt"] > 1_700_000_000_000
    assert all(
        trigger["type"] == "SIGNAL_UPDATED" and set(trigger["signal"]) == {"name", "code", "group"}
        for trigger in event["triggers"]
    )


def test_signals_the_grant_does_not_permit_are_permission_errors(simulator, receiver):
    from django_smartcar.simulator import grants

    vehicle = SimulatedVehicle.objects.filter(user__email=simulator.email).first()
    grants.approve(simulator.application, vehicle.user, [vehicle], ["read_vehicle_info", "read_odometer"])
    webhook = webhooks.register_webhook(simulator.application, receiver.url, webhook_id="wh-scope")
    webhooks.WebhookSubscription.objects.create(webhook=webhook, vehicle=vehicle)

    webhooks.deliver(webhook)

    statuses = {signal["code"]: signal["status"] for signal in receiver.payloads()[-1]["data"]["signals"]}
    assert statuses["odometer-traveleddistance"] == {"value": "SUCCESS"}
    assert statuses["closure-islocked"] == {"value": "ERROR", "error": {"type": "PERMISSION", "code": None}}


def test_the_signature_matches_the_body_written_again_after_parsing(simulator, connected, receiver, hooked):
    vehicle = SimulatedVehicle.objects.get(pk=connected.vehicle_ids[0])
    # Values that are whole numbers held as floats, and a name that is not ASCII.
    SimulatedVehicle.objects.filter(pk=vehicle.pk).update(
        odometer_km=12000.0,
        speed_kmh=0,
        model="Zoë ë-Tech",
        tire_pressure_kpa={"frontLeft": 250.0, "frontRight": 250.0, "backLeft": 240.0, "backRight": 240.0},
    )

    webhooks.deliver(hooked, [vehicle])

    headers, body = receiver.events[-1]
    assert b'{"value":12000,"unit":"km"}' in body and "Zoë".encode() in body
    assert reserialized(body) == body
    assert smartcar.verify_payload(
        simulator.management_token, headers["SC-Signature"], reserialized(body).decode()
    )


def test_subscribing_queues_a_first_delivery(simulator, connected, receiver):
    webhooks.register_webhook(simulator.application, receiver.url, webhook_id="wh-first")

    connected.vehicle().subscribe("wh-first")
    assert receiver.payloads() == []  # sent shortly after, not inside the subscribe request

    (delivery,) = webhooks.deliver_due()

    assert delivery.ok
    (event,) = receiver.payloads()
    assert event["eventType"] == "VEHICLE_STATE" and event["triggers"] == [{"type": "FIRST_DELIVERY"}]
    assert event["data"]["vehicle"]["id"] == connected.vehicle_ids[0]
    assert not PendingDelivery.objects.exists()


def test_a_sleeping_vehicle_gets_a_vehicle_error_then_a_resolved_one(simulator, connected, receiver, hooked):
    vehicle = SimulatedVehicle.objects.get(pk=connected.vehicle_ids[0])
    faults.build(kind="asleep", vehicle_id=vehicle.pk).save()

    webhooks.deliver(hooked, [vehicle])

    (error_event,) = receiver.payloads()
    assert error_event["eventType"] == "VEHICLE_ERROR"
    (error,) = error_event["data"]["errors"]
    assert (error["type"], error["code"], error["state"]) == ("VEHICLE_STATE", "ASLEEP", "ERROR")
    assert error["signals"] and {"code", "name", "group"} == set(error["signals"][0])

    faults.clear(vehicle)
    webhooks.deliver(hooked, [vehicle])

    resolved_event, state_event = receiver.payloads()[1:]
    (resolved,) = resolved_event["data"]["errors"]
    assert (resolved["type"], resolved["code"], resolved["state"]) == ("VEHICLE_STATE", "ASLEEP", "RESOLVED")
    assert resolved_event["eventId"] != error_event["eventId"]
    assert state_event["eventType"] == "VEHICLE_STATE"

    webhooks.deliver(hooked, [vehicle])
    assert [event["eventType"] for event in receiver.payloads()[3:]] == ["VEHICLE_STATE"]  # resolved once


@pytest.mark.parametrize("failure", ["500", "302", "refused", "too slow"])
def test_a_failed_delivery_is_redelivered_with_the_same_event_id_at_25_50_100_s_then_dropped(
    simulator, connected, receiver, hooked, frozen_clock, settings, failure
):
    scale = 0.01  # Smartcar's 25 s become 0.25 s on the simulator's clock
    settings.SMARTCAR_SIMULATOR = {"WEBHOOK_TIME_SCALE": scale, "WEBHOOK_DELIVERY_TIMEOUT": 0.1}
    vehicle = SimulatedVehicle.objects.get(pk=connected.vehicle_ids[0])
    if failure == "refused":
        hooked.url = f"http://127.0.0.1:{free_port()}/nobody-listens"
        hooked.save()
    elif failure == "too slow":
        receiver.delay = 0.3
    else:
        receiver.statuses = [int(failure)] * 4

    (first,) = webhooks.deliver(hooked, [vehicle])
    assert not first.ok

    schedule = [25, 50, 100]
    for delay in schedule:
        frozen_clock.advance(seconds=delay * scale - 0.01)
        assert webhooks.deliver_due() == []  # not yet
        frozen_clock.advance(seconds=0.01)
        (again,) = webhooks.deliver_due()
        assert not again.ok
    frozen_clock.advance(hours=1)
    assert webhooks.deliver_due() == [] and not PendingDelivery.objects.exists()  # dropped after 4 attempts

    if failure != "refused":
        attempts = receiver.payloads()
        assert len(attempts) == 4
        assert len({event["eventId"] for event in attempts}) == 1
        assert len({event["meta"]["deliveryId"] for event in attempts}) == 4
        delivered_at = [event["meta"]["deliveredAt"] for event in attempts]
        gaps = [later - earlier for earlier, later in itertools.pairwise(delivered_at)]
        assert gaps == pytest.approx([250, 500, 1000], abs=1)


def test_a_redelivery_that_succeeds_ends_the_retries(
    simulator, connected, receiver, hooked, frozen_clock, settings
):
    settings.SMARTCAR_SIMULATOR = {"WEBHOOK_TIME_SCALE": 0.01}
    receiver.statuses = [503]
    vehicle = SimulatedVehicle.objects.get(pk=connected.vehicle_ids[0])

    webhooks.deliver(hooked, [vehicle])
    frozen_clock.advance(seconds=0.25)
    (retried,) = webhooks.deliver_due()

    assert retried.ok and not PendingDelivery.objects.exists()
    first, second = receiver.payloads()
    assert (
        first["eventId"] == second["eventId"] and first["meta"]["deliveryId"] != second["meta"]["deliveryId"]
    )


# --- The standalone simulator, with the official SDK -----------------------------------------------------------


@pytest.fixture(scope="module")
def fast_standalone() -> Iterator[str]:
    """``python -m django_smartcar.simulator --webhook-time-scale 0.01``: its background thread sends FIRST_DELIVERY
    events and redeliveries (after 0.25 s, 0.5 s, 1 s)."""
    from tests.conftest import run_standalone_simulator

    with run_standalone_simulator(
        "--webhook-time-scale", "0.01", vehicles=1, management_token=AMT, limits=True, traits=True
    ) as simulator:
        yield simulator.base_url


def wait_for_events(
    receiver: Receiver, count: int, timeout: float = 10.0
) -> list[tuple[dict[str, str], bytes]]:
    deadline = time.monotonic() + timeout
    while len(receiver.events) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(receiver.events)


SDK_SUBSCRIBE_SCRIPT = textwrap.dedent(
    """
    import os
    from urllib.parse import parse_qs, urlsplit

    import smartcar
    from django_smartcar.simulator.testing import complete_connect

    client = smartcar.AuthClient(
        os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], "http://127.0.0.1:9/callback", mode="simulated"
    )
    final = complete_connect(client.get_auth_url(["read_vehicle_info", "read_odometer"], {"state": "s"}))
    access = client.exchange_code(parse_qs(urlsplit(final).query)["code"][0])
    vehicle_id = smartcar.get_vehicles(access.access_token).vehicles[0]
    smartcar.Vehicle(vehicle_id, access.access_token).subscribe("wh-sdk")
    """
)


def test_the_standalone_simulator_sends_first_delivery_and_redelivers_it_to_an_official_sdk_receiver(
    fast_standalone,
):
    from tests.conftest import CLIENT_ID, CLIENT_SECRET

    receiver = Receiver(AMT)
    try:
        registered = requests.post(
            f"{fast_standalone}/_simulator/webhooks",
            json={"url": receiver.url, "webhook_id": "wh-sdk"},
            headers={"Authorization": f"Bearer {AMT}"},
            timeout=10,
        )
        assert registered.json()["verified"] is True
        receiver.statuses = [500]  # the FIRST_DELIVERY fails once

        # The official SDK (origins read from the environment when it is imported) connects and subscribes.
        environment = {
            **{key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "SMARTCAR_CONNECT_ORIGIN": fast_standalone,
            "SMARTCAR_AUTH_ORIGIN": f"{fast_standalone}/oauth/token",
            "SMARTCAR_API_ORIGIN": fast_standalone,
            "SMARTCAR_MANAGEMENT_API_ORIGIN": fast_standalone,
        }
        done = subprocess.run(
            [sys.executable, "-c", SDK_SUBSCRIBE_SCRIPT],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

        (_, failed_body), (headers, body) = wait_for_events(receiver, 2)[:2]
    finally:
        receiver.close()
    first, retried = json.loads(failed_body), json.loads(body)
    assert first["triggers"] == retried["triggers"] == [{"type": "FIRST_DELIVERY"}]
    assert (
        first["eventId"] == retried["eventId"]
        and first["meta"]["deliveryId"] != retried["meta"]["deliveryId"]
    )
    assert retried["meta"]["deliveredAt"] - first["meta"]["deliveredAt"] >= 250
    # The official SDK's check, over the body as a receiver that parsed it would write it again.
    assert smartcar.verify_payload(AMT, headers["SC-Signature"], reserialized(body).decode())
    statuses = {signal["code"]: signal["status"]["value"] for signal in retried["data"]["signals"]}
    assert statuses["odometer-traveleddistance"] == "SUCCESS" and statuses["closure-islocked"] == "ERROR"
