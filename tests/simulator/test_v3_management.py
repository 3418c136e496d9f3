"""The simulator's Management API V3 with plain ``requests`` and an application token from ``/oauth2/token``:
webhooks (list with filters and paging, get), subscriptions (202, 409, list, get, delete 204), JSON:API errors,
authentication, and the v4 events a subscription made this way receives."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
import requests

from django_smartcar.simulator import clock, faults, grants, traffic, webhooks
from django_smartcar.simulator.models import (
    PendingDelivery,
    SimulatedUser,
    SimulatedVehicle,
    Webhook,
    WebhookSubscription,
)
from django_smartcar.simulator.seeding import create_user, seed_vehicles
from django_smartcar.simulator.signals import SIGNALS
from tests.simulator.test_webhook_delivery import Receiver, wait_for_events

SUBSCRIBED = "subscription creation in progress"


def app_token(base_url: str, client_id: str, client_secret: str) -> str:
    answer = requests.post(
        f"{base_url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


class Management:
    """The Management API V3 of one simulator, called with an application token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = f"{base_url}/v3"
        self.token = token

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base}/{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **params: str | int) -> requests.Response:
        return self.call("GET", path, params=params)

    def subscribe(self, webhook_id: str, user_id: str, vehicle_id: str) -> requests.Response:
        body = {"data": {"attributes": {"webhookId": webhook_id, "userId": user_id, "vehicleId": vehicle_id}}}
        return self.call("POST", "subscriptions", json=body)


@pytest.fixture
def management(simulator) -> Management:
    return Management(
        simulator.base_url,
        app_token(simulator.base_url, simulator.api_client_id, simulator.api_client_secret),
    )


@pytest.fixture
def driver(simulator) -> dict[str, str]:
    """The driver's three cars connected to the application (v2 tokens issued); their user id."""
    tokens = grants.connect_vehicles(simulator.application, simulator.vehicles)
    user = SimulatedUser.objects.get(email=simulator.email)
    return {"user_id": user.pk, "access_token": str(tokens["access_token"])}


@pytest.fixture
def receiver(simulator) -> Iterator[Receiver]:
    endpoint = Receiver(simulator.management_token)
    yield endpoint
    endpoint.close()


def quiet_webhook(application, webhook_id: str, **attributes) -> Webhook:
    """A webhook nobody receives (not verified): enough for reading and subscribing."""
    return webhooks.register_webhook(
        application, f"http://127.0.0.1:9/{webhook_id}", webhook_id=webhook_id, verify=False, **attributes
    )


