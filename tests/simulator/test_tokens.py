"""The token endpoint: single-use codes, token lifetimes and refresh-token rotation with its grace window."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from django_smartcar.client import (
    AuthClient,
    AuthenticationException,
    InvalidGrantException,
    OAuthException,
    get_user,
)
from django_smartcar.simulator import clock
from django_smartcar.simulator.models import AccessToken, RefreshToken
from django_smartcar.simulator.testing import complete_connect

from .conftest import query_of


def fresh_code(auth_client: AuthClient) -> str:
    return query_of(complete_connect(auth_client.get_auth_url()))["code"]


def test_a_code_buys_a_bearer_token_pair_valid_two_hours(simulator, auth_client, transport):
    access = auth_client.exchange_code(fresh_code(auth_client))

    assert access.token_type == "Bearer" and access.expires_in == 7200
    assert access.access_token and access.refresh_token and access.access_token != access.refresh_token
    assert get_user(access.access_token, transport=transport).id == simulator.vehicles[0].user_id


def test_a_code_works_only_once(auth_client):
    code = fresh_code(auth_client)
    auth_client.exchange_code(code)

    with pytest.raises(InvalidGrantException, match="Invalid code") as caught:
        auth_client.exchange_code(code)
    assert caught.value.status_code == 400 and code not in str(caught.value)


def test_a_code_expires_after_ten_minutes(auth_client, frozen_clock):
    almost, too_late = fresh_code(auth_client), fresh_code(auth_client)
    frozen_clock.advance(minutes=9, seconds=59)
    auth_client.exchange_code(almost)
    frozen_clock.advance(seconds=1)

    with pytest.raises(InvalidGrantException, match="Invalid code"):
        auth_client.exchange_code(too_late)


def test_a_code_needs_the_redirect_uri_it_was_issued_for(simulator, auth_client, transport):
    code = fresh_code(auth_client)
    elsewhere = AuthClient(
        simulator.client_id,
        simulator.client_secret,
        "http://127.0.0.1/other",
        origins=simulator.origins,
        transport=transport,
    )

    with pytest.raises(InvalidGrantException, match="redirect_uri"):
        elsewhere.exchange_code(code)


def test_wrong_client_credentials_are_refused(simulator, auth_client, transport):
    code = fresh_code(auth_client)
    impostor = AuthClient(
        simulator.client_id,
        "wrong-secret",
        simulator.redirect_uri,
        origins=simulator.origins,
        transport=transport,
    )

    with pytest.raises(OAuthException) as caught:
        impostor.exchange_code(code)
    assert caught.value.status_code == 401 and caught.value.type == "invalid_client"
    assert "wrong-secret" not in str(caught.value)


def test_refresh_rotates_and_the_old_token_dies_after_its_ten_minute_grace(
    auth_client, transport, frozen_clock
):
    first = auth_client.exchange_code(fresh_code(auth_client))
    second = auth_client.exchange_refresh_token(first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token

    frozen_clock.advance(minutes=9, seconds=59)
    retried = auth_client.exchange_refresh_token(first.refresh_token)  # a client that lost the answer
    frozen_clock.advance(seconds=1)

    with pytest.raises(InvalidGrantException, match="Invalid refresh_token"):
        auth_client.exchange_refresh_token(first.refresh_token)
    for survivor in (second, retried):
        assert auth_client.exchange_refresh_token(survivor.refresh_token).access_token


def test_refresh_tokens_expire_after_sixty_days(auth_client, frozen_clock):
    access = auth_client.exchange_code(fresh_code(auth_client))
    frozen_clock.advance(days=60)

    with pytest.raises(InvalidGrantException, match="Invalid refresh_token"):
        auth_client.exchange_refresh_token(access.refresh_token)


def test_an_unknown_refresh_token_is_an_invalid_grant(auth_client):
    with pytest.raises(InvalidGrantException):
        auth_client.exchange_refresh_token("not-a-token-we-issued")


def test_access_tokens_expire_after_two_hours(auth_client, transport, frozen_clock):
    access = auth_client.exchange_code(fresh_code(auth_client))
    frozen_clock.advance(hours=1, minutes=59)
    get_user(access.access_token, transport=transport)
    frozen_clock.advance(minutes=1)

    with pytest.raises(AuthenticationException) as caught:
        get_user(access.access_token, transport=transport)
    assert caught.value.status_code == 401 and caught.value.type == "AUTHENTICATION"


def test_the_clock_offset_moves_expiry_like_time_does(auth_client, transport):
    access = auth_client.exchange_code(fresh_code(auth_client))
    clock.advance(2 * 3600)

    with pytest.raises(AuthenticationException):
        get_user(access.access_token, transport=transport)


def test_tokens_are_stored_only_as_digests(auth_client):
    access = auth_client.exchange_code(fresh_code(auth_client))

    stored = [*AccessToken.objects.values_list("token_hash", flat=True)]
    stored += RefreshToken.objects.values_list("token_hash", flat=True)
    assert access.access_token not in stored and access.refresh_token not in stored
    assert all(len(value) == 64 for value in stored)


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
    ],
)
def test_malformed_token_requests_get_oauth_errors(simulator, data, status, error):
    response = requests.post(
        f"{simulator.base_url}/oauth/token",
        data=data,
        auth=(simulator.client_id, simulator.client_secret),
        timeout=10,
    )

    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["error_description"]


def test_the_token_endpoint_needs_basic_client_auth(simulator):
    response = requests.post(
        f"{simulator.base_url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        timeout=10,
    )

    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_concurrent_exchanges_of_one_code_let_exactly_one_win(auth_client):
    code = fresh_code(auth_client)

    def exchange(_: int) -> str:
        try:
            auth_client.exchange_code(code)
        except InvalidGrantException:
            return "refused"
        return "won"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(exchange, range(4)))

    assert sorted(outcomes) == ["refused", "refused", "refused", "won"]
