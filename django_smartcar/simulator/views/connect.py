"""Smartcar Connect, the owner's consent flow, as plain HTML forms.

authorize (GET) -> brand picker -> sign-in -> vehicles and permissions -> Approve / Deny -> redirect with
``code``, ``user_id`` (the owner's Smartcar user id, which API V3 sites keep) and ``state``.
reauthenticate (GET, ``response_type=vehicle_id``) -> sign-in as the vehicle's owner -> redirect with
``vehicle_id`` and ``state`` [reauth].

Connect's error redirects (smartcar-v3.md S7.11) are reached as in Smartcar's test mode: by signing in with
one of ``TEST_ACCOUNT_ERRORS``' emails (Smartcar documents the first two; the others follow their pattern),
by offering a vehicle whose VIN is Smartcar's incompatible test VIN, or (``configuration_error``) by asking
for Single Select with one of Smartcar's test VINs outside test mode, as Smartcar answers it.

The flow's state travels in a signed hidden field (``django.core.signing``), not in a session, so any HTTP
client can drive it without keeping cookies. That is also why the form posts are csrf_exempt: there is no
session to forge a request against, and tampering with the flow breaks its signature.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ...client.permissions import is_required, permission_name
from .. import grants
from ..compatibility import INCOMPATIBLE_TEST_VIN, INCOMPATIBLE_TEST_VINS, is_test_vin
from ..models import Application, SimulatedUser, SimulatedVehicle
from ..permissions import ALL_SCOPES, PERMISSIONS
from ..seeding import MAKES, create_user, create_vehicle, make_for_vin, seed_vehicles
from ..tokens import issue_code

FLOW_SALT = "django_smartcar.simulator.connect"
FLOW_MAX_AGE = 3600  # seconds an owner may spend in Connect
MODES = ("live", "test", "simulated")


# Signing in with these emails ends Connect with that error redirect instead of the grant page.
# smartcar@vehicle-incompatible.com and smartcar@invalid-subscription.com are Smartcar's own test-mode accounts
# [D/errors/connect-errors/*]; Smartcar documents none for the other codes, so the simulator follows the pattern.
TEST_ACCOUNT_ERRORS: dict[str, str] = {
    "smartcar@vehicle-incompatible.com": "vehicle_incompatible",
    "smartcar@invalid-subscription.com": "invalid_subscription",
    "smartcar@no-vehicles.com": "no_vehicles",
    "smartcar@configuration-error.com": "configuration_error",
    "smartcar@server-error.com": "server_error",
}
ERROR_DESCRIPTIONS: dict[str, str] = {
    "access_denied": "User denied access to the requested scope of permissions.",
    "vehicle_incompatible": "The user's vehicle is not compatible.",
    "invalid_subscription": "User does not have an active connected vehicle subscription.",
    "no_vehicles": "The user's connected services account has no vehicles.",
    "configuration_error": "There has been an error in the configuration of your application.",
    "server_error": "Smartcar Connect encountered an unexpected error.",
}


class ConnectError(Exception):
    """A request Connect refuses: shown as an error page, never redirected to the application."""


def parse_scope(text: str) -> tuple[list[str], list[str]]:
    """``"required:read_odometer read_vin"`` -> (every permission, in order; the required ones)."""
    scope: list[str] = []
    required: list[str] = []
    for item in text.split():
        name = permission_name(item)
        scope.append(name)
        if is_required(item):
            required.append(name)
    return list(dict.fromkeys(scope)), list(dict.fromkeys(required))


def application_and_redirect_uri(params: Any) -> tuple[Application, str]:
    """The application of ``client_id`` and the redirect URI: the given one if registered, else its default."""
    client_id = params.get("client_id", "")
    application = Application.objects.filter(client_id=client_id).first()
    if application is None:
        raise ConnectError(f"Unknown client_id {client_id!r}: no application is registered with it.")
    # Omitted, it is the application's registered default [rtc].
    redirect_uri = params.get("redirect_uri") or (application.redirect_uris or [None])[0]
    if redirect_uri not in application.redirect_uris:
        raise ConnectError(f"redirect_uri {redirect_uri!r} is not registered for this application.")
    return application, redirect_uri


def parse_authorize(params: Any) -> dict[str, Any]:
    """Validate the authorize query and return the flow it starts."""
    if params.get("response_type") != "code":
        raise ConnectError("response_type must be 'code'.")
    application, redirect_uri = application_and_redirect_uri(params)
    scope, required = parse_scope(params.get("scope", ""))
    scope = scope or list(ALL_SCOPES)
    unknown = [name for name in scope if name not in PERMISSIONS]
    if unknown:
        raise ConnectError(f"Unknown permission(s) in scope: {', '.join(unknown)}.")
    mode = params.get("mode") or "live"
    if mode not in MODES:
        raise ConnectError(f"mode must be one of {', '.join(MODES)}.")
    approval_prompt = params.get("approval_prompt") or "auto"
    if approval_prompt not in ("auto", "force"):
        raise ConnectError("approval_prompt must be auto or force.")
    single_select_vin = params.get("single_select_vin", "").strip().upper()
    if single_select_vin and len(single_select_vin) != 17:
        raise ConnectError("single_select_vin must be a 17-character VIN.")
    make = params.get("make", "").strip().upper()
    return {
        "client_id": application.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "required": required,
        "state": params.get("state"),
        "mode": mode,
        # An unknown make does not bypass anything: the owner picks their brand.
        "make": make if make in MAKES else "",
        "single_select": params.get("single_select", "").lower() == "true" or bool(single_select_vin),
        "single_select_vin": single_select_vin,
        "flags": params.get("flags"),
        "user": params.get("user"),
        "email": None,
    }


def parse_reauthenticate(params: Any) -> dict[str, Any]:
    """Validate a re-authentication query [reauth] and return the flow it starts."""
    if params.get("response_type") != "vehicle_id":
        raise ConnectError("response_type must be 'vehicle_id' to re-authenticate.")
    application, redirect_uri = application_and_redirect_uri(params)
    vehicle_id = params.get("vehicle_id", "")
    vehicle = SimulatedVehicle.objects.filter(pk=vehicle_id, connections__application=application).first()
    if vehicle is None:
        raise ConnectError(f"Vehicle {vehicle_id!r} is not connected to this application.")
    return {
        "client_id": application.client_id,
        "redirect_uri": redirect_uri,
        "scope": [],
        "required": [],
        "state": params.get("state"),
        "mode": "live",
        "make": vehicle.make,
        "single_select": True,
        "single_select_vin": "",
        "reauthenticate": vehicle.pk,
        "email": None,
    }


def error_redirect(flow: dict[str, Any], error: str, **details: str | int | None) -> HttpResponse:
    """End Connect with one of its error codes (S7.11), ``error_description`` and ``state`` included."""
    params: dict[str, str | None] = {"error": error, "error_description": ERROR_DESCRIPTIONS[error]}
    params.update({name: None if value is None else str(value) for name, value in details.items()})
    params["state"] = flow["state"]
    return redirect(flow["redirect_uri"], params)


def incompatible_redirect(flow: dict[str, Any], vehicle: SimulatedVehicle | None) -> HttpResponse:
    """``vehicle_incompatible`` with what the owner agreed to share about the car."""
    if vehicle is None or vehicle.vin in INCOMPATIBLE_TEST_VINS:
        vin = INCOMPATIBLE_TEST_VIN if vehicle is None else vehicle.vin
        make, model, year = INCOMPATIBLE_TEST_VINS[vin]
    else:
        vin, make, model, year = vehicle.vin, vehicle.make, vehicle.model, vehicle.year
    return error_redirect(flow, "vehicle_incompatible", vin=vin, make=make, model=model, year=year)


def pack(flow: dict[str, Any]) -> str:
    return signing.dumps(flow, salt=FLOW_SALT, compress=True)


def unpack(request: HttpRequest) -> dict[str, Any]:
    try:
        # Signed by pack(): the dict it was given.
        flow: dict[str, Any] = signing.loads(
            request.POST.get("flow", ""), salt=FLOW_SALT, max_age=FLOW_MAX_AGE
        )
    except signing.BadSignature as error:
        raise ConnectError(
            "This Connect session is invalid or has expired; start again from your app."
        ) from error
    if not Application.objects.filter(client_id=flow["client_id"]).exists():
        raise ConnectError("The application of this Connect session no longer exists.")
    return flow


def page(
    request: HttpRequest, template: str, flow: dict[str, Any], status: int = 200, **context: Any
) -> HttpResponse:
    application = Application.objects.get(client_id=flow["client_id"])
    context.update(
        flow=flow,
        flow_token=pack(flow),
        application=application,
        permissions=[(name, PERMISSIONS[name], name in flow.get("required", ())) for name in flow["scope"]],
    )
    return render(request, f"smartcar_simulator/{template}", context, status=status)


def error_page(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "smartcar_simulator/error.html", {"message": message}, status=400)


def redirect(uri: str, params: dict[str, str | None]) -> HttpResponse:
    """Send the browser back to the application (any scheme: mobile apps register custom ones)."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    response = HttpResponse(status=302)
    response["Location"] = f"{uri}{'&' if urlsplit(uri).query else '?'}{query}"
    return response


