"""API V3's Vehicle API (``/v3/...``): connections, users, vehicles, signals and the unified commands.

The same cars, owners, grants and connections as the v2 API: a V3 lock changes the state v2's lock status
reads (and webhooks report), a V3 connection delete is v2's disconnect. Bodies are JSON:API
(``simulator.jsonapi``), shaped as smartcar-v3.md section 2 documents them.

Authentication: ``Authorization: Bearer <application token>`` (from ``/oauth2/token``) with the user in the
``sc-user-id`` header for signals and commands (missing: 400 VALIDATION/MISSING_PARAMETER), or a v2 per-user
access token as Bearer, which names its user itself: what the official SDK 6.x sends for
``Vehicle.get_signals()``/``get_signal()`` and ``smartcar.get_vehicle()``. A vehicle the user (or token) has no
connection to is answered as v2 answers an unknown vehicle: 400 VALIDATION (S7.2).

Latency classes, faults, limits and request counts follow the v2 routes: signals are reads (billed, one per
request whatever the number of signals), commands are commands (billed), connections, users and vehicles are
Smartcar's own (platform; the application's bucket only, unbilled). A command whose modelled time (the latency
model's delay divided by its scale, plus added latency) passes Smartcar's ~175 s sync limit is still carried out
and answered when done, with 202 instead of 200 (the request was held open) [cmd, HAv3].
"""

from __future__ import annotations

import json
import math
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from .. import clock, errors, faults, grants, jsonapi, latency, limits, traffic
from ..app_tokens import application_for_app_token, bearer_token
from ..errors import ApiError, api_json
from ..jsonapi import MISSING_PARAMETER, jsonapi_view
from ..models import Application, Connection, Grant, Powertrain, SimulatedVehicle
from ..signals import SIGNALS_BY_CODE, scope_of, signal_entries
from ..tokens import grant_for_access_token
from ..vehicle_api import ENDPOINTS, UNIT_SYSTEMS, VehicleCall, data_headers, iso, run
from ..vehicle_state import is_sleeping

# page[size] of GET /connections: 10 by default as in the reference's example; its largest is undocumented,
# 100 chosen (the management lists' maximum).
CONNECTIONS_PAGE = (10, 100)
# GET .../signals answers every signal on one page unless asked for less.
SIGNALS_PAGE = (100, 100)
# Smartcar holds a command's request open up to about this long, then answers 202 with the final result.
SYNC_LIMIT_SECONDS = 175.0
POWERTRAIN_TYPES: dict[str, str] = {
    Powertrain.ELECTRIC.value: "BEV",
    Powertrain.FUEL.value: "ICE",
    Powertrain.PLUG_IN_HYBRID.value: "PHEV",
}
CONNECTION_FILTERS = (
    "filter[userId]",
    "filter[vehicleId]",
    "filter[vehicle.mode]",
    "filter[user.externalId]",
)
MODES = ("live", "simulated")


