"""Connect: building the URL a user is sent to, checking the ``state`` that comes back, creating the account."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from .. import client, signals
from ..client.redaction import redact_text
from ..conf import smartcar_settings
from ..db import select_for_update
from ..exceptions import InvalidConnectRequest, InvalidConnectState
from ..models import ConnectState, SiteUser, SmartcarAccount, Vehicle
from ..text import column_length, is_plain_text
from . import subscriptions, tokens, vehicles
from .clients import NewConnection, account_api, connect_api, get_auth_client

logger = logging.getLogger(__name__)


# The longest ``next`` URL kept (the column's size).
NEXT_URL_MAX_LENGTH = column_length(ConnectState, "next_url")


def success_url() -> str:
    """Where users land after Connect or a disconnect when no safe ``next`` was given: ``CONNECT_SUCCESS_URL``,
    a URL name or a path, resolved now. A name that does not resolve (system check W008 says so) falls back to
    ``/`` rather than failing the user's request."""
    configured = smartcar_settings.CONNECT_SUCCESS_URL
    try:
        return resolve_url(configured)
    except NoReverseMatch:
        logger.warning(
            "SMARTCAR['CONNECT_SUCCESS_URL'] %r does not resolve; sending the user to /.", configured
        )
        return "/"


def safe_next_url(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it points back to this site and can be stored, else the configured landing page (no open
    redirects, no NUL or control characters that the database would refuse). The one rule for ``next``, in the
    HTML views and the API alike: a ``next`` that is not safe is never an error, the landing page is used."""
    if (
        candidate
        and is_plain_text(candidate, NEXT_URL_MAX_LENGTH)
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return success_url()


# The longest value of each Connect option passed on to Smartcar (a brand name, a VIN).
CONNECT_OPTION_MAX_LENGTHS = {"make": 50, "single_select_vin": 17}


def check_connect_option(name: str, value: str | None) -> str | None:
    """A Connect option (``make``, ``single_select_vin``) as given, or ``None`` when empty; one that is too long
    or not plain text raises ``InvalidConnectRequest``. The one rule, applied by ``start_connect`` and by the
    API's serializer: an option is refused, never truncated."""
    if value and not is_plain_text(value, CONNECT_OPTION_MAX_LENGTHS[name]):
        raise InvalidConnectRequest(f"The {name} parameter is invalid.")
    return value or None


def start_connect(
    user: SiteUser,
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
    cannot complete the connection in their session. A ``next_url`` that cannot be stored is dropped (the
    landing page is used); a ``make`` or ``single_select_vin`` that is not plain text raises
    ``InvalidConnectRequest``. The user's live states are bounded by ``MAX_CONNECT_STATES_PER_USER``: the
    oldest ones beyond it are dropped, so repeated clicks cannot fill the table.
    """
    make = check_connect_option("make", make)
    single_select_vin = check_connect_option("single_select_vin", single_select_vin)
    state = _new_state(user, session_key, next_url)
    url = get_auth_client(redirect_uri).get_auth_url(
        force=force,
        state=state,
        make=make,
        single_select=single_select,
        single_select_vin=single_select_vin,
    )
    return url, state


def start_reauthentication(
    user: SiteUser,
    vehicle: Vehicle,
    *,
    redirect_uri: str,
    session_key: str | None = None,
    next_url: str = "",
) -> tuple[str, str]:
    """Connect's re-authentication URL for one of ``user``'s vehicles, with a fresh single-use ``state`` bound
    as ``start_connect`` binds it; returns ``(url, state)``. Connect comes back with ``vehicle_id`` and the
    state (no code), which ``complete_reauthentication`` handles."""
    state = _new_state(user, session_key, next_url)
    return get_auth_client(redirect_uri).get_reauth_url(vehicle.smartcar_id, state=state), state


def _new_state(user: SiteUser, session_key: str | None, next_url: str) -> str:
    """Store a single-use state for ``user`` (bounded per user, see ``start_connect``) and return it."""
    if next_url and not is_plain_text(next_url, NEXT_URL_MAX_LENGTH):
        next_url = ""
    state = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        ConnectState.objects.create(
            state_hash=ConnectState.hash(state),
            user=user,
            session_key_hash=ConnectState.hash(session_key) if session_key else "",
            next_url=next_url or "",
            created_at=now,
            expires_at=now + timedelta(seconds=int(smartcar_settings.STATE_MAX_AGE)),
        )
        _drop_states_beyond_limit(user, now)
    return state


def _drop_states_beyond_limit(user: SiteUser, now: datetime) -> None:
    """Delete the user's oldest live (unused, unexpired) states beyond ``MAX_CONNECT_STATES_PER_USER``."""
    limit = smartcar_settings.MAX_CONNECT_STATES_PER_USER
    if limit is None:
        return
    live = ConnectState.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now)
    keep = list(live.order_by("-created_at", "-pk").values_list("pk", flat=True)[: int(limit)])
    dropped, _ = live.exclude(pk__in=keep).delete()
    if dropped:
        logger.info("Dropped %s old Connect state(s) of user %s beyond the limit", dropped, user.pk)


def clear_expired_states(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete expired Connect states (used or not), like ``clearsessions``; return how many (would) go.

    An expired state can never be accepted again: keeping it only grows the table.
    """
    expired = ConnectState.objects.filter(expires_at__lte=now or timezone.now())
    if dry_run:
        return expired.count()
    deleted, _ = expired.delete()
    return deleted


def consume_state(state: str | None, *, user: SiteUser, session_key: str | None = None) -> ConnectState:
    """Check and use up a callback's ``state``; raise ``InvalidConnectState`` with a user-readable reason."""
    if not state or not is_plain_text(state, 200):
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


@dataclass(frozen=True)
class ConnectFailure:
    """What to tell the user when Connect came back with ``error=``: the message, the page's HTTP status,
    and whether the flow ended as the user chose (then the page offers to continue where they were going)."""

    message: str
    status: int
    ended_normally: bool


# Connect's error codes [handle, err; smartcar-v3.md S7.11] -> (message, status, ended normally, log level).
CONNECT_ERRORS: dict[str, tuple[str, int, bool, int]] = {
    "access_denied": (
        "You did not allow access to your vehicle, so nothing was connected.",
        200,
        True,
        logging.INFO,
    ),
    "vehicle_incompatible": (
        "{vehicle} cannot be connected: Smartcar does not support it yet. Nothing was connected.",
        200,
        True,
        logging.INFO,
    ),
    "no_vehicles": (
        "Your car maker's connected-services account has no vehicle in it. Add your vehicle to that account "
        "in the maker's app, then connect again.",
        200,
        True,
        logging.INFO,
    ),
    "invalid_subscription": (
        "Your vehicle's connected-services subscription is not active. Activate or renew it with your car "
        "maker, then connect again.",
        200,
        True,
        logging.INFO,
    ),
    "configuration_error": (
        "This site's Smartcar set-up has a problem, so nothing was connected. Please tell the site's support.",
        502,
        False,
        logging.ERROR,
    ),
    "server_error": (
        "Smartcar had a problem and could not connect your vehicle. Please try again in a few minutes.",
        502,
        False,
        logging.WARNING,
    ),
}
# The vehicle details Connect adds to vehicle_incompatible, and the longest value of each shown.
INCOMPATIBLE_DETAILS = {"year": 4, "make": 50, "model": 100, "vin": 17}


def describe_connect_error(params: Mapping[str, str]) -> ConnectFailure:
    """The one rule for Connect's ``error=`` redirects: a clear message per documented code, logged at the
    level an operator needs (a configuration error is theirs to fix). Unknown codes keep Smartcar's own
    description, shown as text and cut short (it comes from the query string)."""
    error = params.get("error") or ""
    if error not in CONNECT_ERRORS:
        description = (params.get("error_description") or "")[:300]
        logger.warning("Smartcar Connect returned the unknown error %r", error[:50])
        return ConnectFailure(
            f"Smartcar Connect reported an error ({error[:50]}). {description}".strip(), 400, False
        )
    template, status, ended_normally, level = CONNECT_ERRORS[error]
    message = template
    if error == "vehicle_incompatible":
        details = {
            name: value
            for name, limit in INCOMPATIBLE_DETAILS.items()
            if is_plain_text(value := (params.get(name) or "").strip(), limit) and value
        }
        described = " ".join(details[name] for name in ("year", "make", "model") if name in details)
        vehicle = f"Your {described}" if described else "Your vehicle"
        if "vin" in details:
            vehicle += f" (VIN {details['vin']})"
        message = template.format(vehicle=vehicle)
    # Smartcar's own explanation for the operator (configuration_error carries status_code and error_message).
    extra = (params.get("error_message") or params.get("error_description") or "")[:300]
    logger.log(level, "Smartcar Connect returned %s: %s", error, redact_text(extra))
    return ConnectFailure(message, status, ended_normally)


def complete_connect(
    user: SiteUser, params: Mapping[str, str], *, redirect_uri: str, started_at: datetime | None = None
) -> SmartcarAccount:
    """Complete Connect from its redirect's query ``params`` (``connect_api``: v2 exchanges the code, V3 takes the
    user id Smartcar confirms), create or update the user's account, and sync its vehicles.

    ``started_at`` is when this Connect began (the callback passes its state's creation; without it, the oldest
    a valid state can be). A redirect that cannot complete raises ``InvalidConnectRequest``.
    Everything Smartcar is asked comes first; the rows are written in one transaction only once all of it
    answered, so a failure half-way leaves nothing behind. Reconnecting the same Smartcar user updates the
    existing account (new tokens, status active) instead of creating a second one.
    """
    if started_at is None:
        started_at = timezone.now() - timedelta(seconds=int(smartcar_settings.STATE_MAX_AGE))
    connection = connect_api().complete(params, redirect_uri, started_at=started_at)
    snapshots = vehicles.fetch_vehicles(connection.api)
    mode = smartcar_settings.MODE
    with transaction.atomic():
        account, created = _lock_or_create_account(user, connection, mode)
        if not created and account.owner_id != user.pk:
            # Whoever signs in to that Smartcar account controls it; the connection follows them.
            logger.info("Smartcar account %s moves to user %s on reconnect", account.pk, user.pk)
            account.owner = user
        _store_connection(account, connection)
        # The permissions asked for, as bare names: ``required:`` only tells Connect what the owner cannot untick.
        account.scope = client.permission_names(smartcar_settings.SCOPE)
        account.connected_at = timezone.now()
        account.disconnected_at = None
        account.save()
        transaction.on_commit(
            lambda: signals.account_connected.send(
                sender=SmartcarAccount, account=account, user=user, created=created
            )
        )
        synced = vehicles.apply_vehicle_list(account, snapshots)
    subscriptions.subscribe_vehicles(synced.connected, connection.api)
    return account


def _store_connection(account: SmartcarAccount, connection: NewConnection) -> None:
    """What the account keeps of a new connection: its API and, from v2, its tokens (``tokens.store_tokens``)."""
    account.api_version = connection.api_version
    tokens.store_tokens(account, connection.access)


def complete_reauthentication(user: SiteUser, smartcar_vehicle_id: str) -> SmartcarAccount:
    """Connect's re-authentication came back for this vehicle: its account works again.

    The owner signed in to their car maker again; Smartcar keeps the connection and its tokens, so an account
    marked ``reauth_required`` is active again (its failure count cleared). A vehicle id that is not one of
    ``user``'s connected vehicles raises ``InvalidConnectRequest``.
    """
    vehicles = Vehicle.objects.filter(
        smartcar_id=smartcar_vehicle_id, account__owner=user, is_connected=True
    ).exclude(account__status=SmartcarAccount.Status.DISCONNECTED)
    vehicle = vehicles.select_related("account").first()
    if vehicle is None:
        raise InvalidConnectRequest("Smartcar re-authenticated a vehicle you have not connected here.")
    with transaction.atomic():
        account = select_for_update(SmartcarAccount.objects.filter(pk=vehicle.account_id)).get()
        if account.status == SmartcarAccount.Status.REAUTH_REQUIRED:
            account.status = SmartcarAccount.Status.ACTIVE
            account.consecutive_failures = 0
            account.last_refresh_error = ""
            account.save(update_fields=["status", "consecutive_failures", "last_refresh_error", "updated_at"])
            logger.info("Smartcar account %s re-authenticated by its owner; active again", account.pk)
    return account


def _lock_or_create_account(
    user: SiteUser, connection: NewConnection, mode: str
) -> tuple[SmartcarAccount, bool]:
    """The account row for this Smartcar user, locked, and whether it was created now. Call inside a transaction.

    ``select_for_update`` locks nothing while the row does not exist, so two callbacks for the same new Smartcar
    user (a double click, two tabs) may both try to insert it: the insert runs in a savepoint, and the one that
    loses the unique constraint locks and updates the row the winner wrote, so both end as a connection.
    """
    smartcar_user_id = connection.smartcar_user_id
    accounts = SmartcarAccount.objects.filter(smartcar_user_id=smartcar_user_id, mode=mode)
    account = select_for_update(accounts).first()
    if account is not None:
        return account, False
    account = SmartcarAccount(owner=user, smartcar_user_id=smartcar_user_id, mode=mode)
    _store_connection(account, connection)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        logger.info("A concurrent callback of user %s created the account first; updating it", user.pk)
        return select_for_update(accounts).get(), False
    return account, True


def disconnect_vehicle(vehicle: Vehicle) -> None:
    """Revoke the app's access to one vehicle at Smartcar and mark it disconnected here."""
    if vehicle.is_connected and vehicle.account.is_usable:
        subscriptions.unsubscribe_vehicle(vehicle)
        if not account_api(vehicle.account).disconnect(vehicle):
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