def assert_jsonapi_error(answer: requests.Response, status: int, error_type: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    (error,) = answer.json()["errors"]
    assert error["status"] == str(status) and error["type"] == error_type
    assert error["title"] and error["detail"]
    return error


# --- Webhooks ----------------------------------------------------------------------------------------------------


def test_a_webhook_reads_as_the_management_api_documents_it(simulator, management):
    webhook = quiet_webhook(
        simulator.application,
        "wh-garage",
        name="Garage",
        triggers=["closure-islocked"],
        data=["odometer-traveleddistance", "closure-islocked"],
        error_url="http://127.0.0.1:9/errors",
        auto_subscribe=True,
    )

    answer = management.get("webhooks/wh-garage")

    assert answer.status_code == 200
    assert answer.json() == {
        "data": {
            "id": "wh-garage",
            "type": "webhook",
            "attributes": {
                "name": "Garage",
                "callbackUri": "http://127.0.0.1:9/wh-garage",
                "isEnabled": True,
                "triggers": [{"group": "Closure", "name": "IsLocked", "code": "closure-islocked"}],
                "data": [
                    {"group": "Odometer", "name": "TraveledDistance", "code": "odometer-traveleddistance"},
                    {"group": "Closure", "name": "IsLocked", "code": "closure-islocked"},
                ],
                "errorCallbackUri": "http://127.0.0.1:9/errors",
                "autoSubscribe": True,
            },
            "links": {"self": "/webhooks/wh-garage"},
            "meta": {"createdAt": webhook.created_at.isoformat().replace("+00:00", "Z")},
        }
    }
    # Without data codes a webhook carries every signal; without an error URI errors go to the callback.
    quiet_webhook(simulator.application, "wh-plain")
    plain = management.get("webhooks/wh-plain").json()["data"]["attributes"]
    assert [ref["code"] for ref in plain["data"]] == [signal.code for signal in SIGNALS]
    assert plain["triggers"] == [] and plain["errorCallbackUri"] is None and plain["autoSubscribe"] is False


def test_webhooks_are_listed_with_filters(simulator, management):
    quiet_webhook(simulator.application, "wh-a", name="Alpha")
    quiet_webhook(simulator.application, "wh-b", name="Beta", auto_subscribe=True)
    quiet_webhook(simulator.application, "wh-c", name="Gamma", is_enabled=False)

    def ids(**params: str) -> list[str]:
        answer = management.get("webhooks", **params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["data"]]

    assert ids() == ["wh-a", "wh-b", "wh-c"]
    assert ids(**{"filter[name]": "Beta"}) == ["wh-b"]
    assert ids(**{"filter[callbackUri]": "http://127.0.0.1:9/wh-c"}) == ["wh-c"]
    assert ids(**{"filter[isEnabled]": "false"}) == ["wh-c"]
    assert ids(**{"filter[isEnabled]": "true", "filter[autoSubscribe]": "false"}) == ["wh-a"]
    assert ids(**{"filter[autoSubscribe]": "true"}) == ["wh-b"]
    error = assert_jsonapi_error(
        management.get("webhooks", **{"filter[isEnabled]": "maybe"}), 400, "VALIDATION"
    )
    assert "filter[isEnabled]" in error["detail"]


def test_webhooks_page_by_number_50_by_default_at_most_100(simulator, management):
    Webhook.objects.bulk_create(
        Webhook(application=simulator.application, webhook_id=f"wh-{n:03}", url="http://127.0.0.1:9/")
        for n in range(101)
    )

    first = management.get("webhooks").json()
    assert len(first["data"]) == 50
    assert first["meta"] == {"page": 1, "pageSize": 50, "totalCount": 101}
    assert first["links"]["prev"] is None and "page[number]=2" in first["links"]["next"]
    assert "page[number]=3" in first["links"]["last"]
    largest = management.get("webhooks", **{"page[size]": 100, "page[number]": 2}).json()
    assert [item["id"] for item in largest["data"]] == ["wh-100"] and largest["links"]["next"] is None
    for size in (101, 0, "x"):
        error = assert_jsonapi_error(management.get("webhooks", **{"page[size]": size}), 400, "VALIDATION")
        assert "page[size]" in error["detail"]


def test_another_applications_webhook_is_not_found(simulator, management):
    from django_smartcar.simulator.seeding import register_application

    other = register_application("other-client", "other-secret", ["http://127.0.0.1:9/"])
    quiet_webhook(other, "wh-theirs")

    assert_jsonapi_error(management.get("webhooks/wh-theirs"), 404, "RESOURCE_NOT_FOUND")
    assert management.get("webhooks").json()["data"] == []


# --- Subscriptions -----------------------------------------------------------------------------------------------


def test_subscribing_answers_202_then_409_and_the_subscription_reads_as_documented(
    simulator, management, driver
):
    quiet_webhook(simulator.application, "wh-sub")
    vehicle = simulator.vehicles[0]

    created = management.subscribe("wh-sub", driver["user_id"], vehicle.pk)

    assert created.status_code == 202
    assert created.json() == {"meta": {"message": SUBSCRIBED}}
    conflict = assert_jsonapi_error(
        management.subscribe("wh-sub", driver["user_id"], vehicle.pk), 409, "RESOURCE_CONFLICT"
    )
    assert vehicle.pk in conflict["detail"]
    (listed,) = management.get("subscriptions").json()["data"]
    subscription = WebhookSubscription.objects.get()
    assert listed == {
        "type": "subscription",
        "id": subscription.subscription_id,
        "attributes": {
            "vehicle": {
                "make": vehicle.make,
                "model": vehicle.model,
                "year": vehicle.year,
                "mode": "live",
                "powertrainType": {"EV": "BEV", "FUEL": "ICE", "PHEV": "PHEV"}[vehicle.powertrain],
            }
        },
        "meta": {
            "createdAt": subscription.created_at.isoformat().replace("+00:00", "Z"),
            "updatedAt": subscription.updated_at.isoformat().replace("+00:00", "Z"),
        },
        "relationships": {
            "webhook": {"data": {"id": "wh-sub", "type": "webhook"}},
            "user": {"data": {"id": driver["user_id"], "type": "user"}},
            "vehicle": {"data": {"id": vehicle.pk, "type": "vehicle"}},
        },
        "links": {"self": f"/subscriptions/{subscription.subscription_id}"},
    }
    assert management.get(f"subscriptions/{subscription.subscription_id}").json() == {"data": listed}

    deleted = management.call("DELETE", f"subscriptions/{subscription.subscription_id}")

    assert deleted.status_code == 204 and deleted.content == b""
    assert not WebhookSubscription.objects.exists()
    assert_jsonapi_error(
        management.get(f"subscriptions/{subscription.subscription_id}"), 404, "RESOURCE_NOT_FOUND"
    )
    assert_jsonapi_error(
        management.call("DELETE", f"subscriptions/{subscription.subscription_id}"), 404, "RESOURCE_NOT_FOUND"
    )
    assert management.subscribe("wh-sub", driver["user_id"], vehicle.pk).status_code == 202  # again


def test_subscriptions_are_listed_with_filters(simulator, management, driver):
    quiet_webhook(simulator.application, "wh-1")
    quiet_webhook(simulator.application, "wh-2")
    first, second, third = simulator.vehicles
    for webhook_id, vehicle in (("wh-1", first), ("wh-1", second), ("wh-2", first)):
        assert management.subscribe(webhook_id, driver["user_id"], vehicle.pk).status_code == 202
    # Another owner's car, connected in simulated mode, subscribed through v2.
    (stranger_car,) = seed_vehicles(1, seed=7, email="stranger@example.com")
    grants.approve(
        simulator.application, stranger_car.user, [stranger_car], ["read_odometer"], mode="simulated"
    )
    webhooks.subscribe(Webhook.objects.get(webhook_id="wh-2"), stranger_car)

    def pairs(**params: str) -> list[tuple[str, str]]:
        answer = management.get("subscriptions", **params)
        assert answer.status_code == 200, answer.text
        return [
            (item["relationships"]["webhook"]["data"]["id"], item["relationships"]["vehicle"]["data"]["id"])
            for item in answer.json()["data"]
        ]

    # Newest first.
    assert pairs() == [("wh-2", stranger_car.pk), ("wh-2", first.pk), ("wh-1", second.pk), ("wh-1", first.pk)]
    assert pairs(**{"filter[webhookId]": "wh-1"}) == [("wh-1", second.pk), ("wh-1", first.pk)]
    assert pairs(**{"filter[vehicleId]": first.pk}) == [("wh-2", first.pk), ("wh-1", first.pk)]
    assert pairs(**{"filter[userId]": stranger_car.user_id}) == [("wh-2", stranger_car.pk)]
    assert len(pairs(**{"filter[userId]": driver["user_id"]})) == 3
    assert pairs(**{"filter[vehicle.mode]": "simulated"}) == [("wh-2", stranger_car.pk)]
    assert len(pairs(**{"filter[vehicle.mode]": "live", "filter[webhookId]": "wh-2"})) == 1
    assert third.pk not in {vehicle for _, vehicle in pairs()}
    assert_jsonapi_error(
        management.get("subscriptions", **{"filter[vehicle.mode]": "test-drive"}), 400, "VALIDATION"
    )


def test_subscriptions_page_by_number_25_by_default_at_most_100(simulator, management, driver):
    vehicle = simulator.vehicles[0]
    hooks = Webhook.objects.bulk_create(
        Webhook(application=simulator.application, webhook_id=f"wh-{n:03}", url="http://127.0.0.1:9/")
        for n in range(26)
    )
    WebhookSubscription.objects.bulk_create(
        WebhookSubscription(webhook=hook, vehicle=vehicle, created_at=clock.now()) for hook in hooks
    )

    first = management.get("subscriptions").json()
    assert len(first["data"]) == 25 and first["meta"] == {"page": 1, "pageSize": 25, "totalCount": 26}
    second = management.get("subscriptions", **{"page[number]": 2}).json()
    assert len(second["data"]) == 1 and second["links"]["next"] is None
    assert "page[number]=1" in second["links"]["prev"]
    assert len(management.get("subscriptions", **{"page[size]": 100}).json()["data"]) == 26
    assert_jsonapi_error(management.get("subscriptions", **{"page[size]": 101}), 400, "VALIDATION")
    assert_jsonapi_error(management.get("subscriptions", **{"page[number]": 0}), 400, "VALIDATION")


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (b"not json", "body"),
        ({"webhookId": "wh-bad"}, "data.attributes"),
        ({"data": {"attributes": {"userId": "u", "vehicleId": "v"}}}, "webhookId"),
        ({"data": {"attributes": {"webhookId": "wh-bad", "vehicleId": "v"}}}, "userId"),
        ({"data": {"attributes": {"webhookId": "wh-bad", "userId": "u", "vehicleId": 7}}}, "vehicleId"),
    ],
)
def test_a_bad_subscription_body_is_a_400_validation_error(simulator, management, body, parameter):
    quiet_webhook(simulator.application, "wh-bad")
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}

    answer = management.call("POST", "subscriptions", **kwargs)

    error = assert_jsonapi_error(answer, 400, "VALIDATION")
    assert parameter in error["detail"] or parameter in json.dumps(error.get("source"))
    assert not WebhookSubscription.objects.exists()


