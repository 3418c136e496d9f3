"""The simulator's Vehicle API V3 over plain HTTP, claim by claim from smartcar-v3.md (S1 auth and Connect,
S2 shapes, S3 signals, S6 errors and limits), on the simulator mounted in the live server: the same cars and
owners as v2 (a V3 lock shows in v2's lock status and in the v4 webhook's signals)."""

from __future__ import annotations

import pytest
import requests

from django_smartcar.simulator import webhooks
from django_smartcar.simulator.models import Connection, Fault, SimulatedVehicle, Webhook, WebhookSubscription

from .v3_world import V3World, single_error


@pytest.fixture
def world(simulator) -> V3World:
    return V3World.of(simulator)


@pytest.fixture
def connected(world, simulator):
    """The driver's three cars connected through Connect: (query of the redirect, v2 token, ev id, fuel id)."""
    query = world.connect()
    ev = next(vehicle for vehicle in simulator.vehicles if vehicle.has_battery)
    fuel = next(vehicle for vehicle in simulator.vehicles if not vehicle.has_battery)
    return query, ev.pk, fuel.pk


def test_connect_redirects_with_user_id_code_and_state(world, simulator, connected):
    query, _, _ = connected
    assert query["state"] == "v3-state"
    assert query["user_id"] == simulator.vehicles[0].user_id
    # v2 sites keep exchanging the code.
    assert world.v2_token(query["code"])


def test_connections_are_json_api_resources_newest_first_filtered_and_paged(world, simulator, connected):
    query, _, _ = connected
    user_id = query["user_id"]
    answer = world.v3("GET", "/connections", params={"filter[userId]": user_id})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["meta"]["totalCount"] == 3
    first = body["data"][0]
    assert first["type"] == "connection"
    assert first["relationships"]["user"]["data"] == {"id": user_id, "type": "user"}
    vehicle_id = first["relationships"]["vehicle"]["data"]["id"]
    assert first["relationships"]["vehicle"]["data"]["type"] == "vehicle"
    stored = SimulatedVehicle.objects.get(pk=vehicle_id)
    assert first["attributes"]["vehicle"]["make"] == stored.make
    assert first["attributes"]["vehicle"]["mode"] == "live"
    assert first["attributes"]["vehicle"]["powertrainType"] in {"BEV", "ICE", "PHEV"}
    assert "read_odometer" in first["attributes"]["permissions"]
    assert set(first["meta"]) == {"createdAt", "updatedAt"}
    assert first["links"]["self"] == f"/connections/{first['id']}"
    assert set(body["links"]) == {"self", "first", "prev", "next", "last"}

    # Newest first: a later Connect of one car puts it at the top.
    world.connect(vehicle_ids=[simulator.vehicles[2].pk])
    newest = world.v3("GET", "/connections").json()["data"][0]
    assert newest["relationships"]["vehicle"]["data"]["id"] == simulator.vehicles[2].pk

    # Paging by number: 3 connections, 2 a page.
    page_two = world.v3("GET", "/connections", params={"page[number]": 2, "page[size]": 2}).json()
    assert len(page_two["data"]) == 1
    assert page_two["meta"]["totalCount"] == 3
    assert page_two["links"]["next"] is None
    assert "page[number]=1" in page_two["links"]["prev"]
    assert "page[number]=2" in page_two["links"]["last"]

    by_vehicle = world.v3("GET", "/connections", params={"filter[vehicleId]": vehicle_id}).json()
    assert [item["relationships"]["vehicle"]["data"]["id"] for item in by_vehicle["data"]] == [vehicle_id]
    assert world.v3("GET", "/connections", params={"filter[vehicle.mode]": "simulated"}).json()["data"] == []
    assert (
        world.v3("GET", "/connections", params={"filter[userId]": "someone-else"}).json()["meta"][
            "totalCount"
        ]
        == 0
    )

    one = world.v3("GET", f"/connections/{first['id']}")
    assert one.status_code == 200
    assert one.json()["data"]["id"] == first["id"]


