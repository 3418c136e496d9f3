"""Connect: building the URL a user is sent to, checking the ``state`` that comes back, creating the account."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import client, signals
from ..conf import smartcar_settings
from ..db import select_for_update
from ..exceptions import InvalidConnectState
from ..models import ConnectState, SmartcarAccount, Vehicle
from . import subscriptions, tokens, vehicles
from .clients import get_auth_client, get_transport, get_vehicle_client

logger = logging.getLogger(__name__)


def start_connect(
    user,
    *,
    redirect_uri: str,
    session_key: str | None = None,
    next_url: str = "",
    make: str | None = None,
    single_select: bool | None = None,
    single_select_vin: str | None = None,
    force: bool = False,
) -> tuple[str, str]:
    """Create a single-use ``state`` for ``user`` and return ``(connect_url, state)``.

    With a ``session_key`` the state is also bound to that browser session, so a link sent to someone else
    cannot complete the connection in their session.
    """
    state = secrets.token_urlsafe(32)
    ConnectState.objects.create(
        state_hash=ConnectState.hash(state),
        user=user,
        session_key_hash=ConnectState.hash(session_key) if session_key else "",
        next_url=next_url or "",
        expires_at=timezone.now() + timedelta(seconds=int(smartcar_settings.STATE_MAX_AGE)),
    )
    url = get_auth_client(redirect_uri).get_auth_url(
        force=force,
        state=state,
        make=make or None,
        single_select=single_select,
        single_select_vin=single_select_vin or None,
    )
    return url, state


def consume_state(state: str | None, *, user, session_key: str | None = None) -> ConnectState:
    """Check and use up a callback's ``state``; raise ``InvalidConnectState`` with a user-readable reason."""
    if not state or len(state) > 200:
        raise InvalidConnectState("The Connect response carried no valid state. Please start again.")
    now = timezone.now()
    with transaction.atomic():
        try:
            record = select_for_update(ConnectState.objects.filter(state_hash=ConnectState.hash(state))).get()
        except ConnectState.DoesNotExist:
            raise InvalidConnectState("This Connect link is unknown. Please start again.") from None
        if record.user_id != getattr(user, "pk", None):
            raise InvalidConnectState("This Connect link was started by another user.")
        if record.session_key_hash and record.session_key_hash != ConnectState.hash(session_key or ""):
            raise InvalidConnectState("This Connect link was started in another browser session.")
        if record.used_at is not None:
            raise InvalidConnectState("This Connect link has already been used. Please start again.")
        if record.expires_at <= now:
            raise InvalidConnectState("This Connect link has expired. Please start again.")
        # Conditional update, so that two callbacks racing with the same state cannot both win.
        claimed = ConnectState.objects.filter(pk=record.pk, used_at__isnull=True).update(used_at=now)
        if not claimed:
            raise InvalidConnectState("This Connect link has already been used. Please start again.")
    return record


def complete_connect(user, code: str, *, redirect_uri: str) -> SmartcarAccount:
    """Exchange the code, create or update the user's account, and sync its vehicles.

    Everything Smartcar is asked comes first; the rows are written in one transaction only once all of it
    answered, so a failure half-way leaves nothing behind. Reconnecting the same Smartcar user updates the
    existing account (new tokens, status active) instead of creating a second one.
    """
    access = get_auth_client(redirect_uri).exchange_code(code)
    smartcar_user_id = client.get_user_id(access["access_token"], transport=get_transport())
    snapshots = vehicles.fetch_vehicles(access["access_token"])
    mode = smartcar_settings.MODE
    with transaction.atomic():
        account = select_for_update(
            SmartcarAccount.objects.filter(smartcar_user_id=smartcar_user_id, mode=mode)
        ).first()
        created = account is None
        if created:
            account = SmartcarAccount(owner=user, smartcar_user_id=smartcar_user_id, mode=mode)
        elif account.owner_id != user.pk:
            # Whoever signs in to that Smartcar account controls it; the connection follows them.
            logger.info("Smartcar account %s moves to user %s on reconnect", account.pk, user.pk)
            account.owner = user
        tokens.store_tokens(account, access)
        account.scope = list(smartcar_settings.SCOPE)
        account.connected_at = timezone.now()
        account.disconnected_at = None
        account.save()
        transaction.on_commit(
            lambda: signals.account_connected.send(
                sender=SmartcarAccount, account=account, user=user, created=created
            )
        )
        synced = vehicles.apply_vehicle_list(account, snapshots)
    subscriptions.subscribe_vehicles(synced.connected, access["access_token"])
    return account


def disconnect_vehicle(vehicle: Vehicle) -> None:
    """Revoke the app's access to one vehicle at Smartcar and mark it disconnected here."""
    if vehicle.is_connected and vehicle.account.is_usable:
        subscriptions.unsubscribe_vehicle(vehicle)
        remote = get_vehicle_client(vehicle.smartcar_id, tokens.get_access_token(vehicle.account))
        try:
            remote.disconnect()
        except (client.AuthenticationException, client.ResourceNotFoundException):
            # Smartcar no longer knows this connection: it is as disconnected as it can be.
            logger.info("Vehicle %s was already disconnected at Smartcar", vehicle.pk)
    with transaction.atomic():
        vehicles.mark_disconnected(vehicle)


def disconnect_account(account: SmartcarAccount) -> None:
    """Disconnect every vehicle of the account, then forget its tokens."""
    for vehicle in account.vehicles.filter(is_connected=True).select_related("account"):
        disconnect_vehicle(vehicle)
    account.status = SmartcarAccount.Status.DISCONNECTED
    account.disconnected_at = timezone.now()
    # Dead tokens are still secrets; nothing is kept that is not needed.
    account.access_token_encrypted = ""
    account.refresh_token_encrypted = ""
    account.save()
