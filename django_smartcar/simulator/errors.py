"""Smartcar's error answers: the v2 error body for the API, the OAuth shape for the token endpoint, and the
non-JSON page a gateway answers with when it gives up (503/504).

Statuses, ``resolution.type`` and the optional fields follow Smartcar's error reference ([err] A/api-errors,
D/errors/api-errors/*) as corrected in the protocol notes (README, "Errors as Smartcar answers them").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse, JsonResponse

DOCS = "https://smartcar.com/docs/errors/api-errors"

# The HTTP status of each error type [err]: CONNECTED_SERVICES_ACCOUNT is 400 and COMPATIBILITY 501 only.
STATUSES = {
    "VALIDATION": 400,
    "CONNECTED_SERVICES_ACCOUNT": 400,
    "AUTHENTICATION": 401,
    "PERMISSION": 403,
    "RESOURCE_NOT_FOUND": 404,
    "VEHICLE_STATE": 409,
    "RATE_LIMIT": 429,
    "BILLING": 430,
    "SERVER": 500,
    "COMPATIBILITY": 501,
    "UPSTREAM": 502,
}

# resolution.type per (type, code), then per (type, None) for every other code; None is answered as
# {"type": null}, which is what Smartcar documents for most errors [err].
RESOLUTIONS: dict[tuple[str, str | None], str | None] = {
    ("PERMISSION", None): "REAUTHENTICATE",
    ("COMPATIBILITY", "PLATFORM_NOT_CAPABLE"): "REAUTHENTICATE",
    ("CONNECTED_SERVICES_ACCOUNT", "AUTHENTICATION_FAILED"): "REAUTHENTICATE",
    # The owner revoked Smartcar's access: connect again [err, connected-services-account-errors#permission].
    ("CONNECTED_SERVICES_ACCOUNT", "PERMISSION"): "REAUTHENTICATE",
    # Tesla's virtual key: the owner acts at resolution.url [err, ...#virtual-key-required].
    ("CONNECTED_SERVICES_ACCOUNT", "VIRTUAL_KEY_REQUIRED"): "ACTION_REQUIRED",
    ("RATE_LIMIT", None): "RETRY_LATER",
    ("SERVER", "INTERNAL"): "RETRY_LATER",
    ("SERVER", "RECORD_NOT_FOUND"): "CONTACT_SUPPORT",
    ("BILLING", None): "CONTACT_SUPPORT",
    # The example answers of D/errors/api-errors/vehicle-state-errors: RETRY_LATER for UNKNOWN and LOW_BATTERY,
    # null for every other code (ASLEEP and UNREACHABLE included).
    ("VEHICLE_STATE", "UNKNOWN"): "RETRY_LATER",
    ("VEHICLE_STATE", "LOW_BATTERY"): "RETRY_LATER",
    ("UPSTREAM", None): "RETRY_LATER",  # UNKNOWN_ISSUE's example answer [err, upstream-errors]
}


def resolution_type(error_type: str, code: str | None) -> str | None:
    if (error_type, code) in RESOLUTIONS:
        return RESOLUTIONS[(error_type, code)]
    return RESOLUTIONS.get((error_type, None))


@dataclass
class ApiError(Exception):
    """A v2 error; raise it from a vehicle API handler and the caller answers with ``response()``."""

    status: int
    type: str
    code: str | None
    description: str
    retry_after: int | None = None
    detail: list[dict[str, Any]] | None = None
    suggested_user_message: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    # A partial re-authentication URL, sent with some REAUTHENTICATE resolutions [reauth].
    resolution_url: str | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.type}:{self.code} - {self.description}")

    def body(self, request_id: str) -> dict[str, Any]:
        # A null code is written "#null" in the anchor, as in captured answers ([HA] vw_id_4_error.json).
        anchor = self.code.lower().replace("_", "-") if self.code else "null"
        resolution: dict[str, str | None] = {"type": resolution_type(self.type, self.code)}
        if self.resolution_url:
            resolution["url"] = self.resolution_url
        body: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "description": self.description,
            "docURL": f"{DOCS}/{self.type.lower().replace('_', '-')}-errors#{anchor}",
            "statusCode": self.status,
            "requestId": request_id,
            "resolution": resolution,
        }
        # Both are optional in Smartcar's answers: detail on validation errors only, a suggested message
        # only where the reference documents one [err]. Absent, not null, otherwise.
        if self.detail is not None:
            body["detail"] = self.detail
        if self.suggested_user_message is not None:
            body["suggestedUserMessage"] = self.suggested_user_message
        return body

    def response(self, request_id: str) -> JsonResponse:
        answer = api_json(self.body(request_id), request_id, status=self.status)
        if self.retry_after is not None:
            answer["Retry-After"] = str(self.retry_after)
        for name, value in self.extra_headers.items():
            answer[name] = value
        return answer


def api_json(body: Any, request_id: str, *, status: int = 200) -> JsonResponse:
    answer = JsonResponse(body, status=status, safe=False)
    answer["SC-Request-Id"] = request_id
    return answer


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    answer = JsonResponse({"error": error, "error_description": description}, status=status)
    answer["Cache-Control"] = "no-store"
    if status == 401:
        answer["WWW-Authenticate"] = 'Basic realm="Smartcar"'
    return answer


GATEWAY_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}


def gateway_page(status: int) -> HttpResponse:
    """What a load balancer answers when the service behind it fails: HTML, not Smartcar's JSON."""
    reason = GATEWAY_REASONS.get(status, "Error")
    html = (
        f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
    )
    return HttpResponse(html, status=status, content_type="text/html")