@pytest.mark.parametrize(
    "params",
    [{"page[size]": "0"}, {"page[size]": "101"}, {"page[number]": "zero"}, {"filter[vehicle.mode]": "test"}],
)
def test_bad_list_parameters_answer_400_validation_as_json_api(world, connected, params):
    error = single_error(world.v3("GET", "/connections", params=params), 400)
    assert error["type"] == "VALIDATION"
    assert error["code"] == "INVALID_INPUT_FORMAT"
    assert error["source"]["parameter"] == next(iter(params))


def test_signals_all_and_one_with_errors_for_out_of_scope_and_not_capable_signals(world, simulator):
    ev = next(vehicle for vehicle in simulator.vehicles if vehicle.is_electric)
    query = world.connect(
        ["read_vehicle_info", "read_odometer", "read_battery", "read_security", "read_fuel"],
        vehicle_ids=[ev.pk],
    )
    user_id = query["user_id"]
    answer = world.v3("GET", f"/vehicles/{ev.pk}/signals", user_id=user_id)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    by_code = {item["id"]: item for item in body["data"]}
    assert body["meta"]["totalCount"] == len(body["data"]) == len(webhooks.SIGNALS)
    assert body["included"]["vehicle"]["id"] == ev.pk
    assert body["included"]["vehicle"]["attributes"]["powertrainType"] == "BEV"
    assert set(body["links"]) >= {"self", "first", "last"}

    soc = by_code["tractionbattery-stateofcharge"]
    assert soc["type"] == "signal"
    assert soc["attributes"]["status"] == {"value": "SUCCESS"}
    assert soc["attributes"]["body"]["unit"] == "percent"
    assert 0 <= soc["attributes"]["body"]["value"] <= 100 and soc["attributes"]["body"]["value"] > 1
    assert isinstance(soc["meta"]["retrievedAt"], int) and isinstance(soc["meta"]["oemUpdatedAt"], int)
    assert soc["links"]["self"] == f"/vehicles/{ev.pk}/signals/tractionbattery-stateofcharge"
    # Not granted: PERMISSION; a fuel signal of an electric car: not capable. Neither fails the call.
    assert by_code["location-preciselocation"]["attributes"]["status"] == {
        "value": "ERROR",
        "error": {"type": "PERMISSION", "code": None},
    }
    assert by_code["internalcombustionengine-fuellevel"]["attributes"]["status"]["error"] == {
        "type": "COMPATIBILITY",
        "code": "VEHICLE_NOT_CAPABLE",
    }
    assert "body" not in by_code["location-preciselocation"]["attributes"]

    one = world.v3("GET", f"/vehicles/{ev.pk}/signals/odometer-traveleddistance", user_id=user_id)
    assert one.status_code == 200
    resource = one.json()
    assert "data" not in resource  # the bare resource
    assert resource["id"] == "odometer-traveleddistance"
    assert resource["attributes"]["body"]["unit"] == "km"
    assert resource["attributes"]["body"]["value"] == pytest.approx(
        by_code["odometer-traveleddistance"]["attributes"]["body"]["value"], abs=1
    )
    unknown = single_error(
        world.v3("GET", f"/vehicles/{ev.pk}/signals/nothing-nowhere", user_id=user_id), 404
    )
    assert unknown["type"] == "RESOURCE_NOT_FOUND"


def test_the_signals_builder_is_the_v4_webhooks_one(world, simulator, connected):
    query, ev_id, _ = connected
    ev = SimulatedVehicle.objects.get(pk=ev_id)
    webhook = Webhook.objects.create(
        application=simulator.application, webhook_id="wh", url="http://127.0.0.1:9/"
    )
    v3_codes = [
        item["id"]
        for item in world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=query["user_id"]).json()["data"]
    ]
    entries = webhooks.vehicle_event(webhook, ev)["data"]["signals"]
    assert v3_codes == [entry["code"] for entry in entries]


