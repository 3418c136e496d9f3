"""Webhooks: the VERIFY handshake, subscriptions, and deliveries signed with the management token."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from django_smartcar.client import ResourceNotFoundException, hash_challenge, verify_payload
from django_smartcar.simulator import webhooks
from django_smartcar.simulator.models import WebhookSubscription


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records deliveries and answers VERIFY challenges."""

    def __init__(self, amt: str) -> None:
        self.amt = amt
        self.answer_challenges_correctly = True
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((dict(self.headers), body))
                payload = json.loads(body)
                challenge = (payload.get("data") or payload.get("payload") or {}).get("challenge")
                if challenge is None:
                    answer = {}
                elif receiver.answer_challenges_correctly:
                    answer = {"challenge": hash_challenge(receiver.amt, challenge)}
                else:
                    answer = {"challenge": challenge}
                encoded = json.dumps(answer).encode()
                self.send_response(200)
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
        return [json.loads(body) for _, body in self.deliveries]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(simulator):
    endpoint = Receiver(simulator.management_token)
    yield endpoint
    endpoint.close()


def test_registering_sends_a_signed_verify_challenge(simulator, receiver):
    webhook = webhooks.register_webhook(simulator.application, receiver.url, webhook_id="wh-1")

    assert webhook.verified_at is not None
    ((headers, body),) = receiver.deliveries
    assert verify_payload(simulator.management_token, headers["SC-Signature"], body)
    assert json.loads(body)["eventType"] == "VERIFY"


def test_a_wrong_challenge_answer_leaves_the_webhook_unverified(simulator, receiver):
    receiver.answer_challenges_correctly = False

    webhook = webhooks.register_webhook(simulator.application, receiver.url)

    assert webhook.verified_at is None
    with pytest.raises(webhooks.WebhookError):
        webhooks.deliver(webhook)


def test_version_2_webhooks_use_the_v2_verify_payload(simulator, receiver):
    webhook = webhooks.register_webhook(simulator.application, receiver.url, version="2.0")

    assert webhook.verified_at is not None
    assert receiver.payloads()[0]["eventName"] == "verify"


def test_subscribed_vehicles_get_signed_events(simulator, connected, receiver):
    webhook = webhooks.register_webhook(simulator.application, receiver.url, webhook_id="wh-events")
    vehicle = connected.vehicle(connected.vehicle_ids[0])

    subscription = vehicle.subscribe("wh-events")
    deliveries = webhooks.deliver(webhook)

    assert (subscription.webhook_id, subscription.vehicle_id) == ("wh-events", connected.vehicle_ids[0])
    assert [delivery.ok for delivery in deliveries] == [True]
    headers, body = receiver.deliveries[-1]
    assert verify_payload(simulator.management_token, headers["SC-Signature"], body)
    assert not verify_payload("another-token", headers["SC-Signature"], body)
    event = json.loads(body)
    assert (
        event["eventType"] == "VEHICLE_STATE" and event["data"]["vehicle"]["id"] == connected.vehicle_ids[0]
    )
    assert {signal["code"] for signal in event["data"]["signals"]} >= {"odometer-traveleddistance"}


def test_version_2_events_carry_batch_shaped_data(simulator, connected, receiver):
    webhook = webhooks.register_webhook(
        simulator.application, receiver.url, webhook_id="wh-v2", version="2.0"
    )
    connected.vehicle().subscribe("wh-v2")

    webhooks.deliver(webhook)

    event = receiver.payloads()[-1]
    assert event["eventName"] == "schedule"
    data = event["payload"]["vehicles"][0]["data"]
    assert {"/odometer", "/location"} <= {item["path"] for item in data}


def test_unsubscribing_with_the_management_token_stops_events(simulator, connected, receiver):
    webhook = webhooks.register_webhook(simulator.application, receiver.url, webhook_id="wh-stop")
    vehicle = connected.vehicle()
    vehicle.subscribe("wh-stop")

    assert vehicle.unsubscribe(simulator.management_token, "wh-stop").status == "success"

    assert webhooks.deliver(webhook) == []
    assert not WebhookSubscription.objects.exists()


def test_subscribing_to_an_unknown_webhook_is_not_found(connected):
    with pytest.raises(ResourceNotFoundException):
        connected.vehicle().subscribe("no-such-webhook")


def test_disconnecting_a_vehicle_ends_its_subscriptions(simulator, connected, receiver):
    webhooks.register_webhook(simulator.application, receiver.url, webhook_id="wh-gone")
    vehicle = connected.vehicle()
    vehicle.subscribe("wh-gone")

    vehicle.disconnect()

    assert not WebhookSubscription.objects.exists()


def test_the_control_api_registers_and_delivers(simulator, connected, receiver):
    amt = {"Authorization": f"Bearer {simulator.management_token}"}
    registered = requests.post(
        f"{simulator.base_url}/_simulator/webhooks",
        json={"url": receiver.url, "webhook_id": "wh-control"},
        headers=amt,
        timeout=10,
    )
    assert registered.status_code == 201 and registered.json()["verified"] is True
    connected.vehicle().subscribe("wh-control")

    delivered = requests.post(
        f"{simulator.base_url}/_simulator/webhooks/wh-control/deliver", json={}, headers=amt, timeout=10
    )

    assert [item["statusCode"] for item in delivered.json()["deliveries"]] == [200]
    assert receiver.payloads()[-1]["eventType"] == "VEHICLE_STATE"
