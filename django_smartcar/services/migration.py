"""Moving v2 accounts to API V3 (``manage.py smartcar_migrate_to_v3``).

Smartcar's migration guide: store each connection's user id, backfill it from ``GET /v3/connections``, then
reach the vehicles with the application token and ``sc-user-id``. An account is only switched once Smartcar has
confirmed, through V3, that its user id reaches its vehicles; until that moment nothing of it is changed, so an
account that fails (or a run that is interrupted) stays on v2 with its tokens and keeps working. Switching is
one transaction under the account's token lock: the user id, ``api_version`` and the dropped tokens land
together. Vehicles, their data, signals and command history are rows of their own and are not touched.

This module is the one place that knows both APIs at once (it is about going from one to the other); every
other service asks ``services.clients`` and never branches on the version.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import router, transaction
from django.db.models import QuerySet

from .. import client
from ..client import v3
from ..conf import smartcar_settings
from ..db import select_for_update
from ..exceptions import DjangoSmartcarError
from ..models import USABLE_STATUSES, SmartcarAccount, Vehicle
from .app_token import DatabaseTokenStore, application_token
from .clients import get_transport
from .tokens import account_lock

logger = logging.getLogger(__name__)

# Outcomes, as the command's summary counts them.
MIGRATED = "migrated"
WOULD_MIGRATE = "would migrate"
ALREADY_V3 = "already on V3"
NOT_USABLE = "not usable"
FAILED = "failed"


class MigrationRefused(DjangoSmartcarError):
    """Smartcar's V3 answers do not confirm the account: it stays on v2 (the message says why)."""


@dataclass
class AccountMigration:
    """What happened to one account (or would, with ``dry_run``); no token, no secret in any field."""

    account_pk: int
    outcome: str
    user_id: str = ""
    # The user id changed: v2's /user and V3's /connections disagreed (the latter is kept).
    backfilled_from: str = ""
    vehicles_confirmed: list[str] = field(default_factory=list)
    # Connected here but not among the user's V3 connections: reported, kept as they are.
    vehicles_not_found: list[str] = field(default_factory=list)
    # Among the user's V3 connections but not here: the next vehicle sync adds them.
    vehicles_new: list[str] = field(default_factory=list)
    subscribed: int = 0
    reason: str = ""

    def describe(self) -> str:
        """One line for the command's output (ids are Smartcar's public ids, not secrets)."""
        parts = [f"account {self.account_pk}: {self.outcome}"]
        if self.vehicles_confirmed:
            parts.append(f"{len(self.vehicles_confirmed)} vehicle(s) confirmed")
        if self.backfilled_from:
            parts.append("user id backfilled from /connections")
        if self.vehicles_not_found:
            parts.append(f"not among its V3 connections (kept): {', '.join(self.vehicles_not_found)}")
        if self.vehicles_new:
            parts.append(f"new at Smartcar (added at the next sync): {', '.join(self.vehicles_new)}")
        if self.subscribed:
            parts.append(f"{self.subscribed} webhook subscription(s) made through V3")
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)


def accounts_to_migrate(pks: Iterable[int] | None = None) -> QuerySet[SmartcarAccount]:
    """Every account, or those named, oldest first (the command reports v3 and unusable ones as such)."""
    accounts = SmartcarAccount.objects.order_by("pk")
    if pks is not None:
        accounts = accounts.filter(pk__in=list(pks))
    else:
        accounts = accounts.filter(api_version=SmartcarAccount.ApiVersion.V2, status__in=USABLE_STATUSES)
    return accounts


def pending_count() -> int:
    """How many v2 accounts are left that a run would try to move."""
    return accounts_to_migrate().count()


def unusable_v2_count() -> int:
    """v2 accounts a run leaves alone: re-authentication required or disconnected (no working connection)."""
    return (
        SmartcarAccount.objects.filter(api_version=SmartcarAccount.ApiVersion.V2)
        .exclude(status__in=USABLE_STATUSES)
        .count()
    )


class _ReadOnlyTokenStore:
    """A dry run's token store: it uses the site's stored application token when it is still valid and never
    writes one (a token it has to request lives in this process only)."""

    def __init__(self) -> None:
        self._store = DatabaseTokenStore()

    def load(self) -> v3.CachedToken | None:
        return self._store.load()

    def save(self, token: v3.CachedToken) -> None:
        pass

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        yield