def authentication_error() -> ApiError:
    return ApiError(
        401,
        "AUTHENTICATION",
        None,
        "The authorization header is missing or malformed, or it contains invalid or expired authentication "
        "credentials (e.g. access token, client ID, client secret). Please check for missing parameters, "
        "spelling and casing mistakes, and other syntax issues.",
    )


def permission_error(scope: str) -> ApiError:
    """403 PERMISSION with the description of the reference's example answer [err, permission-errors#null],
    which does not name the missing permission (``scope``)."""
    return ApiError(
        403,
        "PERMISSION",
        None,
        "Your application has insufficient permissions to access the requested resource. Please prompt the user "
        "to re-authenticate using Smartcar Connect.",
    )


# What Smartcar answers for a vehicle id that is malformed or not one the token reaches: a 400 validation error
# with no code and a null resolution, not a 404 (smartcar/python-sdk tests/e2e/test_exception.py).
INVALID_REQUEST = (
    "Request invalid or malformed. Please check for missing parameters, spelling and casing mistakes, and "
    "other syntax issues."
)


def vehicle_not_found() -> ApiError:
    return ApiError(400, "VALIDATION", None, INVALID_REQUEST)


def path_not_found(method: str | None, path: str) -> ApiError:
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "PATH",
        f"The requested resource ({method} {path}) does not exist. Please check the URL and try again.",
    )


def version_not_found(version: str) -> ApiError:
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "VERSION",
        f"The requested API version ({version}) does not exist. Please check the URL and try again.",
    )