# --- Who is asking ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The application, and the user the request is about: from ``sc-user-id`` with an application token, or
    the user of a v2 access token (``grant`` then set, and its scope and vehicles are what it reaches)."""

    application: Application
    user_id: str | None
    grant: Grant | None = None


def authenticate(request: HttpRequest, *, user_required: bool, v2_token: bool = True) -> Caller:
    token = bearer_token(request) or ""
    application = application_for_app_token(token)
    if application is not None:
        user_id = request.headers.get("sc-user-id", "").strip() or None
        if user_required and user_id is None:
            raise jsonapi.validation_error(
                "Missing userId: send the user's id in the sc-user-id header.",
                "sc-user-id",
                code=MISSING_PARAMETER,
            )
        return Caller(application, user_id)
    grant = grant_for_access_token(token) if token and v2_token else None
    if grant is None:
        raise errors.authentication_error()
    return Caller(grant.application, grant.user_id, grant)


def connected_vehicle(caller: Caller, vehicle_id: str) -> SimulatedVehicle:
    """The vehicle, if connected to the application (for the caller's user when one is named), else 400."""
    vehicle: SimulatedVehicle | None
    if caller.grant is not None:
        vehicle = caller.grant.vehicles.filter(pk=vehicle_id).first()
    else:
        rows = Connection.objects.filter(application=caller.application, vehicle_id=vehicle_id)
        if caller.user_id is not None:
            rows = rows.filter(user_id=caller.user_id)
        connection = rows.select_related("vehicle").first()
        vehicle = connection.vehicle if connection is not None else None
    if vehicle is None:
        raise errors.vehicle_not_found()
    return vehicle


def scope_for(caller: Caller, vehicle: SimulatedVehicle) -> list[str]:
    return list(caller.grant.scope) if caller.grant is not None else scope_of(caller.application, vehicle)


def latest_grant(application: Application, vehicle: SimulatedVehicle) -> Grant | None:
    return (
        Grant.objects.filter(application=application, vehicles=vehicle).order_by("-created_at", "-id").first()
    )


def mode_of(grant: Grant | None) -> str:
    """A connection's mode is its Connect's: live, or simulated (v2's deprecated ``test`` included)."""
    return "live" if grant is None or grant.mode == "live" else "simulated"


# --- The request's path, counting, latency and faults ----------------------------------------------------------


def api_path(request: HttpRequest) -> str:
    """The path below the simulator's mount point (``v3/vehicles/<id>/signals``), as counted."""
    path = request.path
    index = path.find("/v3/")
    return path[index + 1 :] if index >= 0 else path.lstrip("/")


def arrive(request: HttpRequest, vehicle_id: str | None, endpoint_class: str) -> HttpResponse | None:
    """Count the request, wait the latency of its class, and raise (or return, for a gateway page) a failure a
    fault forces."""
    traffic.record(vehicle_id or "", request.method or "", api_path(request))
    failure = faults.failure_for(target="api", vehicle_id=vehicle_id, endpoint=endpoint_class)
    if isinstance(failure, ApiError):
        raise failure
    return failure


def no_such_path(request: HttpRequest) -> ApiError:
    return jsonapi.resource_not_found(request.method, request.path)


def unit_system_of(request: HttpRequest) -> str:
    unit_system = request.headers.get("sc-unit-system", "metric").lower()
    if unit_system not in UNIT_SYSTEMS:
        raise jsonapi.validation_error(
            "The sc-unit-system header must be metric or imperial.", "sc-unit-system"
        )
    return unit_system


def asleep_error() -> ApiError:
    return errors.vehicle_state_error(
        "ASLEEP", "The vehicle is in a sleep state and temporarily unable to perform your request."
    )


# --- Resources ----------------------------------------------------------------------------------------------


def vehicle_resource(vehicle: SimulatedVehicle, mode: str) -> dict[str, Any]:
    return {
        "id": vehicle.pk,
        "type": "vehicle",
        "attributes": {
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
            "powertrainType": POWERTRAIN_TYPES.get(vehicle.powertrain, vehicle.powertrain),
            "mode": mode,
        },
        "links": {"self": f"/vehicles/{vehicle.pk}"},
    }


def connection_resource(connection: Connection, grant: Grant | None) -> dict[str, Any]:
    vehicle = connection.vehicle
    connected_at = iso(connection.connected_at)
    return {
        "id": str(connection.public_id),
        "type": "connection",
        "attributes": {
            # The permissions actually granted [HAv3]: the scope of the vehicle's latest Connect approval.
            "permissions": list(grant.scope) if grant is not None else [],
            "vehicle": {
                "make": vehicle.make,
                "model": vehicle.model,
                "year": vehicle.year,
                "mode": mode_of(grant),
                "powertrainType": POWERTRAIN_TYPES.get(vehicle.powertrain, vehicle.powertrain),
            },
        },
        "relationships": {
            "vehicle": {
                "data": {"id": vehicle.pk, "type": "vehicle"},
                "links": {"related": f"/vehicles/{vehicle.pk}"},
            },
            "user": {"data": {"id": connection.user_id, "type": "user"}},
        },
        # A new Connect approval of the same vehicle renews the connection: both times move with it.
        "meta": {"createdAt": connected_at, "updatedAt": connected_at},
        "links": {"self": f"/connections/{connection.public_id}"},
    }


def signal_resource(entry: dict[str, Any], vehicle_id: str) -> dict[str, Any]:
    """One signal entry (the shared builder's, as in webhooks v4) as the JSON:API resource of [sig]."""
    attributes: dict[str, Any] = {
        "code": entry["code"],
        "name": entry["name"],
        "group": entry["group"],
        "status": entry["status"],
    }
    if "body" in entry:
        attributes["body"] = entry["body"]
    resource: dict[str, Any] = {"id": entry["code"], "type": "signal", "attributes": attributes}
    if "meta" in entry:
        resource["meta"] = {
            "retrievedAt": entry["meta"]["retrievedAt"],
            "oemUpdatedAt": entry["meta"]["oemUpdatedAt"],
        }
    resource["links"] = {"self": f"/vehicles/{vehicle_id}/signals/{entry['code']}"}
    return resource


# --- Connections and users ------------------------------------------------------------------------------------


@jsonapi_view
def connections(request: HttpRequest, request_id: str) -> HttpResponse:
    """``GET /v3/connections``: the application's connections, newest first, filtered and paged by number."""
    if request.method != "GET":
        raise no_such_path(request)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    caller = authenticate(request, user_required=False, v2_token=False)
    limits.admit(caller.application.pk)
    unknown = sorted(
        key for key in request.GET if key.startswith("filter[") and key not in CONNECTION_FILTERS
    )
    if unknown:
        raise jsonapi.validation_error(f"Unknown filter {unknown[0]}.", unknown[0])
    mode = request.GET.get("filter[vehicle.mode]") or None
    if mode is not None and mode not in MODES:
        raise jsonapi.validation_error(
            "filter[vehicle.mode] must be live or simulated.", "filter[vehicle.mode]"
        )
    page = jsonapi.paging(request, default_size=CONNECTIONS_PAGE[0], max_size=CONNECTIONS_PAGE[1])

    rows = caller.application.connections.select_related("vehicle")
    if user_id := request.GET.get("filter[userId]"):
        rows = rows.filter(user_id=user_id)
    if vehicle_id := request.GET.get("filter[vehicleId]"):
        rows = rows.filter(vehicle_id=vehicle_id)
    if request.GET.get("filter[user.externalId]"):
        # The simulator keeps no external ids (Connect's ``user`` parameter is not stored): nothing matches.
        rows = rows.none()
    listed = [(row, latest_grant(caller.application, row.vehicle)) for row in rows]
    if mode is not None:
        listed = [(row, grant) for row, grant in listed if mode_of(grant) == mode]
    chosen = listed[page.offset : page.offset + page.size]
    body = jsonapi.page_document(
        request,
        "/connections",
        [connection_resource(row, grant) for row, grant in chosen],
        total=len(listed),
        page=page,
    )
    return api_json(body, request_id)


def find_connection(application: Application, connection_id: str) -> Connection:
    try:
        public_id = uuid.UUID(connection_id)
    except ValueError:
        public_id = None
    found = (
        application.connections.select_related("vehicle").filter(public_id=public_id).first()
        if public_id is not None
        else None
    )
    if found is None:
        raise jsonapi.not_found(f"No connection {connection_id!r} exists for this application.")
    return found


@jsonapi_view
def connection(request: HttpRequest, request_id: str, connection_id: str) -> HttpResponse:
    """``GET`` one connection; ``DELETE`` it: the vehicle is disconnected from the application (as v2's
    ``DELETE /vehicles/{id}/application`` and the management API's delete)."""
    if request.method not in ("GET", "DELETE"):
        raise no_such_path(request)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    caller = authenticate(request, user_required=False, v2_token=False)
    limits.admit(caller.application.pk)
    found = find_connection(caller.application, connection_id)
    if request.method == "DELETE":
        grants.disconnect(caller.application, [found.vehicle])
        return HttpResponse(status=204)
    grant = latest_grant(caller.application, found.vehicle)
    return api_json({"data": connection_resource(found, grant)}, request_id)


@jsonapi_view
def user(request: HttpRequest, request_id: str, user_id: str) -> HttpResponse:
    """``DELETE /v3/users/{id}``: every connection of that user to the application, removed."""
    if request.method != "DELETE":
        raise no_such_path(request)
    if failure := arrive(request, None, latency.PLATFORM):
        return failure
    caller = authenticate(request, user_required=False, v2_token=False)
    limits.admit(caller.application.pk)
    vehicles = [
        row.vehicle
        for row in caller.application.connections.filter(user_id=user_id).select_related("vehicle")
    ]
    if not vehicles:
        raise jsonapi.not_found(f"No user {user_id!r} is connected to this application.")
    grants.disconnect(caller.application, vehicles)
    return HttpResponse(status=204)


# --- Vehicles and signals -------------------------------------------------------------------------------------


@jsonapi_view
def vehicle(request: HttpRequest, request_id: str, vehicle_id: str) -> HttpResponse:
    """``GET /v3/vehicles/{id}``: make, model, year, powertrain type and mode (no ``sc-user-id`` needed)."""
    if request.method != "GET":
        raise no_such_path(request)
    if failure := arrive(request, vehicle_id, latency.PLATFORM):
        return failure
    caller = authenticate(request, user_required=False)
    found = connected_vehicle(caller, vehicle_id)
    limits.admit(caller.application.pk)
    mode = mode_of(caller.grant or latest_grant(caller.application, found))
    return api_json({"data": vehicle_resource(found, mode)}, request_id)


def read_signals(
    request: HttpRequest, vehicle_id: str
) -> tuple[Caller, SimulatedVehicle, list[dict[str, Any]], VehicleCall]:
    """The checks every signal read makes, then every signal of the car (errors included)."""
    caller = authenticate(request, user_required=True)
    found = connected_vehicle(caller, vehicle_id)
    limits.admit(caller.application.pk, found.pk, billed=1)
    unit_system_of(request)
    now = clock.now()
    if faults.is_asleep(found.pk) or is_sleeping(found, now):
        raise asleep_error()
    entries = signal_entries(found, scope_for(caller, found), now)
    # Signals come in their own units (km, percent...) whatever the unit system asked for.
    return caller, found, entries, VehicleCall(vehicle=found, unit_system="metric", now=now)


def with_data_headers(response: HttpResponse, call: VehicleCall) -> HttpResponse:
    for name, value in data_headers(call).items():
        response[name] = value
    return response


@jsonapi_view
def signals(request: HttpRequest, request_id: str, vehicle_id: str) -> HttpResponse:
    """``GET /v3/vehicles/{id}/signals``: every signal, one failing signal an ERROR entry, never the call."""
    if request.method != "GET":
        raise no_such_path(request)
    if failure := arrive(request, vehicle_id, latency.READ):
        return failure
    caller, found, entries, call = read_signals(request, vehicle_id)
    page = jsonapi.paging(request, default_size=SIGNALS_PAGE[0], max_size=SIGNALS_PAGE[1])
    resources = [signal_resource(entry, found.pk) for entry in entries]
    body = jsonapi.page_document(
        request,
        f"/vehicles/{found.pk}/signals",
        resources[page.offset : page.offset + page.size],
        total=len(resources),
        page=page,
    )
    mode = mode_of(caller.grant or latest_grant(caller.application, found))
    body["included"] = {"vehicle": vehicle_resource(found, mode)}
    return with_data_headers(api_json(body, request_id), call)


@jsonapi_view
def signal(request: HttpRequest, request_id: str, vehicle_id: str, code: str) -> HttpResponse:
    """``GET /v3/vehicles/{id}/signals/{code}``: the bare signal resource (no ``data`` wrapper); 404 for a code
    the simulator does not know."""
    if request.method != "GET":
        raise no_such_path(request)
    if failure := arrive(request, vehicle_id, latency.READ):
        return failure
    if code not in SIGNALS_BY_CODE:
        # Authenticate first: an unknown code is no reason to skip the 401 of a missing token.
        authenticate(request, user_required=True)
        raise jsonapi.not_found(f"No signal {code!r}. Please check the signal code and try again.")
    _, found, entries, call = read_signals(request, vehicle_id)
    entry = next(item for item in entries if item["code"] == code)
    return with_data_headers(api_json(signal_resource(entry, found.pk), request_id), call)


# --- Commands ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A V3 command: its ``commandType``, the v2 endpoint that carries it out on the same car, and how its
    parameters (``data.attributes``) become that endpoint's body (and the ``parameters`` echoed)."""

    command_type: str
    v2: tuple[str, str]
    parameters: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def number_attribute(attributes: dict[str, Any], name: str, low: float, high: float) -> float:
    if name not in attributes or attributes[name] is None:
        raise jsonapi.validation_error(
            f"Missing {name}. {name.capitalize()} is required.", name, code=MISSING_PARAMETER
        )
    value = attributes[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        # The reference's wording [err v3]: "Invalid latitude. Latitude must be a number between -90 and 90."
        raise jsonapi.validation_error(
            f"Invalid {name}. {name.capitalize()} must be a number between {low:g} and {high:g}.", name
        )
    return float(value)


def fixed(body: dict[str, Any]) -> Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]:
    return lambda attributes: (dict(body), {})


def charge_limit_parameters(attributes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    # V3 takes a percentage, 50 to 100 (min 50 [HAv3]); v2's endpoint the fraction.
    percent = number_attribute(attributes, "percent", 50, 100)
    return {"limit": percent / 100}, {"percent": int(percent) if percent.is_integer() else percent}


def destination_parameters(attributes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    latitude = number_attribute(attributes, "latitude", -90, 90)
    longitude = number_attribute(attributes, "longitude", -180, 180)
    coordinates = {"latitude": latitude, "longitude": longitude}
    return dict(coordinates), coordinates


COMMANDS: dict[str, Command] = {
    "security/lock": Command("security-lock", ("POST", "security"), fixed({"action": "LOCK"})),
    "security/unlock": Command("security-unlock", ("POST", "security"), fixed({"action": "UNLOCK"})),
    "charge/start": Command("charge-start", ("POST", "charge"), fixed({"action": "START"})),
    "charge/stop": Command("charge-stop", ("POST", "charge"), fixed({"action": "STOP"})),
    "charge/set-limit": Command("charge-set-limit", ("POST", "charge/limit"), charge_limit_parameters),
    "navigation/set-destination": Command(
        "navigation-set-destination", ("POST", "navigation/destination"), destination_parameters
    ),
}


def command_attributes(request: HttpRequest) -> dict[str, Any]:
    """``data.attributes`` of the body (``{}`` without a body)."""
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise jsonapi.validation_error("The request body is not valid JSON.", "body") from None
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if body is not None and body != {} and not isinstance(attributes, dict):
        raise jsonapi.validation_error('The body must be {"data": {"attributes": {...}}}.', "data.attributes")
    return attributes or {}


def modelled_seconds(real_seconds: float) -> float:
    """How long the command took in Smartcar's time: the real wait divided by the latency model's scale."""
    chosen = latency.configured()
    if chosen.model == "none" or chosen.scale <= 0:
        return real_seconds
    return real_seconds / chosen.scale


@jsonapi_view
def command(request: HttpRequest, request_id: str, vehicle_id: str, name: str) -> HttpResponse:
    """``POST /v3/vehicles/{id}/commands/{group}/{action}``: carried out through the v2 endpoint on the same car,
    answered with a command execution: 200 (sync), or 202 when held past the sync limit."""
    spec = COMMANDS.get(name.strip("/"))
    if request.method != "POST" or spec is None:
        traffic.record(vehicle_id, request.method or "", api_path(request))
        raise no_such_path(request)
    traffic.record(vehicle_id, "POST", api_path(request))
    executed_at = clock.now()
    wait = faults.latency_seconds(target="api", vehicle_id=vehicle_id, endpoint=latency.COMMAND)
    if wait:
        time.sleep(wait)
    failure = faults.injected_failure(target="api", vehicle_id=vehicle_id)
    if isinstance(failure, ApiError):
        raise failure
    if failure is not None:
        return failure

    caller = authenticate(request, user_required=True)
    found = connected_vehicle(caller, vehicle_id)
    limits.admit(caller.application.pk, found.pk, billed=1)
    v2_body, parameters = spec.parameters(command_attributes(request))
    call = VehicleCall(vehicle=found, unit_system="metric", now=clock.now(), body=v2_body)
    run(ENDPOINTS[spec.v2], call, scope_for(caller, found), asleep=faults.is_asleep(found.pk))

    duration = modelled_seconds(wait)
    held = duration > SYNC_LIMIT_SECONDS
    body = {
        "data": {
            "id": f"exec_{secrets.token_hex(8)}",
            "type": "command-execution",
            "attributes": {
                "commandType": spec.command_type,
                "status": {"value": "SUCCESS"},
                # 202: the request was held open past the sync limit; "async" is the simulator's word for it
                # (the reference shows only "sync").
                "executionMode": "async" if held else "sync",
                "parameters": parameters,
            },
            "meta": {
                "executedAt": iso(executed_at),
                "completedAt": iso(executed_at + timedelta(seconds=duration)),
                "durationInSeconds": round(duration),
            },
        }
    }
    return JsonResponse(body, status=202 if held else 200)