def test_subscribing_what_the_application_does_not_have_is_a_404(simulator, management, driver):
    quiet_webhook(simulator.application, "wh-404")
    mine = simulator.vehicles[0]
    (stranger_car,) = seed_vehicles(1, seed=8, email="someone@example.com")
    (unconnected,) = seed_vehicles(1, seed=9, email=simulator.email)  # the driver's, never connected
    grants.approve(simulator.application, stranger_car.user, [stranger_car], ["read_odometer"])

    cases = {
        "webhook": ("wh-missing", driver["user_id"], mine.pk),
        "user": ("wh-404", "no-such-user", mine.pk),
        "vehicle": ("wh-404", driver["user_id"], "no-such-vehicle"),
        "not connected": ("wh-404", driver["user_id"], unconnected.pk),
        "another user's car": ("wh-404", driver["user_id"], stranger_car.pk),
    }
    for case, (webhook_id, user_id, vehicle_id) in cases.items():
        error = assert_jsonapi_error(
            management.subscribe(webhook_id, user_id, vehicle_id), 404, "RESOURCE_NOT_FOUND"
        )
        assert error["detail"], case
    assert not WebhookSubscription.objects.exists()


def test_an_unknown_filter_is_a_400_validation_error(simulator, management):
    for path, name in (("webhooks", "filter[url]"), ("subscriptions", "filter[user]")):
        error = assert_jsonapi_error(management.get(path, **{name: "x"}), 400, "VALIDATION")
        assert name in error["detail"]