# CONNECTED_SERVICES_ACCOUNT's codes [err] with the description, suggested user message and resolution of the
# example answer Smartcar's reference shows for each [D/errors/api-errors/connected-services-account-errors]:
# (description, suggestedUserMessage or None, resolution URL or None). AUTHENTICATION_FAILED's resolution URL is
# the partial re-authentication URL for the car, built per request (``reauthentication_url``). VEHICLE_MISSING's
# example body repeats SUBSCRIPTION's user message; the simulator sends the one its "Suggested user message"
# section gives.
CONNECTED_SERVICES_ACCOUNT_ERRORS: dict[str, tuple[str, str | None, str | None]] = {
    "ACCOUNT_ISSUE": (
        "Action needed in the user\u2019s connected services account. Please prompt the user to log into their "
        "connected services account and complete any outstanding tasks.",
        "Action required in your connected services account. Please log into your connected services app or "
        "web portal and complete any outstanding tasks (e.g. finish activating your account or accept the "
        "Terms of Service).",
        None,
    ),
    "AUTHENTICATION_FAILED": (
        "Smartcar was unable to authenticate with the user\u2019s connected services account. Please prompt the "
        "user to re-authenticate using Smartcar Connect.",
        "Your car got disconnected from <app name>. Please use this link to re-connect your car: <link to "
        "Smartcar Connect>.",
        None,
    ),
    "NO_VEHICLES": (
        "No vehicles found in the user\u2019s connected services account. Please prompt the user to add their "
        "vehicle to their connected services account and re-authenticate using Smartcar Connect.",
        "Your car got disconnected from <app name>. Please use this link to re-connect your car: <link to "
        "Smartcar Connect>.",
        None,
    ),
    "PERMISSION": ("The vehicle owner has revoked Smartcar\u2019s access to their OEM account.", None, None),
    "SUBSCRIPTION": (
        "The vehicle\u2019s connected services subscription is inactive or does not support the requested API "
        "endpoint.",
        "Your car\u2019s connected services subscription has either expired or it doesn\u2019t support the "
        "necessary features to connect to <app name>. Please activate your subscription or contact us to upgrade "
        "your subscription.",
        None,
    ),
    "VEHICLE_MISSING": (
        "This vehicle is no longer associated with the user\u2019s connected services account. Please prompt the "
        "user to re-add the vehicle to their account.",
        "This car is no longer associated with your connected services account. Please log into your account "
        "and re-add this car.",
        None,
    ),
    "VIRTUAL_KEY_REQUIRED": (
        "The vehicle owner needs to grant additional access to Smartcar in order to perform this request.",
        "In order to perform this request you\u2019ll need to add a Third-Party Virtual key to your vehicle. "
        "Please open this link on the phone with your Tesla App to complete this step.",
        "https://www.tesla.com/_ak/smartcar.com",
    ),
}


def connected_services_account_error(code: str, description: str | None = None) -> ApiError:
    """A problem with the owner's account at the car maker: 400, not 409 [err]."""
    documented, suggested, url = CONNECTED_SERVICES_ACCOUNT_ERRORS.get(code, ("", None, None))
    return ApiError(
        STATUSES["CONNECTED_SERVICES_ACCOUNT"],
        "CONNECTED_SERVICES_ACCOUNT",
        code,
        description or documented or "Action needed in the user\u2019s connected services account.",
        suggested_user_message=suggested,
        resolution_url=url,
    )


def reauthentication_url(connect_origin: str, client_id: str, vehicle_id: str) -> str:
    """The partial Connect re-authentication URL Smartcar puts in an AUTHENTICATION_FAILED resolution [err,
    reauth]: response_type, client_id and vehicle_id; the application adds redirect_uri and state."""
    query = urlencode({"response_type": "vehicle_id", "client_id": client_id, "vehicle_id": vehicle_id})
    return f"{connect_origin.rstrip('/')}/oauth/reauthenticate?{query}"


def validation_error(description: str, field_name: str | None = None) -> ApiError:
    detail = [{"field": field_name, "message": description}] if field_name else None
    return ApiError(400, "VALIDATION", "PARAMETER", description, detail=detail)


