"""Shared fixtures for the client's unit tests: fixed origins, a recorded sleep and mocked HTTP."""

import pytest
import responses

from django_smartcar.client import Origins, RetryPolicy, Transport

# Only localhost is ever a target; `responses` intercepts these before any socket is opened.
ORIGINS = Origins(
    connect="http://127.0.0.1:8101",
    auth="http://127.0.0.1:8102/oauth/token",
    api="http://127.0.0.1:8103",
    management="http://127.0.0.1:8104",
    iam="http://127.0.0.1:8105",
    vehicle_v3="http://127.0.0.1:8106",
    management_v3="http://127.0.0.1:8107",
)
API = "http://127.0.0.1:8103/v2.0"
MANAGEMENT = "http://127.0.0.1:8104/v2.0/management"
IAM_TOKEN_URL = "http://127.0.0.1:8105/oauth2/token"
VEHICLE_V3 = "http://127.0.0.1:8106/v3"
MANAGEMENT_V3 = "http://127.0.0.1:8107/v3"
VEHICLE_ID = "36ab27d0-fd9d-4455-823a-ce30af709ffc"
VEHICLE_URL = f"{API}/vehicles/{VEHICLE_ID}"
ACCESS_TOKEN = "access-token-a1b2c3"
OTHER_TOKEN = "access-token-z9y8x7"


@pytest.fixture
def sleeps():
    """Every delay the retry policy asked for, instead of actually sleeping."""
    return []


@pytest.fixture
def transport(sleeps):
    # jitter fixed at 0.5 so backoff delays are exact: ceiling/2 + 0.5 * ceiling/2.
    policy = RetryPolicy(sleep=sleeps.append, jitter=lambda: 0.5)
    with Transport(origins=ORIGINS, retry=policy) as shared:
        yield shared


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def v2_error(status, error_type, code=None, description="Something went wrong.", **extra):
    """A v2 error body as Smartcar sends it."""
    body = {"statusCode": status, "type": error_type, "description": description, "requestId": "req-err-1"}
    if code:
        body["code"] = code
    body.update(extra)
    return body


def jsonapi_error(status, error_type, code=None, detail="Something went wrong.", **extra):
    """An API V3 error document as Smartcar sends it: JSON:API, ``status`` a string."""
    error = {"status": str(status), "type": error_type, "code": code, "title": "Error", "detail": detail}
    error.update(extra)
    return {"errors": [error]}