def test_faults_and_request_counts_apply_to_the_management_api(simulator, management):
    faults.build(kind="rate_limit", retry_after=7, remaining=1).save()

    limited = management.get("webhooks")

    error = assert_jsonapi_error(limited, 429, "RATE_LIMIT")
    assert error["code"] == "SMARTCAR_API" and limited.headers["Retry-After"] == "7"
    assert management.get("webhooks").status_code == 200  # the fault hit one request
    counted = {(row["method"], row["path"]): row["count"] for row in traffic.as_json(None)["requests"]}
    assert counted[("GET", "/v3/webhooks")] == 2


# --- Authentication ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "webhooks"),
        ("GET", "webhooks/wh-x"),
        ("GET", "subscriptions"),
        ("POST", "subscriptions"),
        ("GET", "subscriptions/s"),
        ("DELETE", "subscriptions/s"),
    ],
)
def test_every_call_needs_an_application_token(simulator, management, method, path):
    answer = requests.request(method, f"{management.base}/{path}", timeout=10)
    assert_jsonapi_error(answer, 401, "AUTHENTICATION")
    assert_jsonapi_error(management.call(method, path, token="not-a-token"), 401, "AUTHENTICATION")


def test_an_expired_token_a_v2_access_token_and_the_management_token_are_refused(
    simulator, management, driver
):
    quiet_webhook(simulator.application, "wh-auth")
    assert management.get("webhooks").status_code == 200

    assert_jsonapi_error(
        management.call("GET", "webhooks", token=driver["access_token"]), 401, "AUTHENTICATION"
    )
    assert_jsonapi_error(
        management.call("GET", "webhooks", token=simulator.management_token), 401, "AUTHENTICATION"
    )
    clock.advance(3601)  # an application token lives one hour
    assert_jsonapi_error(management.get("webhooks"), 401, "AUTHENTICATION")


