"""Signals sent by django-smartcar, each named for the event and sent only after its transaction commits.

Receivers can therefore read the rows they are given and queue Celery work safely. ``sender`` is always the
model class of the main argument.

``account_connected(sender=SmartcarAccount, account, user, created)``
    The user finished Connect. ``created`` is False when an existing account was reconnected (updated).
``vehicle_connected(sender=Vehicle, vehicle, account)``
    A vehicle new to this site appeared on an account (or a disconnected one came back).
``vehicle_disconnected(sender=Vehicle, vehicle, account)``
    A vehicle was disconnected here, or vanished from the account's Smartcar vehicle list.
``tokens_refreshed(sender=SmartcarAccount, account)``
    New access and refresh tokens were stored for the account.
``reauth_required(sender=SmartcarAccount, account, reason)``
    The refresh token is dead; the user must reconnect. ``reason`` is Smartcar's error description.
``refresh_token_expiring(sender=SmartcarAccount, account, expires_at, error)``
    Rotating the refresh token failed while it has less than ``EXPIRY_ALERT_WINDOW`` (48 hours) to live:
    unless a retry succeeds, the user will have to reconnect. ``error`` is the last failure.
``vehicle_data_refreshed(sender=Vehicle, vehicle, updated, errors)``
    Data was fetched. ``updated`` lists the data groups that changed (e.g. ``["odometer", "security"]``),
    named as the REST API's vehicle JSON names them (``vin``, ``odometer``, ``location``, ``fuel``,
    ``battery``, ``charge``, ``security``, ``engine_oil``, ``tire_pressure``); ``errors`` maps a Smartcar
    path to the ``SmartcarException`` it answered.
``vehicle_command_sent(sender=VehicleCommand, command)``
    A command was sent; ``command.status`` says whether it succeeded.
``webhook_received(sender=WebhookEvent, event)``
    A verified webhook delivery was stored (not for repeats of an event already received).
``webhook_processed(sender=WebhookEvent, event, updates, triggers, signals)``
    An event was applied; ``updates`` maps each ``Vehicle`` it concerned to the data groups that changed;
    ``triggers`` lists what triggered it as ``(type, signal code or None)``, e.g. ``("FIRST_DELIVERY", None)``;
    ``signals`` maps each ``Vehicle`` to the codes of the signals stored (``VehicleSignal`` rows that changed).
``vehicle_budget_nearing(sender=Vehicle, vehicle, used, limit, month)``
    The vehicle has used ``BUDGET_WARNING_THRESHOLD`` (80 %) of its monthly request budget: ``used`` billed
    requests of ``limit`` (``MONTHLY_REQUESTS_PER_VEHICLE``) in ``month`` (a ``date``, its first day). Sent once
    a month per vehicle; polling already slows down, and stops at the share reserved for people.
"""

from django.dispatch import Signal

account_connected = Signal()
vehicle_connected = Signal()
vehicle_disconnected = Signal()
tokens_refreshed = Signal()
reauth_required = Signal()
refresh_token_expiring = Signal()
vehicle_data_refreshed = Signal()
vehicle_command_sent = Signal()
webhook_received = Signal()
webhook_processed = Signal()
vehicle_budget_nearing = Signal()