def selectable_vehicles(flow: dict[str, Any], user: SimulatedUser) -> list[SimulatedVehicle]:
    """The vehicles the owner may pick. Any email signs in: an account with no matching car gets one."""
    vin = flow["single_select_vin"]
    if vin:
        vehicle = SimulatedVehicle.objects.filter(vin=vin).first()
        if vehicle is None:
            vehicle = create_vehicle(user, vin=vin, make=make_for_vin(vin) or flow["make"] or "TESLA")
        elif vehicle.user_id != user.pk:
            raise ConnectError(f"This account has no vehicle with VIN {vin}; sign in with its owner's email.")
        return [vehicle]
    vehicles = user.vehicles.all()
    if flow["make"]:
        vehicles = vehicles.filter(make=flow["make"])
    return list(vehicles) or seed_vehicles(1, email=user.email, make=flow["make"] or None)


@require_GET
def authorize(request: HttpRequest) -> HttpResponse:
    try:
        flow = parse_authorize(request.GET)
    except ConnectError as error:
        return error_page(request, str(error))
    if is_test_vin(flow["single_select_vin"]) and flow["mode"] != "test":
        # Smartcar's own answer to a test-mode VIN outside test mode [D/errors/connect-errors/configuration-error].
        return error_redirect(
            flow,
            "configuration_error",
            status_code=400,
            error_message="You have entered a test mode VIN. Please enter a VIN that belongs to a real vehicle.",
        )
    if flow["make"] or flow["single_select_vin"]:
        return page(request, "sign_in.html", flow)
    return page(request, "brands.html", flow, makes=MAKES)