# --- Events to a subscription made through V3 -------------------------------------------------------------------


def signed(receiver: Receiver, amt: str) -> list[dict]:
    """The events received, each checked against its SC-Signature."""
    events = []
    for headers, body in receiver.events:
        expected = hmac.new(amt.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["SC-Signature"], expected)
        events.append(json.loads(body))
    return events


def test_a_v3_subscription_gets_first_delivery_state_changes_errors_and_redeliveries(
    simulator, management, driver, receiver, frozen_clock, settings
):
    settings.SMARTCAR_SIMULATOR = {"WEBHOOK_TIME_SCALE": 0.01}
    errors_receiver = Receiver(simulator.management_token)
    try:
        webhook = webhooks.register_webhook(
            simulator.application,
            receiver.url,
            webhook_id="wh-live",
            name="Live",
            triggers=["closure-islocked"],
            error_url=errors_receiver.url,
        )
        assert webhook.verified_at is not None
        vehicle = simulator.vehicles[0]
        # The owner's partner connects the car with their own account: events name the partner, not the owner.
        partner = create_user("partner@example.com")
        grants.approve(simulator.application, partner, [vehicle], ["read_security", "read_odometer"])
        assert_jsonapi_error(
            management.subscribe("wh-live", driver["user_id"], vehicle.pk), 404, "RESOURCE_NOT_FOUND"
        )

        assert management.subscribe("wh-live", partner.pk, vehicle.pk).status_code == 202
        (first_delivery,) = webhooks.deliver_due()

        assert first_delivery.ok
        (first,) = signed(receiver, simulator.management_token)
        assert first["eventType"] == "VEHICLE_STATE" and first["triggers"] == [{"type": "FIRST_DELIVERY"}]
        assert first["data"]["user"] == {"id": partner.pk}
        assert first["data"]["vehicle"] == {
            "id": vehicle.pk,
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
        }
        assert first["meta"]["webhookId"] == "wh-live" and first["meta"]["version"] == "4.0"

        # A v2 command changes the lock: the webhook's trigger signal sends a VEHICLE_STATE by itself.
        unlocked = requests.post(
            f"{simulator.base_url}/v2.0/vehicles/{vehicle.pk}/security",
            json={"action": "UNLOCK"},
            headers={"Authorization": f"Bearer {driver['access_token']}"},
            timeout=10,
        )
        assert unlocked.status_code == 200, unlocked.text
        receiver.statuses = [500]  # its first attempt fails
        (failed,) = webhooks.deliver_due()
        assert not failed.ok
        frozen_clock.advance(seconds=0.25)
        (retried,) = webhooks.deliver_due()
        assert retried.ok

        attempt, redelivered = signed(receiver, simulator.management_token)[1:]
        assert attempt["eventId"] == redelivered["eventId"]
        assert attempt["meta"]["deliveryId"] != redelivered["meta"]["deliveryId"]
        assert redelivered["triggers"] == [
            {
                "type": "SIGNAL_UPDATED",
                "signal": {"name": "IsLocked", "code": "closure-islocked", "group": "Closure"},
            }
        ]
        locked = next(s for s in redelivered["data"]["signals"] if s["code"] == "closure-islocked")
        assert locked["body"] == {"value": False}
        assert redelivered["data"]["user"] == {"id": partner.pk}

        # A VEHICLE_ERROR goes to the error callback URI, naming the same user.
        assert webhooks.report_error(webhook, vehicle, "VEHICLE_STATE", "UNREACHABLE").ok
        (error_event,) = signed(errors_receiver, simulator.management_token)
        assert error_event["eventType"] == "VEHICLE_ERROR"
        assert error_event["data"]["user"] == {"id": partner.pk}
        assert len(receiver.events) == 3
    finally:
        errors_receiver.close()


