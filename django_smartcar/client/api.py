"""Calls that are not about one vehicle: the user, their vehicle list, compatibility, token expiry."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from .config import API_VERSION, CLIENT_ID_ENV, CLIENT_SECRET_ENV, Origins, format_flags
from .permissions import permission_names
from .results import Compatibility, Meta, User, VehicleList, parse_datetime
from .transport import Transport, shared_transport


def is_expired(expiration: datetime | str) -> bool:
    """Whether an expiration (aware or naive-UTC datetime, or ISO 8601 string) has passed."""
    if not isinstance(expiration, datetime | str):
        kind = type(expiration).__name__
        raise TypeError(f"expiration must be a datetime or an ISO 8601 string, got {kind}")
    moment = parse_datetime(expiration)
    if moment is None:
        raise ValueError(f"expiration is not an ISO 8601 date and time: {expiration!r}")
    return moment <= datetime.now(timezone.utc)


def _bearer(access_token: str) -> dict[str, str]:
    if not access_token or not isinstance(access_token, str):
        raise ValueError("An access token is required")
    return {"Authorization": f"Bearer {access_token}"}


def get_user(access_token: str, *, transport: Transport | None = None) -> User:
    """The Smartcar user the access token belongs to."""
    transport = transport or shared_transport()
    response = transport.send(
        "GET", transport.origins.api_url("user"), headers=_bearer(access_token), retry_safe=True
    )
    return User.from_body(response.body, Meta.from_headers(response.headers))


def get_user_id(access_token: str, *, transport: Transport | None = None) -> str:
    return get_user(access_token, transport=transport).id


def get_vehicles(
    access_token: str,
    limit: int | None = None,
    offset: int | None = None,
    *,
    transport: Transport | None = None,
) -> VehicleList:
    """One page of the ids of the vehicles the user connected to the application."""
    transport = transport or shared_transport()
    params = {key: value for key, value in (("limit", limit), ("offset", offset)) if value is not None}
    response = transport.send(
        "GET",
        transport.origins.api_url("vehicles"),
        headers=_bearer(access_token),
        params=params or None,
        retry_safe=True,
    )
    return VehicleList.from_body(response.body, Meta.from_headers(response.headers))


def get_vehicle_ids(
    access_token: str, limit: int = 10, offset: int = 0, *, transport: Transport | None = None
) -> VehicleList:
    """The 4.x SDK's name and defaults: ``result["vehicles"]`` and ``result["paging"]["count"]`` work."""
    return get_vehicles(access_token, limit=limit, offset=offset, transport=transport)


def iter_vehicle_ids(
    access_token: str, page_size: int = 50, *, transport: Transport | None = None
) -> Iterator[str]:
    """Every vehicle id of the user, fetching page after page as needed."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    offset = 0
    while True:
        page = get_vehicles(access_token, limit=page_size, offset=offset, transport=transport)
        yield from page.vehicles
        offset += len(page.vehicles)
        if not page.vehicles or offset >= page.paging.count:
            return


def _client_credentials(client_id: str | None, client_secret: str | None) -> tuple[str, str]:
    client_id = client_id or os.environ.get(CLIENT_ID_ENV)
    client_secret = client_secret or os.environ.get(CLIENT_SECRET_ENV)
    if not client_id or not client_secret:
        raise ValueError(
            f"Compatibility checks need the application's client id and secret: pass them or set "
            f"{CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"
        )
    return client_id, client_secret


# The keys of the 6.x SDK's get_compatibility(vin, scope, country, options).
COMPATIBILITY_OPTIONS = (
    "client_id",
    "client_secret",
    "version",
    "flags",
    "mode",
    "test_mode",
    "test_mode_compatibility_level",
)


def get_compatibility(
    vin: str,
    scope: str | Iterable[str],
    country: str = "US",
    options: Mapping[str, Any] | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    transport: Transport | None = None,
    origins: Origins | None = None,
) -> Compatibility:
    """Whether a VIN can work with Smartcar for the given permissions, and why not if it cannot.

    ``options`` is the 6.x SDK's dictionary: ``client_id`` and ``client_secret`` (else the keyword arguments,
    else the environment), ``flags``, ``mode``, ``test_mode`` and ``test_mode_compatibility_level``.

    ``scope`` may be a Connect scope: ``required:`` is Connect's alone, so it is stripped (the compatibility API
    takes bare permission names).
    """
    if not vin or not isinstance(vin, str):
        raise ValueError("get_compatibility needs a VIN")
    scopes = permission_names(scope)
    if not scopes:
        raise ValueError("get_compatibility needs at least one permission in scope")
    options = dict(options or {})
    unknown = set(options) - set(COMPATIBILITY_OPTIONS)
    if unknown:
        raise ValueError(f"Unknown get_compatibility option(s): {', '.join(sorted(unknown))}")
    if options.get("version") not in (None, API_VERSION):
        raise ValueError(f"This client speaks Smartcar API version {API_VERSION} only")
    params = {"vin": vin, "scope": " ".join(scopes), "country": country}
    if options.get("flags"):
        params["flags"] = format_flags(options["flags"])
    if options.get("test_mode_compatibility_level"):
        params.update(mode="test", test_mode_compatibility_level=options["test_mode_compatibility_level"])
    elif options.get("mode"):
        params["mode"] = str(options["mode"])
    elif options.get("test_mode"):
        params["mode"] = "test"
    transport = transport or shared_transport()
    response = transport.send(
        "GET",
        (origins or transport.origins).api_url("compatibility"),
        params=params,
        auth=_client_credentials(
            options.get("client_id") or client_id, options.get("client_secret") or client_secret
        ),
        retry_safe=True,
    )
    return Compatibility.from_body(response.body, Meta.from_headers(response.headers))


def is_compatible(
    vin: str,
    scope: str | Iterable[str],
    country: str = "US",
    options: Mapping[str, Any] | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    transport: Transport | None = None,
) -> bool:
    """``False`` means the vehicle is certainly not compatible; ``True``, that it likely is."""
    return get_compatibility(
        vin, scope, country, options, client_id=client_id, client_secret=client_secret, transport=transport
    ).compatible
