"""API V3's JSON:API error documents raise the same exception classes as v2's flat errors (one shared parser)."""

import pytest

from django_smartcar.client import (
    AuthenticationException,
    BillingException,
    CompatibilityException,
    ConnectedServicesAccountException,
    GatewayTimeoutException,
    PermissionException,
    RateLimitingException,
    ResourceNotFoundException,
    RetryPolicy,
    ServerException,
    SmartcarException,
    SmartcarNotCapableException,
    UpstreamException,
    ValidationException,
    VehicleNotCapableException,
    VehicleStateException,
    v3,
)
from django_smartcar.client.exceptions import exception_from_response

from .conftest import ORIGINS, VEHICLE_ID, VEHICLE_V3, jsonapi_error

SIGNALS_URL = f"{VEHICLE_V3}/vehicles/{VEHICLE_ID}/signals"
APP_TOKEN = "app-token-secret-0001"
USER_ID = "user-1e25"
NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def api(transport):
    return v3.VehicleApi(APP_TOKEN, transport=transport, origins=ORIGINS)


def raised_by(api, mocked, **response):
    mocked.get(SIGNALS_URL, **response)
    with pytest.raises(SmartcarException) as caught:
        api.get_signals(VEHICLE_ID, USER_ID)
    return caught.value


@pytest.mark.parametrize(
    ("status", "error_type", "code", "expected"),
    [
        (400, "VALIDATION", "INVALID_INPUT_FORMAT", ValidationException),
        (400, "VALIDATION", "MISSING_PARAMETER", ValidationException),
        (401, "AUTHENTICATION", None, AuthenticationException),
        (403, "PERMISSION", None, PermissionException),
        (404, "RESOURCE_NOT_FOUND", "PATH", ResourceNotFoundException),
        (400, "CONNECTED_SERVICES_ACCOUNT", "VIRTUAL_KEY_REQUIRED", ConnectedServicesAccountException),
        (409, "VEHICLE_STATE", "ASLEEP", VehicleStateException),
        (429, "RATE_LIMIT", "VEHICLE", RateLimitingException),
        (430, "BILLING", "VEHICLE_REQUEST_LIMIT", BillingException),
        (501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", VehicleNotCapableException),
        (501, "COMPATIBILITY", "SMARTCAR_NOT_CAPABLE", SmartcarNotCapableException),
        (501, "COMPATIBILITY", "MAKE_NOT_COMPATIBLE", CompatibilityException),
        (500, "SERVER", "INTERNAL", ServerException),
        (502, "UPSTREAM", "UNKNOWN_ISSUE", UpstreamException),
    ],
)
def test_the_error_type_picks_the_v2_class(status, error_type, code, expected, api, mocked, transport):
    transport.retry = NO_RETRY
    error = raised_by(api, mocked, status=status, json=jsonapi_error(status, error_type, code, "Why."))
    assert type(error) is expected
    assert (error.status_code, error.type, error.code, error.description) == (
        status,
        error_type,
        code,
        "Why.",
    )
    assert str(error) == f"{error_type}:{code} - Why." if code else f"{error_type} - Why."


def test_every_documented_field_is_kept(api, mocked):
    body = jsonapi_error(
        400,
        "VALIDATION",
        "INVALID_INPUT_FORMAT",
        "Invalid latitude. Latitude must be a number between -90 and 90.",
        title="Bad Request",
        links={"about": "https://smartcar.com/docs/errors/api-errors/validation-errors"},
        resolution={"type": None},
        suggestedUserMessage="Check the destination.",
        meta={"requestId": "req-v3-1"},
    )
    error = raised_by(api, mocked, status=400, json=body, headers={"sc-request-id": "header-id"})
    assert isinstance(error, ValidationException)
    assert error.doc_url == "https://smartcar.com/docs/errors/api-errors/validation-errors"
    assert error.resolution == {"type": None, "url": None}
    assert error.suggested_user_message == "Check the destination."
    assert error.request_id == "req-v3-1"
    assert error.errors == body["errors"]
    assert error.errors[0]["status"] == "400"


def test_request_id_and_retry_after_come_from_the_headers(api, mocked, transport):
    transport.retry = NO_RETRY
    error = raised_by(
        api,
        mocked,
        status=429,
        json=jsonapi_error(429, "RATE_LIMIT", "SMARTCAR_API"),
        headers={"sc-request-id": "req-h", "Retry-After": "42"},
    )
    assert isinstance(error, RateLimitingException)
    assert (error.request_id, error.retry_after, error.retryable) == ("req-h", 42, True)


def test_several_errors_first_decides_all_are_kept(api, mocked):
    body = {
        "errors": [
            {
                "status": "400",
                "type": "VALIDATION",
                "code": "INVALID_INPUT_FORMAT",
                "detail": "Bad latitude.",
            },
            {
                "status": "400",
                "type": "VALIDATION",
                "code": "INVALID_INPUT_FORMAT",
                "detail": "Bad longitude.",
            },
            {"status": "400", "type": "VALIDATION", "code": "MISSING_PARAMETER", "detail": "No userId."},
        ]
    }
    error = raised_by(api, mocked, status=400, json=body)
    assert isinstance(error, ValidationException)
    assert error.description == "Bad latitude."
    assert [entry["detail"] for entry in error.errors] == ["Bad latitude.", "Bad longitude.", "No userId."]
    assert str(error) == "VALIDATION:INVALID_INPUT_FORMAT - Bad latitude. (and 2 more errors)"


def test_title_when_there_is_no_detail_and_numeric_status(api, mocked):
    body = {"errors": [{"status": 404, "type": "RESOURCE_NOT_FOUND", "code": "PATH", "title": "Not Found"}]}
    error = raised_by(api, mocked, status=404, json=body)
    assert isinstance(error, ResourceNotFoundException)
    assert error.description == "Not Found"


def test_an_error_without_type_falls_back_to_the_http_status(api, mocked, transport):
    transport.retry = NO_RETRY
    error = raised_by(
        api, mocked, status=504, json={"errors": [{"status": "504", "title": "Gateway Timeout"}]}
    )
    assert isinstance(error, GatewayTimeoutException)
    assert error.description == "Gateway Timeout"


def test_an_empty_or_unreadable_error_list(api, mocked):
    error = raised_by(api, mocked, status=403, json={"errors": []})
    assert isinstance(error, PermissionException)
    assert "empty error list" in str(error)
    error = raised_by(api, mocked, status=403, json={"errors": ["not an object"]})
    assert isinstance(error, PermissionException)


def test_v2_bodies_still_parse_as_before():
    error = exception_from_response(
        409, {}, '{"statusCode": 409, "type": "VEHICLE_STATE", "code": "ASLEEP", "description": "Zzz"}'
    )
    assert isinstance(error, VehicleStateException)
    assert (error.code, error.description, error.errors) == ("ASLEEP", "Zzz", [])


def test_a_token_quoted_by_smartcar_is_masked_everywhere(api, mocked):
    body = jsonapi_error(401, "AUTHENTICATION", None, f"Invalid token {APP_TOKEN} for this app")
    error = raised_by(api, mocked, status=401, json=body)
    assert isinstance(error, AuthenticationException)
    for text in (str(error), repr(error), error.description, error.detail, str(error.errors)):
        assert APP_TOKEN not in text
