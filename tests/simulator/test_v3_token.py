"""API V3's IAM token endpoint and JSON:API basics of the simulator, asked over plain HTTP as the protocol
(smartcar-v3.md S1 "Token", S6) describes them."""

from __future__ import annotations

import requests

from tests.conftest import API_CLIENT_ID, API_CLIENT_SECRET


def token_requests(simulator) -> int:
    answer = requests.get(
        f"{simulator.base_url}/_simulator/requests",
        headers={"Authorization": f"Bearer {simulator.management_token}"},
        timeout=10,
    )
    return sum(row["count"] for row in answer.json()["requests"] if row["path"] == "/oauth2/token")


def test_client_credentials_in_a_form_body_get_a_one_hour_bearer_token_without_refresh_token(simulator):
    answer = requests.post(
        f"{simulator.base_url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": API_CLIENT_ID,
            "client_secret": API_CLIENT_SECRET,
        },
        timeout=10,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert token_requests(simulator) == 1


def test_a_json_body_is_accepted_too(simulator):
    answer = requests.post(
        f"{simulator.base_url}/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": API_CLIENT_ID,
            "client_secret": API_CLIENT_SECRET,
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["expires_in"] == 3600


def test_token_errors_are_oauth_errors(simulator):
    url = f"{simulator.base_url}/oauth2/token"
    cases = [
        ({"client_id": API_CLIENT_ID, "client_secret": API_CLIENT_SECRET}, 400, "invalid_request"),
        (
            {
                "grant_type": "authorization_code",
                "client_id": API_CLIENT_ID,
                "client_secret": API_CLIENT_SECRET,
            },
            400,
            "unsupported_grant_type",
        ),
        (
            {"grant_type": "client_credentials", "client_id": API_CLIENT_ID, "client_secret": "wrong"},
            401,
            "invalid_client",
        ),
        # The v2 client id and secret (the Application ID) are not API credentials.
        (
            {
                "grant_type": "client_credentials",
                "client_id": simulator.client_id,
                "client_secret": simulator.client_secret,
            },
            401,
            "invalid_client",
        ),
    ]
    for data, status, error in cases:
        answer = requests.post(url, data=data, timeout=10)
        assert answer.status_code == status, (data, answer.text)
        body = answer.json()
        assert body["error"] == error
        assert body["error_description"]
        assert "wrong" not in body["error_description"]
    assert token_requests(simulator) == len(cases)


def test_unknown_v3_paths_answer_a_json_api_404(simulator):
    unknown = requests.get(f"{simulator.base_url}/v3/nothing/here", timeout=10)
    assert unknown.status_code == 404
    (error,) = unknown.json()["errors"]
    assert (error["status"], error["type"], error["code"]) == ("404", "RESOURCE_NOT_FOUND", "PATH")
    assert unknown.headers["SC-Request-Id"]
