"""Webhook subscriptions: connected vehicles are subscribed to ``WEBHOOK_ID``, disconnected ones unsubscribed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .. import client
from ..conf import management_tokens, smartcar_settings
from ..models import Vehicle
from .clients import get_transport, get_vehicle_client

logger = logging.getLogger(__name__)


def subscribe_vehicles(vehicles: Iterable[Vehicle], access_token: str) -> None:
    """Subscribe vehicles to ``WEBHOOK_ID``. A failure is logged, not raised: polling still works without it."""
    webhook_id = smartcar_settings.WEBHOOK_ID
    if not webhook_id:
        return
    for vehicle in vehicles:
        try:
            get_vehicle_client(vehicle.smartcar_id, access_token).subscribe(webhook_id)
        except client.SmartcarException as exc:
            logger.warning("Subscribing vehicle %s to webhook %s failed: %s", vehicle.pk, webhook_id, exc)


def unsubscribe_vehicle(vehicle: Vehicle) -> None:
    """Stop the webhook's deliveries for a vehicle being disconnected (needs the management token)."""
    webhook_id, tokens = smartcar_settings.WEBHOOK_ID, management_tokens()
    if not webhook_id or not tokens:
        return
    try:
        client.unsubscribe(tokens[0], vehicle.smartcar_id, webhook_id, transport=get_transport())
    except client.SmartcarException as exc:
        logger.warning("Unsubscribing vehicle %s from webhook %s failed: %s", vehicle.pk, webhook_id, exc)
