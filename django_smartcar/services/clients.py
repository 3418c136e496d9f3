"""Smartcar client objects built from the app's settings.

One ``Transport`` (one pooled ``requests.Session``) is shared per process and per configuration, so every
service call reuses warm connections instead of paying a TLS handshake per request.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from .. import client
from ..client.transport import CALL_CLASSES, TimeoutSetting
from ..conf import smartcar_settings

_transports: dict[tuple[client.Origins, client.Timeouts], client.Transport] = {}
_transports_lock = threading.Lock()


def get_origins() -> client.Origins:
    return client.Origins(
        connect=smartcar_settings.CONNECT_ORIGIN,
        auth=smartcar_settings.AUTH_ORIGIN,
        api=smartcar_settings.API_ORIGIN,
        management=smartcar_settings.MANAGEMENT_API_ORIGIN,
        iam=smartcar_settings.IAM_ORIGIN,
        vehicle_v3=smartcar_settings.VEHICLE_API_V3_ORIGIN,
        management_v3=smartcar_settings.MANAGEMENT_API_V3_ORIGIN,
    )


def get_timeouts() -> client.Timeouts:
    """Each class of call's time-out: ``TIMEOUTS[class]``, else ``REQUEST_TIMEOUT`` when set, else the
    client's default for the class."""
    configured: dict[str, Any] = smartcar_settings.TIMEOUTS
    fallback = smartcar_settings.REQUEST_TIMEOUT
    values: dict[str, TimeoutSetting] = {}
    for name in CALL_CLASSES:
        value = configured.get(name, fallback)
        if isinstance(value, list | tuple):  # a (connect, read) pair
            values[name] = (float(value[0]), float(value[-1]))
        elif value is not None:
            values[name] = float(value)
    return client.Timeouts(**values)


def get_transport() -> client.Transport:
    origins = get_origins()
    timeouts = get_timeouts()
    key = (origins, timeouts)
    with _transports_lock:
        transport = _transports.get(key)
        if transport is None:
            transport = _transports[key] = client.Transport(origins=origins, timeouts=timeouts)
        return transport


def get_redirect_uri(request: HttpRequest | None = None) -> str:
    """The configured REDIRECT_URI, or the callback URL built from the request's host."""
    configured: str | None = smartcar_settings.REDIRECT_URI
    if configured:
        return configured
    path = reverse(smartcar_settings.REDIRECT_URL_NAME)
    if request is None:
        raise ValueError('SMARTCAR["REDIRECT_URI"] is not set and there is no request to build it from.')
    return request.build_absolute_uri(path)


def get_auth_client(redirect_uri: str | None = None) -> client.AuthClient:
    return client.AuthClient(
        client_id=smartcar_settings.CLIENT_ID,
        client_secret=smartcar_settings.CLIENT_SECRET,
        redirect_uri=redirect_uri or smartcar_settings.REDIRECT_URI,
        scope=list(smartcar_settings.SCOPE),
        mode=smartcar_settings.MODE,
        transport=get_transport(),
    )


def get_vehicle_client(smartcar_vehicle_id: str, access_token: str) -> client.Vehicle:
    # The app stores everything in metric; imperial is a presentation concern.
    return client.Vehicle(smartcar_vehicle_id, access_token, unit_system="metric", transport=get_transport())