@dataclass
class Migrator:
    """Moves accounts one by one with shared V3 clients; ``dry_run`` writes nothing and makes no state-changing
    or billed request (``/connections`` is neither)."""

    dry_run: bool = False
    vehicle_api: v3.VehicleApi = field(init=False)
    management_api: v3.ManagementApi = field(init=False)

    def __post_init__(self) -> None:
        if self.dry_run:
            token: v3.ApplicationToken = v3.ApplicationToken(
                smartcar_settings.API_CLIENT_ID or "",
                smartcar_settings.API_CLIENT_SECRET or "",
                transport=get_transport(),
                store=_ReadOnlyTokenStore(),
                renew_before=smartcar_settings.APP_TOKEN_RENEW_BEFORE,
            )
        else:
            token = application_token()
        self.vehicle_api = v3.VehicleApi(token, transport=get_transport())
        self.management_api = v3.ManagementApi(token, transport=get_transport())

    def migrate(self, account: SmartcarAccount) -> AccountMigration:
        """Move one account; a Smartcar error or a refusal is returned as a ``FAILED`` outcome, never raised,
        and leaves the account exactly as it was."""
        if account.uses_v3:
            return AccountMigration(account.pk, ALREADY_V3, user_id=account.smartcar_user_id)
        if not account.is_usable:
            return AccountMigration(
                account.pk, NOT_USABLE, reason=f"status {account.status}: the owner must connect again"
            )
        try:
            plan = self._verify(account)
            if self.dry_run:
                plan.outcome = WOULD_MIGRATE
                return plan
            plan.subscribed = self._subscribe(plan)
            self._switch(account, plan)
        except (client.SmartcarException, MigrationRefused) as exc:
            logger.warning("Smartcar account %s stays on v2: %s", account.pk, exc)
            return AccountMigration(account.pk, FAILED, reason=str(exc))
        plan.outcome = MIGRATED
        logger.info("Smartcar account %s moved to API V3 (%s)", account.pk, plan.describe())
        return plan

    def _verify(self, account: SmartcarAccount) -> AccountMigration:
        """The V3 user id of the account and which of its vehicles Smartcar confirms (read-only calls)."""
        ours = list(
            Vehicle.objects.filter(account=account, is_connected=True)
            .order_by("pk")
            .values_list("smartcar_id", flat=True)
        )
        user_id = account.smartcar_user_id
        connections = list(self.vehicle_api.iter_connections(user_id=user_id)) if user_id else []
        backfilled_from = ""
        if not connections:
            # The stored id came from v2's /user; if V3 knows the user under another id, the vehicles say which.
            found = {
                connection.user_id
                for vehicle_id in ours
                for connection in self.vehicle_api.iter_connections(vehicle_id=vehicle_id)
                if connection.user_id
            }
            if len(found) != 1:
                raise MigrationRefused(
                    "Smartcar lists no V3 connection for this account's user or vehicles"
                    if not found
                    else "this account's vehicles belong to several Smartcar users in V3"
                )
            backfilled_from, user_id = user_id, found.pop()
            connections = list(self.vehicle_api.iter_connections(user_id=user_id))
        theirs = {connection.vehicle_id for connection in connections if connection.vehicle_id}
        confirmed = [vehicle_id for vehicle_id in ours if vehicle_id in theirs]
        if ours and not confirmed:
            raise MigrationRefused("none of this account's vehicles is among its user's V3 connections")
        if backfilled_from:
            taken = (
                SmartcarAccount.objects.filter(smartcar_user_id=user_id, mode=account.mode)
                .exclude(pk=account.pk)
                .values_list("pk", flat=True)
                .first()
            )
            if taken is not None:
                raise MigrationRefused(f"its V3 user is already account {taken}'s")
        return AccountMigration(
            account.pk,
            "",
            user_id=user_id,
            backfilled_from=backfilled_from,
            vehicles_confirmed=confirmed,
            vehicles_not_found=[vehicle_id for vehicle_id in ours if vehicle_id not in theirs],
            vehicles_new=sorted(theirs.difference(ours)),
        )

    def _subscribe(self, plan: AccountMigration) -> int:
        """Subscribe the confirmed vehicles to ``WEBHOOK_ID`` through the v3 Management API (v4 webhooks carry
        the user id). Done before the switch: a failure leaves the account on v2, whose subscriptions still
        deliver. One that exists already (409, e.g. made through v2) counts as done."""
        webhook_id = smartcar_settings.WEBHOOK_ID
        if not webhook_id:
            return 0
        for vehicle_id in plan.vehicles_confirmed:
            self.management_api.create_subscription(webhook_id, plan.user_id, vehicle_id)
        return len(plan.vehicles_confirmed)

    def _switch(self, account: SmartcarAccount, plan: AccountMigration) -> None:
        """Write the V3 account in one transaction, under the token lock (no refresh of its v2 tokens runs
        while they are dropped), after checking it is still the v2 account that was verified."""
        db = router.db_for_write(SmartcarAccount)
        with account_lock(db, account.pk), transaction.atomic(using=db):
            locked = select_for_update(SmartcarAccount.objects.using(db).filter(pk=account.pk)).first()
            if locked is None or locked.uses_v3 or not locked.is_usable:
                raise MigrationRefused("the account changed while it was being verified; run again")
            locked.smartcar_user_id = plan.user_id
            locked.api_version = SmartcarAccount.ApiVersion.V3
            # The v2 tokens are no longer needed, and a secret not needed is not kept.
            locked.access_token_encrypted = ""
            locked.refresh_token_encrypted = ""
            locked.access_expires_at = None
            locked.refresh_expires_at = None
            locked.rotation_queued_at = None
            locked.token_exchange_started_at = None
            locked.save()
        account.refresh_from_db()


def migrate_accounts(
    accounts: Iterable[SmartcarAccount], *, dry_run: bool = False
) -> Iterator[AccountMigration]:
    """Each account's outcome, in order, as it is done (the command prints progress from it)."""
    migrator = Migrator(dry_run=dry_run)
    for account in accounts:
        yield migrator.migrate(account)
