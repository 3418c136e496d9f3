"""CONNECTED_SERVICES_ACCOUNT through the official ``smartcar`` package (6.x) against the standalone simulator:
the control API's ``connected_services_account`` fault answers 400 with the code, the documented docURL and,
for ACCOUNT_ISSUE, Smartcar's suggestedUserMessage."""

from __future__ import annotations

import textwrap

from .test_standalone import run_official_sdk

SCRIPT = textwrap.dedent(
    """
    import json, os
    import requests
    import smartcar
    from django_smartcar.simulator.testing import complete_connect
    from urllib.parse import parse_qs, urlsplit

    origin = os.environ["SMARTCAR_API_ORIGIN"]
    control = {"Authorization": f"Bearer {os.environ['AMT']}"}
    email = "sdk-account-issue@example.com"
    answer = requests.post(f"{origin}/_simulator/seed", json={"email": email, "traits": False}, headers=control)
    answer.raise_for_status()
    [car] = answer.json()["vehicles"]
    client = smartcar.AuthClient(
        os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], os.environ["REDIRECT_URI"], mode="simulated"
    )
    final = complete_connect(client.get_auth_url(["read_odometer"], {"force_prompt": True}), email=email)
    token = client.exchange_code(parse_qs(urlsplit(final).query)["code"][0]).access_token
    fault = {"kind": "connected_services_account", "vehicle_id": car["id"], "code": "ACCOUNT_ISSUE"}
    requests.post(f"{origin}/_simulator/faults", json=fault, headers=control).raise_for_status()
    try:
        smartcar.Vehicle(car["id"], token).odometer()
        error = None
    except smartcar.SmartcarException as exc:
        error = {
            "status": exc.status_code, "type": exc.type, "code": exc.code, "doc_url": exc.doc_url,
            "suggested": exc.suggested_user_message,
        }
    finally:
        requests.delete(f"{origin}/_simulator/faults", params={"vehicle_id": car["id"]}, headers=control)
    print(json.dumps({"error": error}))
    """
)


def test_the_official_sdk_sees_a_connected_services_account_error(standalone_simulator):
    error = run_official_sdk(standalone_simulator, SCRIPT)["error"]

    assert error is not None
    assert (error["status"], error["type"], error["code"]) == (
        400,
        "CONNECTED_SERVICES_ACCOUNT",
        "ACCOUNT_ISSUE",
    )
    assert error["doc_url"].endswith("/connected-services-account-errors#account-issue")
    assert error["suggested"].startswith("Action required in your connected services account.")
