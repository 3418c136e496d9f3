"""Every failure becomes the right SmartcarException subclass, with Smartcar's fields parsed."""

import socket
from datetime import datetime, timezone

import pytest
import requests

from django_smartcar import client as smartcar
from django_smartcar.client import (
    AuthenticationException,
    BillingException,
    CompatibilityException,
    ConnectedServicesAccountException,
    GatewayTimeoutException,
    InvalidResponseException,
    MonthlyLimitExceeded,
    Origins,
    PermissionException,
    RateLimitingException,
    ResourceNotFoundException,
    RetryPolicy,
    ServerException,
    SmartcarConnectionError,
    SmartcarException,
    SmartcarNotCapableException,
    SmartcarTimeout,
    StateException,
    Transport,
    UpstreamException,
    ValidationException,
    Vehicle,
    VehicleNotCapableException,
    VehicleStateException,
)

from .conftest import ACCESS_TOKEN, VEHICLE_ID, VEHICLE_URL, v2_error

ODOMETER_URL = VEHICLE_URL + "/odometer"


@pytest.fixture
def vehicle(transport):
    return Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport)


def raised_by(vehicle, mocked, **response):
    mocked.get(ODOMETER_URL, **response)
    with pytest.raises(SmartcarException) as caught:
        vehicle.odometer()
    return caught.value


@pytest.mark.parametrize(
    ("status", "error_type", "code", "expected"),
    [
        (400, "VALIDATION", "PARAMETER", ValidationException),
        (401, "AUTHENTICATION", None, AuthenticationException),
        (403, "PERMISSION", None, PermissionException),
        (404, "RESOURCE_NOT_FOUND", "PATH", ResourceNotFoundException),
        (409, "VEHICLE_STATE", "ASLEEP", VehicleStateException),
        (409, "CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION", ConnectedServicesAccountException),
        (409, "COMPATIBILITY", "MAKE_NOT_COMPATIBLE", CompatibilityException),
        (501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", VehicleNotCapableException),
        (501, "COMPATIBILITY", "SMARTCAR_NOT_CAPABLE", SmartcarNotCapableException),
        (429, "RATE_LIMIT", "VEHICLE", RateLimitingException),
        (430, "BILLING", "VEHICLE_REQUEST_LIMIT", BillingException),
        (500, "SERVER", "INTERNAL", ServerException),
        (502, "UPSTREAM", "UNKNOWN_ISSUE", UpstreamException),
    ],
)
def test_v2_type_picks_the_class(status, error_type, code, expected, vehicle, mocked):
    # Statuses that would be retried are given a Retry-After beyond the cap so they fail at once.
    error = raised_by(
        vehicle,
        mocked,
        status=status,
        json=v2_error(status, error_type, code),
        headers={"Retry-After": "999"},
    )
    assert type(error) is expected
    assert (error.status_code, error.type, error.code) == (status, error_type, code)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ValidationException),
        (401, AuthenticationException),
        (403, PermissionException),
        (404, ResourceNotFoundException),
        (409, StateException),
        (430, MonthlyLimitExceeded),
        (500, ServerException),
        (501, VehicleNotCapableException),
        (504, GatewayTimeoutException),
        (418, SmartcarException),
    ],
)
def test_status_table_of_the_seeds(status, expected, vehicle, mocked):
    error = raised_by(vehicle, mocked, status=status, json={"statusCode": status, "description": "Nope."})
    assert isinstance(error, expected)
    assert error.status_code == status


def test_class_families():
    assert issubclass(VehicleStateException, StateException)
    assert issubclass(ConnectedServicesAccountException, StateException)
    assert issubclass(VehicleNotCapableException, CompatibilityException)
    assert issubclass(smartcar.InvalidGrantException, AuthenticationException)
    assert issubclass(smartcar.InvalidGrantException, smartcar.OAuthException)
    assert issubclass(SmartcarTimeout, SmartcarConnectionError)
    assert MonthlyLimitExceeded is BillingException


def test_every_v2_field_is_parsed(vehicle, mocked):
    body = v2_error(
        429,
        "RATE_LIMIT",
        "VEHICLE",
        "You have reached the throttling rate limit for this vehicle.",
        docURL="https://smartcar.com/docs/errors/api-errors/rate-limit-errors#vehicle",
        resolution={"type": "RETRY_LATER"},
        detail=[{"field": "odometer"}],
        suggestedUserMessage="Please wait a moment.",
    )
    error = raised_by(
        vehicle, mocked, status=429, json=body, headers={"Retry-After": "600", "SC-Request-Id": "hdr-id"}
    )
    assert error.status_code == 429
    assert error.type == "RATE_LIMIT"
    assert error.code == "VEHICLE"
    assert error.description == "You have reached the throttling rate limit for this vehicle."
    assert error.doc_url.endswith("#vehicle")
    assert error.resolution == {"type": "RETRY_LATER", "url": None}
    assert error.request_id == "req-err-1"
    assert error.retry_after == 600
    assert error.detail == [{"field": "odometer"}]
    assert error.suggested_user_message == "Please wait a moment."
    assert error.retryable
    assert str(error) == "RATE_LIMIT:VEHICLE - You have reached the throttling rate limit for this vehicle."