@csrf_exempt
@require_POST
def choose_brand(request: HttpRequest) -> HttpResponse:
    try:
        flow = unpack(request)
    except ConnectError as error:
        return error_page(request, str(error))
    make = request.POST.get("make", "").upper()
    if make and make not in MAKES:
        return page(request, "brands.html", flow, status=400, makes=MAKES, error=f"Unknown brand {make!r}.")
    flow["make"] = make
    return page(request, "sign_in.html", flow)


@csrf_exempt
@require_POST
def sign_in(request: HttpRequest) -> HttpResponse:
    try:
        flow = unpack(request)
    except ConnectError as error:
        return error_page(request, str(error))
    email = request.POST.get("email", "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return page(request, "sign_in.html", flow, status=400, error="Enter a valid email address.")
    if email in TEST_ACCOUNT_ERRORS:
        code = TEST_ACCOUNT_ERRORS[email]
        if code == "vehicle_incompatible":
            return incompatible_redirect(flow, None)
        return error_redirect(flow, code)
    user = create_user(email)
    if flow.get("reauthenticate"):
        if not user.vehicles.filter(pk=flow["reauthenticate"]).exists():
            return page(
                request,
                "sign_in.html",
                flow,
                status=400,
                error="Sign in with the account of this vehicle's owner.",
            )
        return redirect(flow["redirect_uri"], {"vehicle_id": flow["reauthenticate"], "state": flow["state"]})
    try:
        vehicles = selectable_vehicles(flow, user)
    except ConnectError as error:
        return page(request, "sign_in.html", flow, status=400, error=str(error))
    incompatible = [vehicle for vehicle in vehicles if vehicle.vin in INCOMPATIBLE_TEST_VINS]
    if incompatible:
        return incompatible_redirect(flow, incompatible[0])
    flow["email"] = user.email
    return page(request, "grant.html", flow, vehicles=vehicles)


@require_GET
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Re-authentication [reauth]: the owner signs in again; Connect answers ``vehicle_id`` and ``state``."""
    try:
        flow = parse_reauthenticate(request.GET)
    except ConnectError as error:
        return error_page(request, str(error))
    return page(request, "sign_in.html", flow)


def granted_scope(flow: dict[str, Any], posted: Any) -> list[str]:
    """The permissions the owner left ticked, the required ones always (in the order they were asked).

    A post without the page's ``choose_permissions`` marker (a client that never read the checkboxes)
    grants everything asked, as approving an untouched page does.
    """
    if not posted.get("choose_permissions"):
        return list(flow["scope"])
    ticked = set(posted.getlist("permission")) | set(flow.get("required", ()))
    return [name for name in flow["scope"] if name in ticked]


@csrf_exempt
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    try:
        flow = unpack(request)
        if not flow["email"]:
            raise ConnectError("Sign in before approving access.")
    except ConnectError as error:
        return error_page(request, str(error))
    decision = request.POST.get("decision")
    if decision == "deny":
        return redirect(
            flow["redirect_uri"],
            {
                "error": "access_denied",
                "error_description": ERROR_DESCRIPTIONS["access_denied"],
                "state": flow["state"],
            },
        )
    user = create_user(flow["email"])
    try:
        vehicles = selectable_vehicles(flow, user)
    except ConnectError as error:
        return error_page(request, str(error))
    if decision != "approve":
        return page(request, "grant.html", flow, status=400, vehicles=vehicles, error="Choose Allow or Deny.")
    by_id = {vehicle.pk: vehicle for vehicle in vehicles}
    chosen = list(dict.fromkeys(request.POST.getlist("vehicle")))
    problem = None
    if not chosen:
        problem = "Select at least one vehicle."
    elif any(vehicle_id not in by_id for vehicle_id in chosen):
        problem = "Select only vehicles listed here."
    elif flow["single_select"] and len(chosen) != 1:
        problem = "Select exactly one vehicle."
    if problem:
        return page(request, "grant.html", flow, status=400, vehicles=vehicles, error=problem)

    application = Application.objects.get(client_id=flow["client_id"])
    grant = grants.approve(
        application,
        user,
        [by_id[vehicle_id] for vehicle_id in chosen],
        granted_scope(flow, request.POST),
        flow["mode"],
    )
    code = issue_code(grant, flow["redirect_uri"])
    # API V3 sites key on user_id [handle]; code stays so v2 sites exchange it as before (inferred: a V3
    # integration saw both).
    return redirect(flow["redirect_uri"], {"code": code, "user_id": user.pk, "state": flow["state"]})
