"""The catalogue through the official ``smartcar`` package (6.x) against the standalone simulator: a plug-in
hybrid, a stale car, and the SDK's service history, trouble codes, system status and nominal capacity."""

from __future__ import annotations

import textwrap

from .test_standalone import run_official_sdk

SCRIPT = textwrap.dedent(
    """
    import json, os
    from datetime import datetime, timezone
    import requests
    import smartcar
    from django_smartcar.simulator.testing import complete_connect
    from urllib.parse import parse_qs, urlsplit

    origin = os.environ["SMARTCAR_API_ORIGIN"]
    control = {"Authorization": f"Bearer {os.environ['AMT']}"}

    def seed(email, **fields):
        answer = requests.post(f"{origin}/_simulator/seed", json={"email": email, **fields}, headers=control)
        answer.raise_for_status()
        return answer.json()["vehicles"]

    def connect(email, scope):
        client = smartcar.AuthClient(
            os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], os.environ["REDIRECT_URI"], mode="simulated"
        )
        final = complete_connect(client.get_auth_url(scope, {"force_prompt": True}), email=email)
        return client.exchange_code(parse_qs(urlsplit(final).query)["code"][0]).access_token

    fleet = seed("sdk-fleet@example.com", count=40, seed=5, traits=True)
    hybrid = next(car for car in fleet if car["powertrain"] == "PHEV")
    stale = next(car for car in fleet if car["dataAgeHours"] and not car["sleepCycleMinutes"])
    token = connect("sdk-fleet@example.com", ["read_vehicle_info", "read_fuel", "read_battery", "read_odometer"])
    phev = smartcar.Vehicle(hybrid["id"], token)
    odometer = smartcar.Vehicle(stale["id"], token).odometer()
    age_hours = (
        datetime.now(timezone.utc) - datetime.fromisoformat(odometer.meta.data_age.replace("Z", "+00:00"))
    ).total_seconds() / 3600

    [chevrolet] = seed("sdk-chevrolet@example.com", make="CHEVROLET", traits=False)
    [ford] = seed("sdk-ford@example.com", make="FORD", traits=False)
    scope = ["read_vehicle_info", "read_battery", "read_diagnostics", "read_service_history"]
    gm = smartcar.Vehicle(chevrolet["id"], connect("sdk-chevrolet@example.com", scope))
    dealer = smartcar.Vehicle(ford["id"], connect("sdk-ford@example.com", scope))
    capacity = gm.nominal_capacity()
    codes = gm.diagnostic_trouble_codes()
    systems = gm.diagnostic_system_status()
    history = dealer.service_history("2000-01-01")
    try:
        dealer.diagnostic_trouble_codes()
        not_capable = None
    except smartcar.SmartcarException as error:
        not_capable = [error.status_code, error.code]
    print(json.dumps({
        "phev_fuel": phev.fuel().percent_remaining,
        "phev_battery": phev.battery().percent_remaining,
        "stale_hours": stale["dataAgeHours"],
        "reported_hours_ago": age_hours,
        "nominal": capacity.capacity["nominal"],
        "available": [item.capacity for item in capacity.availableCapacities],
        "codes": [code.code for code in codes.active_codes],
        "systems": sorted(system.system_id for system in systems.systems),
        "records": len(history.items),
        "first_record_keys": sorted(history.items[0]) if history.items else [],
        "not_capable": not_capable,
    }))
    """
)


def test_the_official_sdk_reads_the_catalogue(standalone_simulator):
    result = run_official_sdk(standalone_simulator, SCRIPT)

    assert 0 <= result["phev_fuel"] <= 1 and 0 <= result["phev_battery"] <= 1
    assert abs(result["reported_hours_ago"] - result["stale_hours"]) < 0.1
    assert result["nominal"] > 0 and result["available"] == [result["nominal"]]
    assert isinstance(result["codes"], list)
    assert {"SYSTEM_AIRBAG", "SYSTEM_MIL", "SYSTEM_TPMS"} <= set(result["systems"])
    assert result["records"] >= 1
    assert {"serviceDate", "odometerDistance", "serviceTasks", "serviceCost"} <= set(
        result["first_record_keys"]
    )
    assert result["not_capable"] == [501, "SMARTCAR_NOT_CAPABLE"]