def test_user_scoping_missing_header_other_user_and_tokens(world, simulator, connected):
    query, ev_id, _ = connected
    missing = single_error(world.v3("GET", f"/vehicles/{ev_id}/signals"), 400)
    assert missing["type"] == "VALIDATION"
    assert "userId" in missing["detail"]
    # A user with no connection to the car: as v2 answers a vehicle the token does not reach (S7.2).
    other = single_error(world.v3("GET", f"/vehicles/{ev_id}/signals", user_id="another-user"), 400)
    assert other["type"] == "VALIDATION"
    bad_token = single_error(
        world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=query["user_id"], token="x"), 401
    )
    assert bad_token["type"] == "AUTHENTICATION"
    # A v2 per-user token names its user itself (what the official SDK 6.x sends).
    v2_token = world.v2_token(query["code"])
    assert world.v3("GET", f"/vehicles/{ev_id}/signals", token=v2_token).status_code == 200
    vehicle = world.v3("GET", f"/vehicles/{ev_id}", token=v2_token)
    assert vehicle.status_code == 200
    assert vehicle.json()["data"]["links"]["self"] == f"/vehicles/{ev_id}"
    assert world.v3("GET", f"/vehicles/{ev_id}").json()["data"]["attributes"]["powertrainType"] == "BEV"
    # Connections are the application's: a v2 token does not list them.
    assert single_error(world.v3("GET", "/connections", token=v2_token), 401)["type"] == "AUTHENTICATION"


def test_a_v3_lock_shows_in_v2_lock_status_and_in_the_v4_webhook_signals(world, simulator, connected):
    query, ev_id, _ = connected
    v2_token = world.v2_token(query["code"])
    user_id = query["user_id"]
    unlocked = world.v3("POST", f"/vehicles/{ev_id}/commands/security/unlock", user_id=user_id)
    assert unlocked.status_code == 200, unlocked.text
    execution = unlocked.json()["data"]
    assert execution["type"] == "command-execution"
    assert execution["id"].startswith("exec_")
    assert execution["attributes"]["commandType"] == "security-unlock"
    assert execution["attributes"]["status"] == {"value": "SUCCESS"}
    assert execution["attributes"]["executionMode"] == "sync"
    assert set(execution["meta"]) == {"executedAt", "completedAt", "durationInSeconds"}
    assert world.v2("GET", f"/vehicles/{ev_id}/security", v2_token).json()["isLocked"] is False

    assert world.v3("POST", f"/vehicles/{ev_id}/commands/security/lock", user_id=user_id).status_code == 200
    assert world.v2("GET", f"/vehicles/{ev_id}/security", v2_token).json()["isLocked"] is True
    webhook = Webhook.objects.create(
        application=simulator.application, webhook_id="wh", url="http://127.0.0.1:9/"
    )
    WebhookSubscription.objects.create(webhook=webhook, vehicle_id=ev_id)
    signals = webhooks.vehicle_event(webhook, SimulatedVehicle.objects.get(pk=ev_id))["data"]["signals"]
    assert next(entry for entry in signals if entry["code"] == "closure-islocked")["body"] == {"value": True}
    signal = world.v3("GET", f"/vehicles/{ev_id}/signals/closure-islocked", user_id=user_id).json()
    assert signal["attributes"]["body"] == {"value": True}