def test_request_id_falls_back_to_the_header(vehicle, mocked):
    body = {"type": "PERMISSION", "description": "No.", "statusCode": 403}
    error = raised_by(vehicle, mocked, status=403, json=body, headers={"sc-request-id": "from-header"})
    assert error.request_id == "from-header"
    assert str(error) == "PERMISSION - No."


def test_retry_after_as_an_http_date():
    now = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
    assert smartcar.exceptions.parse_retry_after("Wed, 01 May 2024 10:00:30 GMT", now=now) == 30
    assert smartcar.exceptions.parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now=now) == 0
    assert smartcar.exceptions.parse_retry_after("soon") is None


def test_v1_error_body(vehicle, mocked):
    body = {
        "error": "vehicle_state_error",
        "message": "Vehicle is asleep.",
        "code": "VS_001",
        "requestId": "r1",
    }
    error = raised_by(vehicle, mocked, status=409, json=body)
    assert isinstance(error, StateException)
    assert (error.type, error.code, error.description, error.request_id) == (
        "vehicle_state_error",
        "VS_001",
        "Vehicle is asleep.",
        "r1",
    )


def test_non_json_error_body(vehicle, mocked):
    error = raised_by(
        vehicle,
        mocked,
        status=500,
        body="<html><body>Internal Server Error</body></html>",
        content_type="text/html",
    )
    assert isinstance(error, ServerException)
    assert error.status_code == 500
    assert error.type is None
    assert "Internal Server Error" in str(error)


def test_empty_error_body(vehicle, mocked):
    error = raised_by(vehicle, mocked, status=404, body="")
    assert isinstance(error, ResourceNotFoundException)
    assert str(error) == "HTTP 404 with an empty body"


def test_json_error_body_that_is_not_an_object(vehicle, mocked):
    error = raised_by(vehicle, mocked, status=400, json=["bad"])
    assert isinstance(error, ValidationException)


def test_non_json_success_body(vehicle, mocked):
    error = raised_by(
        vehicle, mocked, status=200, body="OK", content_type="text/plain", headers={"sc-request-id": "r"}
    )
    assert isinstance(error, InvalidResponseException)
    assert error.request_id == "r"
    assert not error.retryable


def test_json_success_body_that_is_not_an_object(vehicle, mocked):
    assert isinstance(raised_by(vehicle, mocked, status=200, json=[1, 2]), InvalidResponseException)


def test_redirect_is_not_followed(vehicle, mocked):
    error = raised_by(vehicle, mocked, status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    assert isinstance(error, InvalidResponseException)
    assert len(mocked.calls) == 1


def test_mocked_timeout_and_connection_error(transport, mocked, sleeps):
    vehicle = Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport)
    mocked.get(ODOMETER_URL, body=requests.ReadTimeout("read timed out"))
    mocked.get(VEHICLE_URL + "/vin", body=requests.ConnectionError("refused"))
    with pytest.raises(SmartcarTimeout) as timeout:
        vehicle.odometer()
    with pytest.raises(SmartcarConnectionError) as connection:
        vehicle.vin()
    assert timeout.value.retryable and connection.value.retryable
    assert not isinstance(connection.value, SmartcarTimeout)


def test_real_timeout_on_a_silent_local_server():
    # A listening socket that never answers: the request must give up after the configured time-out.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        origins = Origins(api=f"http://127.0.0.1:{port}")
        policy = RetryPolicy(max_attempts=1)
        with (
            Transport(origins=origins, timeout=0.05, retry=policy) as transport,
            pytest.raises(SmartcarTimeout, match=r"within 0\.05s"),
        ):
            Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport).odometer()


def test_real_connection_refused():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    origins = Origins(api=f"http://127.0.0.1:{port}")
    with (
        Transport(origins=origins, retry=RetryPolicy(max_attempts=1)) as transport,
        pytest.raises(SmartcarConnectionError) as caught,
    ):
        Vehicle(VEHICLE_ID, ACCESS_TOKEN, transport=transport).odometer()
    assert ACCESS_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (409, False),
        (429, True),
        (500, False),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_retryable_by_status(status, retryable):
    assert SmartcarException("x", status_code=status).retryable is retryable


def test_str_without_type():
    assert str(SmartcarException(status_code=503)) == "HTTP 503"
    assert str(SmartcarException("plain words")) == "plain words"
