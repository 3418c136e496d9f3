"""What a Connect approval creates and what a disconnection removes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction

from ..client.permissions import permission_names
from . import clock, webhooks
from .models import Application, Connection, Grant, SimulatedUser, SimulatedVehicle, WebhookSubscription
from .permissions import ALL_SCOPES
from .tokens import issue_tokens


def approve(
    application: Application,
    user: SimulatedUser,
    vehicles: Iterable[SimulatedVehicle],
    scope: Sequence[str],
    mode: str = "live",
) -> Grant:
    """Record the owner's approval: a grant for these vehicles and a connection for each of them.

    ``scope`` may be a Connect scope: what is granted is the permissions, ``required:`` stripped.
    """
    now = clock.now()
    vehicles = list(vehicles)
    with transaction.atomic():
        grant = Grant.objects.create(
            application=application, user=user, scope=permission_names(scope), mode=mode, created_at=now
        )
        grant.vehicles.set(vehicles)
        for vehicle in vehicles:
            Connection.objects.update_or_create(
                application=application, vehicle=vehicle, defaults={"user": user, "connected_at": now}
            )
        # Webhooks set to auto-subscribe get every vehicle connected from now on (with its FIRST_DELIVERY).
        for webhook in application.webhooks.filter(auto_subscribe=True):
            for vehicle in vehicles:
                webhooks.subscribe(webhook, vehicle, user.pk)
    return grant


def connect_vehicles(
    application: Application, vehicles: Sequence[SimulatedVehicle], scope: Sequence[str] = ALL_SCOPES
) -> dict[str, str | int]:
    """Skip Connect: approve ``vehicles`` (all of one owner) for ``application`` and return fresh tokens."""
    owners = {vehicle.user_id for vehicle in vehicles}
    if len(owners) != 1:
        raise ValueError("connect_vehicles needs at least one vehicle, all belonging to the same user")
    grant = approve(application, vehicles[0].user, vehicles, scope)
    return issue_tokens(grant)


def disconnect(application: Application, vehicles: Iterable[SimulatedVehicle]) -> list[Connection]:
    """End the application's access to these vehicles: every token loses them, webhooks stop.

    Returns the connections that existed (already deleted, but still readable).
    """
    vehicles = list(vehicles)
    with transaction.atomic():
        removed = list(Connection.objects.filter(application=application, vehicle__in=vehicles))
        Connection.objects.filter(pk__in=[connection.pk for connection in removed]).delete()
        for grant in Grant.objects.filter(application=application, vehicles__in=vehicles).distinct():
            grant.vehicles.remove(*vehicles)
        WebhookSubscription.objects.filter(webhook__application=application, vehicle__in=vehicles).delete()
    return removed
