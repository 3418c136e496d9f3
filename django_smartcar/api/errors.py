"""How Smartcar's failures, and the app's own refusals, become HTTP answers: one table for the whole API.

A Smartcar-side failure is never a 500: it is named in the body (Smartcar's ``type`` and ``code``) and mapped to
the status a client can act on: wait (429), reconnect (403/409 with ``reconnect_url``), fix the car's state
(409) or try later (502).
"""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response

from .. import client
from ..crypto import EncryptionKeyError
from ..exceptions import (
    AccountUnavailable,
    BudgetExhausted,
    MissingPermission,
    NotQueued,
    VehicleDisconnected,
)
from ..services import commands
from ..services.commands import Failure, describe_failure
from ..services.vehicles import is_developer_error, is_unknown_vehicle

logger = logging.getLogger(__name__)

# The failures the API maps itself; anything else keeps DRF's (and the project's) exception handling.
SMARTCAR_FAILURES = (
    client.SmartcarException,
    MissingPermission,
    AccountUnavailable,
    VehicleDisconnected,
    NotQueued,
    BudgetExhausted,
)

# Smartcar's error type (and the app's own PERMISSION / REAUTHENTICATE) -> HTTP status.
STATUS_FOR_TYPE: dict[str, int] = {
    "RATE_LIMIT": 429,
    "VEHICLE_STATE": 409,
    "CONNECTED_SERVICES_ACCOUNT": 409,
    "COMPATIBILITY": 409,
    "PERMISSION": 403,
    "AUTHENTICATION": 409,
    "REAUTHENTICATE": 409,
    # Stored credentials cannot be read (no configured key decrypts them): a deployment problem.
    "UNAVAILABLE": 503,
    # Refused locally, before any (billed) request: the vehicle is disconnected.
    "VEHICLE_DISCONNECTED": 409,
    # The Celery broker could not take the work: nothing will run it, try again later.
    commands.NOT_QUEUED: 503,
    # The vehicle's monthly request budget is spent: wait (Retry-After: until the month ends).
    commands.BUDGET: 429,
}
# Everything else went wrong between Smartcar, the car maker and us: server errors, gateways, the network.
UPSTREAM_FAILURE_STATUS = 502

# Failures only the car's owner can fix, by going through Connect again (granting what is missing). A
# Smartcar 401 is answered 409, not 401: to an API client 401 means "your session here is invalid".
# Smartcar's 400 for a vehicle id its token does not reach (VALIDATION with no code) is one of them too; its
# RESOURCE_NOT_FOUND (a path or API version it lacks) and other VALIDATION errors are bugs in the request,
# answered 502 and logged as errors: no reconnect would help.
# Smartcar's errors that ask to re-authenticate are the services' one rule (``Failure.reauthenticate``, from
# ``tokens.needs_reauthentication``: a CONNECTED_SERVICES_ACCOUNT/AUTHENTICATION_FAILED too), not a list here.
RECONNECT_TYPES = frozenset({"PERMISSION", "AUTHENTICATION", "REAUTHENTICATE", "VEHICLE_DISCONNECTED"})


def needs_reconnect(failure: Failure) -> bool:
    return (
        failure.reauthenticate
        or failure.type in RECONNECT_TYPES
        or is_unknown_vehicle(failure.type, failure.code)
    )


def status_for(failure: Failure) -> int:
    """The HTTP status answering a failure named by ``services.commands`` (raised, or recorded on a command)."""
    if is_unknown_vehicle(failure.type, failure.code):
        return 409
    return STATUS_FOR_TYPE.get(failure.type, UPSTREAM_FAILURE_STATUS)


def failure_response(request: Request, failure: Failure | Exception, **extra: Any) -> Response:
    """The HTTP answer for a failure (or an exception, named by ``describe_failure``); ``extra`` adds fields to
    the body (e.g. the failed command)."""
    if not isinstance(failure, Failure):
        failure = describe_failure(failure)
    status = status_for(failure)
    body: dict[str, Any] = {
        "detail": failure.message,
        "type": failure.type,
        "code": failure.code or None,
        "request_id": failure.request_id or None,
    }
    headers = {}
    if needs_reconnect(failure):
        body["reconnect_url"] = request.build_absolute_uri(reverse("django_smartcar:connect"))
    if status == 429 and failure.retry_after is not None:
        body["retry_after"] = failure.retry_after
        headers["Retry-After"] = str(failure.retry_after)
    body.update(extra)
    logger.log(
        logging.ERROR if is_developer_error(failure.type, failure.code) else logging.INFO,
        "Smartcar API call for user %s failed: %s %s (%s)",
        getattr(request.user, "pk", None),
        failure.type,
        failure.code or "",
        status,
    )
    return Response(body, status=status, headers=headers)


def unavailable_response(request: Request, exc: EncryptionKeyError) -> Response:
    """A deployment problem (no configured key decrypts the stored tokens; see ``manage.py check``): 503."""
    logger.error("Smartcar API call for user %s failed: %s", getattr(request.user, "pk", None), exc)
    return Response(
        {"detail": "Connected vehicles are unavailable right now. Please try again later."}, status=503
    )
