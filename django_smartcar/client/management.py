"""Smartcar's management API and other calls made with the Application Management Token (AMT)."""

from __future__ import annotations

from urllib.parse import quote

from .config import Origins
from .results import ActionResult, Connections, DeletedConnections, Meta
from .transport import Transport, shared_transport

# The official SDK authenticates management calls as HTTP Basic "default:<amt>".
MANAGEMENT_USERNAME = "default"
# The trailing slash is what the official SDK sends; Smartcar (and the simulator) answer on it.
CONNECTIONS_PATH = "connections/"


def get_connections(
    amt: str,
    vehicle_id: str | None = None,
    user_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    *,
    mode: str | None = None,
    transport: Transport | None = None,
) -> Connections:
    """One page of the vehicles connected to the application, newest first.

    ``limit`` is 10 unless given, at most 100; ``mode`` keeps ``"live"`` or ``"simulated"`` connections only
    (``"test"`` is Smartcar's deprecated name of simulated).
    """
    transport = transport or shared_transport()
    filters = (
        ("user_id", user_id),
        ("vehicle_id", vehicle_id),
        ("mode", mode),
        ("cursor", cursor),
        ("limit", limit),
    )
    params = {key: value for key, value in filters if value is not None}
    response = transport.send(
        "GET",
        transport.origins.management_url(CONNECTIONS_PATH),
        auth=(MANAGEMENT_USERNAME, amt),
        params=params or None,
        retry_safe=True,
        call="management",
    )
    return Connections.from_body(response.body, Meta.from_headers(response.headers))


def delete_connections(
    amt: str,
    vehicle_id: str | None = None,
    user_id: str | None = None,
    *,
    transport: Transport | None = None,
) -> DeletedConnections:
    """Disconnect one vehicle, every vehicle of one user, or (both given) that user's connection of that
    vehicle, from the application. The answer names each connection (``connected_at`` and ``mode`` None)."""
    if not vehicle_id and not user_id:
        raise ValueError("delete_connections needs a vehicle_id, a user_id or both")
    transport = transport or shared_transport()
    filters = (("user_id", user_id), ("vehicle_id", vehicle_id))
    params = {key: value for key, value in filters if value}
    response = transport.send(
        "DELETE",
        transport.origins.management_url(CONNECTIONS_PATH),
        auth=(MANAGEMENT_USERNAME, amt),
        params=params,
        retry_safe=False,
        call="management",
    )
    return DeletedConnections.from_body(response.body, Meta.from_headers(response.headers))


def unsubscribe(
    amt: str,
    vehicle_id: str,
    webhook_id: str,
    *,
    origins: Origins | None = None,
    transport: Transport | None = None,
) -> ActionResult:
    """Stop a vehicle's webhook deliveries; needs only the AMT (sent as a Bearer token), no user token."""
    transport = transport or shared_transport()
    origins = origins or transport.origins
    url = origins.api_url(f"vehicles/{quote(vehicle_id, safe='')}/webhooks/{quote(webhook_id, safe='')}")
    response = transport.send(
        "DELETE", url, headers={"Authorization": f"Bearer {amt}"}, retry_safe=False, call="management"
    )
    return ActionResult.from_body(response.body, Meta.from_headers(response.headers))