def test_a_v3_lock_command_reaches_a_v3_subscription_as_a_vehicle_state(
    simulator, management, driver, receiver
):
    webhooks.register_webhook(
        simulator.application,
        receiver.url,
        webhook_id="wh-v3-lock",
        triggers=["closure-islocked", "tractionbattery-stateofcharge"],
        data=["closure-islocked", "odometer-traveleddistance"],
    )
    vehicle = simulator.vehicles[0]
    SimulatedVehicle.objects.filter(pk=vehicle.pk).update(is_locked=False)
    assert management.subscribe("wh-v3-lock", driver["user_id"], vehicle.pk).status_code == 202
    webhooks.deliver_due()
    receiver.events.clear()

    scoped = {"sc-user-id": driver["user_id"]}
    locked = management.call("POST", f"vehicles/{vehicle.pk}/commands/security/lock", headers=scoped)
    assert locked.status_code == 200, locked.text
    (delivery,) = webhooks.deliver_due()

    assert delivery.ok
    (event,) = signed(receiver, simulator.management_token)
    assert event["eventType"] == "VEHICLE_STATE"
    # Only the trigger that changed fires; the event carries the webhook's data signals only.
    assert event["triggers"] == [
        {
            "type": "SIGNAL_UPDATED",
            "signal": {"name": "IsLocked", "code": "closure-islocked", "group": "Closure"},
        }
    ]
    assert [signal["code"] for signal in event["data"]["signals"]] == [
        "odometer-traveleddistance",
        "closure-islocked",
    ]
    assert event["data"]["signals"][1]["body"] == {"value": True}
    assert event["meta"]["signalCount"] == 2
    assert event["data"]["user"] == {"id": driver["user_id"]}
    # Locking a locked car changes nothing: no event.
    assert management.call("POST", f"vehicles/{vehicle.pk}/commands/security/lock", headers=scoped).ok
    assert webhooks.deliver_due() == []


def test_a_disabled_webhook_is_sent_nothing_and_re_enabling_it_sends_first_delivery(
    simulator, management, driver, receiver
):
    webhook = webhooks.register_webhook(
        simulator.application, receiver.url, webhook_id="wh-toggle", triggers=["closure-islocked"]
    )
    vehicle = simulator.vehicles[0]
    assert management.subscribe("wh-toggle", driver["user_id"], vehicle.pk).status_code == 202
    webhooks.deliver_due()
    receiver.events.clear()
    control = {"Authorization": f"Bearer {simulator.management_token}"}

    disabled = requests.post(
        f"{simulator.base_url}/_simulator/webhooks/wh-toggle",
        json={"is_enabled": False},
        headers=control,
        timeout=10,
    )

    assert disabled.json() == {"webhookId": "wh-toggle", "isEnabled": False}
    assert management.get("webhooks/wh-toggle").json()["data"]["attributes"]["isEnabled"] is False
    webhook.refresh_from_db()
    assert webhooks.deliver(webhook) == []
    requests.post(
        f"{simulator.base_url}/v2.0/vehicles/{vehicle.pk}/security",
        json={"action": "UNLOCK"},
        headers={"Authorization": f"Bearer {driver['access_token']}"},
        timeout=10,
    )
    assert not PendingDelivery.objects.exists()

    requests.post(
        f"{simulator.base_url}/_simulator/webhooks/wh-toggle",
        json={"is_enabled": True},
        headers=control,
        timeout=10,
    )
    (delivery,) = webhooks.deliver_due()

    assert delivery.ok
    (event,) = receiver.payloads()
    assert (
        event["triggers"] == [{"type": "FIRST_DELIVERY"}] and event["data"]["user"]["id"] == driver["user_id"]
    )


