"""API V3 against the STANDALONE simulator (``python -m django_smartcar.simulator``), as outside clients use it:
the official Python SDK 6.x's V3 calls unchanged, and a V3 client's token, Connect, signals and command flow
with plain ``requests``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests

from .v3_world import V3World, single_error

# The SDK reads its origins from the environment when it is imported (smartcar/config.py), so it runs in a
# process of its own with SMARTCAR_VEHICLE_API_V3_ORIGIN pointing at the simulator.
SDK_SCRIPT = """
import json, sys
import smartcar
from smartcar.exception import SmartcarException
from smartcar.smartcar import get_vehicle  # not re-exported by the package in 6.19.1

vehicle_id, access_token = sys.argv[1], sys.argv[2]
vehicle = smartcar.Vehicle(vehicle_id, access_token)
signals = vehicle.get_signals()
one = vehicle.get_signal("tractionbattery-stateofcharge")
info = get_vehicle(access_token, vehicle_id)
try:
    vehicle.get_signal("no-such-signal")
    missing = None
except SmartcarException as error:
    missing = error.status_code
print(json.dumps({"signals": signals["body"], "one": one["body"], "vehicle": info["body"], "missing": missing}))
"""


def test_the_official_sdks_v3_calls_work_unchanged(standalone_simulator):
    world = V3World.of(standalone_simulator)
    query = world.connect()
    access_token = world.v2_token(query["code"])
    ev_id = next(
        vehicle_id
        for vehicle_id in world.vehicle_ids(query["user_id"])
        if world.v3("GET", f"/vehicles/{vehicle_id}").json()["data"]["attributes"]["powertrainType"] == "BEV"
    )
    environment = {**os.environ, "SMARTCAR_VEHICLE_API_V3_ORIGIN": standalone_simulator.base_url}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    finished = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, ev_id, access_token],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    answers = json.loads(finished.stdout)
    codes = [item["attributes"]["code"] for item in answers["signals"]["data"]]
    assert "tractionbattery-stateofcharge" in codes and "odometer-traveleddistance" in codes
    assert answers["signals"]["included"]["vehicle"]["id"] == ev_id
    assert answers["one"]["id"] == "tractionbattery-stateofcharge"
    assert answers["one"]["attributes"]["body"]["unit"] == "percent"
    assert answers["vehicle"]["data"]["id"] == ev_id
    assert answers["vehicle"]["data"]["type"] == "vehicle"
    assert answers["missing"] == 404


def test_a_v3_client_flow_token_connect_signals_and_command(standalone_simulator):
    world = V3World.of(standalone_simulator)
    before = world.control("GET", "requests").json()["requests"]
    tokens_before = sum(row["count"] for row in before if row["path"] == "/oauth2/token")
    query = world.connect()
    user_id = query["user_id"]
    vehicle_ids = world.vehicle_ids(user_id)
    assert len(vehicle_ids) == 3
    missing_user = single_error(world.v3("GET", f"/vehicles/{vehicle_ids[0]}/signals"), 400)
    assert missing_user["type"] == "VALIDATION"
    signals = world.v3("GET", f"/vehicles/{vehicle_ids[0]}/signals", user_id=user_id)
    assert signals.status_code == 200
    assert signals.headers["SC-Request-Id"]
    locked = world.v3("POST", f"/vehicles/{vehicle_ids[0]}/commands/security/lock", user_id=user_id)
    assert locked.status_code == 200
    assert locked.json()["data"]["attributes"]["commandType"] == "security-lock"
    # One application token served every call above.
    after = world.control("GET", "requests").json()["requests"]
    assert sum(row["count"] for row in after if row["path"] == "/oauth2/token") == tokens_before + 1
    # The standalone simulator answers a bad secret as the documented OAuth error.
    refused = requests.post(
        f"{world.base}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": world.api_client_id, "client_secret": "nope"},
        timeout=10,
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