# VEHICLE_STATE suggested user messages, as Smartcar's reference shows them in the example answer of each code
# [D/errors/api-errors/vehicle-state-errors]; a code not listed here has none sent.
VEHICLE_STATE_USER_MESSAGES = {
    "ASLEEP": "Your vehicle is in a sleep state. This request was not sent to preserve battery life.",
    "CHARGING_IN_PROGRESS": "Your vehicle is already charging.",
    "CHARGING_PLUG_CONNECTED": "We\u2019re unable to issue the command because the vehicle is currently plugged in.",
    "CHARGING_PLUG_NOT_CONNECTED": "Your vehicle is not plugged in.",
    "DOOR_OPEN": "Your vehicle was unable to lock. Please ensure that all doors and the trunk are fully closed.",
    "FULLY_CHARGED": "Your vehicle is already fully charged.",
    "NOT_CHARGING": "Please ensure that you have plugged an EV charger into your car\u2019s charge port and the "
    "vehicle is charging.",
    "CHARGE_FAULT": "Your vehicle is unable to start or stop charging because of a conflict with the vehicle's "
    "charging schedule.",
    "HOOD_OPEN": "Your vehicle was unable to lock. Please ensure that the vehicle's hood is fully closed.",
    "IGNITION_ON": "Your vehicle is currently running.",
    "IN_MOTION": "Your vehicle is unable to perform the request while in motion.",
    "REMOTE_ACCESS_DISABLED": "Your vehicle is unable to perform the request as remote access is disabled or "
    "unavailable.",
    "TRUNK_OPEN": "Your vehicle was unable to open the trunk because it is already open.",
    "UNKNOWN": "Your vehicle is temporarily unable to connect due to an unknown issue. Please be patient while "
    "we\u2019re working to resolve this issue.",
    "UNREACHABLE": "Your vehicle is currently unreachable. Ensure the vehicle has adequate mobile coverage.",
    "VEHICLE_OFFLINE_FOR_SERVICE": "Your vehicle is in service mode and temporarily unable to perform this task.",
    "LOW_BATTERY": "Your vehicle battery is too low to perform this task.",
}


def vehicle_state_error(code: str, description: str) -> ApiError:
    return ApiError(
        STATUSES["VEHICLE_STATE"],
        "VEHICLE_STATE",
        code,
        description,
        suggested_user_message=VEHICLE_STATE_USER_MESSAGES.get(code),
    )


def vehicle_not_capable(description: str) -> ApiError:
    return ApiError(STATUSES["COMPATIBILITY"], "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", description)


# The suggested user message of the RATE_LIMIT, SERVER/INTERNAL and UPSTREAM/UNKNOWN_ISSUE example answers
# [D/errors/api-errors/rate-limit-errors, server-errors, upstream-errors] (RATE_LIMIT's say "vehicle", the
# others "car").
TEMPORARILY_UNABLE = (
    "Your {thing} is temporarily unable to connect to <app name>. Please be patient while we\u2019re working to "
    "resolve this issue."
)


def rate_limit_error(retry_after: int, *, per_vehicle: bool) -> ApiError:
    """429 RATE_LIMIT as the reference's example answers [err, rate-limit-errors]."""
    if per_vehicle:
        code = "VEHICLE"
        description = (
            "You have reached the throttling rate limit for this vehicle. Please see the retry-after header for "
            "when to retry the request."
        )
    else:
        code = "SMARTCAR_API"
        description = (
            "Your application has exceeded its rate limit. Please retry your request in a few minutes."
        )
    return ApiError(
        429,
        "RATE_LIMIT",
        code,
        description,
        retry_after=retry_after,
        suggested_user_message=TEMPORARILY_UNABLE.format(thing="vehicle"),
    )


def server_error() -> ApiError:
    """500 SERVER/INTERNAL as the reference's example answer [err, server-errors#internal]."""
    return ApiError(
        500,
        "SERVER",
        "INTERNAL",
        "An internal Smartcar error has occurred. Our team has been notified and is working to resolve this issue.",
        suggested_user_message=TEMPORARILY_UNABLE.format(thing="car"),
    )


def upstream_error() -> ApiError:
    """502 UPSTREAM/UNKNOWN_ISSUE as the reference's example answer [err, upstream-errors#unknown-issue]."""
    return ApiError(
        502,
        "UPSTREAM",
        "UNKNOWN_ISSUE",
        "Smartcar received an unknown error from an upstream source. Please retry your request at a later time "
        "and contact us if the issue persists.",
        suggested_user_message=TEMPORARILY_UNABLE.format(thing="car"),
    )