def test_an_auto_subscribe_webhook_gets_every_vehicle_connected_afterwards(simulator, management):
    response = requests.post(
        f"{simulator.base_url}/_simulator/webhooks",
        json={
            "url": "http://127.0.0.1:9/auto",
            "webhook_id": "wh-auto",
            "auto_subscribe": True,
            "triggers": ["odometer-traveleddistance"],
            "data": ["odometer-traveleddistance"],
            "error_callback_uri": "http://127.0.0.1:9/errors",
        },
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )
    assert response.status_code == 201 and response.json()["webhookId"] == "wh-auto"
    attributes = management.get("webhooks/wh-auto").json()["data"]["attributes"]
    assert (
        attributes["autoSubscribe"] is True and attributes["errorCallbackUri"] == "http://127.0.0.1:9/errors"
    )
    assert [ref["code"] for ref in attributes["triggers"]] == ["odometer-traveleddistance"]

    grants.connect_vehicles(simulator.application, simulator.vehicles[:2])

    listed = management.get("subscriptions", **{"filter[webhookId]": "wh-auto"}).json()["data"]
    assert sorted(item["relationships"]["vehicle"]["data"]["id"] for item in listed) == sorted(
        vehicle.pk for vehicle in simulator.vehicles[:2]
    )


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/x", "triggers": ["no-such-signal"]},
        {"url": "http://127.0.0.1:9/x", "data": "odometer-traveleddistance"},
        {"url": "http://127.0.0.1:9/x", "auto_subscribe": "yes"},
        {"url": "http://127.0.0.1:9/x", "error_callback_uri": "ftp://elsewhere"},
        {"url": "http://127.0.0.1:9/x", "callbackUri": "http://127.0.0.1:9/y"},
    ],
)
def test_the_control_api_refuses_bad_webhook_attributes(simulator, body):
    answer = requests.post(
        f"{simulator.base_url}/_simulator/webhooks",
        json=body,
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["error"]
    assert not Webhook.objects.exists()


# --- The standalone simulator --------------------------------------------------------------------------------------


def test_the_standalone_simulator_delivers_a_v3_subscriptions_events_by_itself(standalone_simulator):
    base = standalone_simulator.base_url
    control = {"Authorization": f"Bearer {standalone_simulator.management_token}"}
    receiver = Receiver(standalone_simulator.management_token)
    try:
        # A car of a fresh owner, connected (the session's simulator is shared).
        (car,) = requests.post(
            f"{base}/_simulator/seed",
            json={"count": 1, "seed": 417, "email": "v3-management@example.com", "connect": True},
            headers=control,
            timeout=10,
        ).json()["vehicles"]
        registered = requests.post(
            f"{base}/_simulator/webhooks",
            json={"url": receiver.url, "webhook_id": "wh-standalone-v3", "triggers": ["closure-islocked"]},
            headers=control,
            timeout=10,
        )
        assert registered.json()["verified"] is True
        management = Management(
            base, app_token(base, standalone_simulator.api_client_id, standalone_simulator.api_client_secret)
        )

        answer = management.subscribe("wh-standalone-v3", car["userId"], car["id"])

        assert answer.status_code == 202, answer.text
        ((_, body),) = wait_for_events(receiver, 1)
        event = json.loads(body)
        assert event["triggers"] == [{"type": "FIRST_DELIVERY"}]
        assert event["data"]["user"] == {"id": car["userId"]}
        assert event["data"]["vehicle"] == {
            "id": car["id"],
            "make": car["make"],
            "model": car["model"],
            "year": car["year"],
        }
    finally:
        receiver.close()


# --- Migration ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_existing_subscription_its_own_id():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("smartcar_simulator", "0006_api_v3")]
    after = [("smartcar_simulator", "0007_management_v3")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        application = old.get_model("smartcar_simulator", "Application").objects.create(
            client_id="old-client", client_secret_hash="x", management_token="old-amt"
        )
        user = old.get_model("smartcar_simulator", "SimulatedUser").objects.create(
            id="u1", email="old@example.com"
        )
        webhook = old.get_model("smartcar_simulator", "Webhook").objects.create(
            application=application, webhook_id="wh-old", url="http://127.0.0.1:9/"
        )
        vehicle_model = old.get_model("smartcar_simulator", "SimulatedVehicle")
        for number in range(2):
            vehicle = vehicle_model.objects.create(
                id=f"v{number}",
                user=user,
                make="TESLA",
                model="Model 3",
                year=2022,
                vin=f"5YJ3E1EA0NF00000{number}",
                powertrain="EV",
                home_latitude=0,
                home_longitude=0,
                odometer_km=0,
                state_at=clock.now(),
            )
            old.get_model("smartcar_simulator", "WebhookSubscription").objects.create(
                webhook=webhook, vehicle=vehicle
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    ids = list(WebhookSubscription.objects.values_list("subscription_id", flat=True))
    assert len(ids) == 2 and len(set(ids)) == 2 and all(len(value) == 36 for value in ids)
    assert Webhook.objects.get().is_enabled is True  # existing webhooks stay enabled
