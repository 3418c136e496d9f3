"""Webhook subscriptions: connected vehicles are subscribed to ``WEBHOOK_ID``, disconnected ones unsubscribed.

Through whichever API the vehicle's connection uses (``clients.account_api``); the rules (only with a
``WEBHOOK_ID``, a failure logged and never raised) are here, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .. import client
from ..conf import smartcar_settings
from ..models import Vehicle
from .clients import AccountApi, account_api

logger = logging.getLogger(__name__)


def subscribe_vehicles(vehicles: Iterable[Vehicle], api: AccountApi) -> None:
    """Subscribe vehicles (of the connection ``api`` reaches) to ``WEBHOOK_ID``. A failure is logged, not raised:
    polling still works without it."""
    webhook_id = smartcar_settings.WEBHOOK_ID
    if not webhook_id:
        return
    for vehicle in vehicles:
        try:
            api.subscribe(vehicle, webhook_id)
        except client.SmartcarException as exc:
            logger.warning("Subscribing vehicle %s to webhook %s failed: %s", vehicle.pk, webhook_id, exc)


def unsubscribe_vehicle(vehicle: Vehicle) -> None:
    """Stop the webhook's deliveries for a vehicle being disconnected (v2: needs the management token)."""
    webhook_id = smartcar_settings.WEBHOOK_ID
    if not webhook_id:
        return
    try:
        account_api(vehicle.account).unsubscribe(vehicle, webhook_id)
    except client.SmartcarException as exc:
        logger.warning("Unsubscribing vehicle %s from webhook %s failed: %s", vehicle.pk, webhook_id, exc)