def test_set_limit_and_destination_validate_their_attributes(world, simulator, connected):
    query, ev_id, _ = connected
    user_id = query["user_id"]
    path = f"/vehicles/{ev_id}/commands/charge/set-limit"
    answer = world.v3("POST", path, user_id=user_id, json={"data": {"attributes": {"percent": 80}}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["attributes"]["parameters"] == {"percent": 80}
    assert answer.json()["data"]["attributes"]["commandType"] == "charge-set-limit"
    assert SimulatedVehicle.objects.get(pk=ev_id).charge_limit == pytest.approx(0.8)
    limits = world.v3("GET", f"/vehicles/{ev_id}/signals/charge-chargelimits", user_id=user_id).json()
    assert limits["attributes"]["body"]["values"][0]["limit"] == 80

    for percent in (49, 101, "80", True):
        error = single_error(
            world.v3("POST", path, user_id=user_id, json={"data": {"attributes": {"percent": percent}}}), 400
        )
        assert (error["type"], error["code"]) == ("VALIDATION", "INVALID_INPUT_FORMAT")
    missing = single_error(world.v3("POST", path, user_id=user_id, json={"data": {"attributes": {}}}), 400)
    assert missing["code"] == "MISSING_PARAMETER"
    assert SimulatedVehicle.objects.get(pk=ev_id).charge_limit == pytest.approx(0.8)

    destination = f"/vehicles/{ev_id}/commands/navigation/set-destination"
    error = single_error(
        world.v3(
            "POST",
            destination,
            user_id=user_id,
            json={"data": {"attributes": {"latitude": 91, "longitude": 0}}},
        ),
        400,
    )
    assert error == {
        **error,
        "type": "VALIDATION",
        "code": "INVALID_INPUT_FORMAT",
        "title": "Bad Request",
        "detail": "Invalid latitude. Latitude must be a number between -90 and 90.",
        "links": {"about": "https://smartcar.com/docs/errors/api-errors/validation-errors"},
    }
    ok = world.v3(
        "POST",
        destination,
        user_id=user_id,
        json={"data": {"attributes": {"latitude": 48.85, "longitude": 2.35}}},
    )
    assert ok.status_code == 200
    assert ok.json()["data"]["attributes"]["parameters"] == {"latitude": 48.85, "longitude": 2.35}


def test_charging_commands_reach_the_same_car_and_refuse_what_v2_refuses(world, simulator, connected):
    query, ev_id, fuel_id = connected
    user_id = query["user_id"]
    SimulatedVehicle.objects.filter(pk=ev_id).update(is_plugged_in=True, is_charging=False, battery_level=0.5)
    started = world.v3("POST", f"/vehicles/{ev_id}/commands/charge/start", user_id=user_id)
    assert started.status_code == 200, started.text
    assert SimulatedVehicle.objects.get(pk=ev_id).is_charging is True
    assert world.v3("POST", f"/vehicles/{ev_id}/commands/charge/stop", user_id=user_id).status_code == 200
    assert SimulatedVehicle.objects.get(pk=ev_id).is_charging is False
    not_capable = single_error(
        world.v3("POST", f"/vehicles/{fuel_id}/commands/charge/start", user_id=user_id), 501
    )
    assert (not_capable["type"], not_capable["code"]) == ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    unknown = single_error(
        world.v3("POST", f"/vehicles/{ev_id}/commands/security/open", user_id=user_id), 404
    )
    assert unknown["type"] == "RESOURCE_NOT_FOUND"


def test_a_command_held_past_the_sync_limit_answers_202_with_the_final_result(world, settings, connected):
    query, ev_id, _ = connected
    # The model's time scaled by 1/1000: 200 ms of added latency are 200 s of Smartcar time, past ~175 s.
    settings.SMARTCAR_SIMULATOR = {
        **settings.SMARTCAR_SIMULATOR,
        "LATENCY": {"model": "smartcar", "scale": 0.001},
    }
    Fault.objects.create(kind="latency", vehicle_id=ev_id, latency_ms=200, remaining=1)
    answer = world.v3("POST", f"/vehicles/{ev_id}/commands/security/unlock", user_id=query["user_id"])
    assert answer.status_code == 202, answer.text
    execution = answer.json()["data"]
    assert execution["attributes"]["status"] == {"value": "SUCCESS"}
    assert execution["meta"]["durationInSeconds"] > 175
    assert SimulatedVehicle.objects.get(pk=ev_id).is_locked is False
    # Without the added latency the same command is answered in sync.
    again = world.v3("POST", f"/vehicles/{ev_id}/commands/security/lock", user_id=query["user_id"])
    assert again.status_code == 200
    assert again.json()["data"]["attributes"]["executionMode"] == "sync"


def test_limits_and_faults_answer_json_api_errors(world, settings, connected):
    query, ev_id, _ = connected
    user_id = query["user_id"]
    token = world.app_token
    settings.SMARTCAR_SIMULATOR = {
        **settings.SMARTCAR_SIMULATOR,
        "VEHICLE_RATE_LIMIT": {"requests": 1, "window_seconds": 3600},
    }
    assert world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=user_id, token=token).status_code == 200
    throttled = world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=user_id, token=token)
    error = single_error(throttled, 429)
    assert (error["type"], error["code"]) == ("RATE_LIMIT", "VEHICLE")
    assert int(throttled.headers["Retry-After"]) >= 1

    settings.SMARTCAR_SIMULATOR = {
        **settings.SMARTCAR_SIMULATOR,
        "VEHICLE_RATE_LIMIT": None,
        "VEHICLE_MONTHLY_REQUEST_LIMIT": 1,
    }
    assert world.v3("POST", f"/vehicles/{ev_id}/commands/security/lock", user_id=user_id).status_code == 200
    # Connections are unbilled.
    assert world.v3("GET", "/connections").status_code == 200
    billing = single_error(
        world.v3("POST", f"/vehicles/{ev_id}/commands/security/lock", user_id=user_id), 430
    )
    assert (billing["type"], billing["code"], billing["title"]) == (
        "BILLING",
        "VEHICLE_REQUEST_LIMIT",
        "Billing Limit",
    )

    settings.SMARTCAR_SIMULATOR = {**settings.SMARTCAR_SIMULATOR, "VEHICLE_MONTHLY_REQUEST_LIMIT": None}
    Fault.objects.create(kind="server_errors", vehicle_id=ev_id, statuses=[500], remaining=1)
    server = single_error(world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=user_id), 500)
    assert (server["type"], server["code"]) == ("SERVER", "INTERNAL")
    Fault.objects.create(kind="asleep", vehicle_id=ev_id, remaining=1)
    asleep = single_error(world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=user_id), 409)
    assert (asleep["type"], asleep["code"]) == ("VEHICLE_STATE", "ASLEEP")


def test_v3_requests_are_counted_like_v2_ones(world, connected):
    query, ev_id, _ = connected
    assert world.app_token  # obtained before the counters are reset, then reused
    world.control("DELETE", "requests")
    world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=query["user_id"])
    world.v3("POST", f"/vehicles/{ev_id}/commands/security/lock", user_id=query["user_id"])
    counted = {
        (row["vehicleId"], row["method"], row["path"]): row["count"]
        for row in world.control("GET", "requests").json()["requests"]
    }
    assert counted[(ev_id, "GET", f"/v3/vehicles/{ev_id}/signals")] == 1
    assert counted[(ev_id, "POST", f"/v3/vehicles/{ev_id}/commands/security/lock")] == 1
    assert ("", "POST", "/oauth2/token") not in counted


def test_deleting_a_connection_or_a_user_disconnects_as_v2_does(world, simulator, connected):
    query, ev_id, _ = connected
    v2_token = world.v2_token(query["code"])
    user_id = query["user_id"]
    (listed,) = world.v3("GET", "/connections", params={"filter[vehicleId]": ev_id}).json()["data"]
    deleted = world.v3("DELETE", f"/connections/{listed['id']}")
    assert deleted.status_code == 204
    assert not Connection.objects.filter(vehicle_id=ev_id).exists()
    assert ev_id not in world.v2("GET", "/vehicles", v2_token).json()["vehicles"]
    assert single_error(world.v3("GET", f"/connections/{listed['id']}"), 404)["type"] == "RESOURCE_NOT_FOUND"
    assert (
        single_error(world.v3("GET", f"/vehicles/{ev_id}/signals", user_id=user_id), 400)["type"]
        == "VALIDATION"
    )

    assert world.v3("DELETE", f"/users/{user_id}").status_code == 204
    assert world.v3("GET", "/connections").json()["meta"]["totalCount"] == 0
    assert world.v2("GET", "/vehicles", v2_token).json()["vehicles"] == []
    assert single_error(world.v3("DELETE", f"/users/{user_id}"), 404)["type"] == "RESOURCE_NOT_FOUND"


def test_unknown_v3_paths_and_methods_answer_json_api_404(world, connected):
    assert single_error(requests.get(f"{world.base}/v3/nothing", timeout=10), 404)["code"] == "PATH"
    assert single_error(world.v3("POST", "/connections"), 404)["code"] == "PATH"
