"""``manage.py smartcar_migrate_to_v3`` on a site with several v2 accounts, against the live simulator: nothing
lost, tokens gone, V3 working afterwards, idempotent, a dry run that changes nothing, failures that stay v2."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_smartcar.models import ApplicationToken, SmartcarAccount, Vehicle, VehicleCommand
from django_smartcar.services import vehicles
from django_smartcar.services.commands import send_command
from django_smartcar.simulator import faults, seeding
from django_smartcar.simulator.models import SimulatedUser, SimulatedVehicle, WebhookSubscription
from tests.app.conftest import DRIVER, connect_through_service

V2 = SmartcarAccount.ApiVersion.V2
V3 = SmartcarAccount.ApiVersion.V3
# Smartcar calls that change something or are billed; a dry run makes none of them.
STATE_CHANGING = ("POST", "DELETE", "PUT", "PATCH")


@pytest.fixture
def site(smartcar, user, other_user):
    """Three v2 accounts of two site users (five cars), each with data read and a command sent through v2."""
    seeding.seed_vehicles(1, seed=11, email="bob-car@example.com")
    seeding.seed_vehicles(1, seed=12, email="ann-second@example.com")
    accounts = [
        connect_through_service(smartcar, user, email=DRIVER),
        connect_through_service(smartcar, other_user, email="bob-car@example.com"),
        connect_through_service(smartcar, user, email="ann-second@example.com"),
    ]
    for account in accounts:
        assert account.api_version == V2 and account.refresh_token_encrypted
        for vehicle in account.vehicles.all():
            assert not vehicles.refresh_vehicle_data(vehicle).failed
        first = account.vehicles.order_by("pk").first()
        assert send_command(first, "unlock", user=account.owner).status == VehicleCommand.Status.SUCCEEDED
    return accounts


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("smartcar_migrate_to_v3", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def vehicle_rows() -> list[tuple]:
    return list(
        Vehicle.objects.order_by("pk").values_list(
            "pk", "account_id", "smartcar_id", "is_connected", "odometer_km", "latitude", "is_locked", "vin"
        )
    )


def account_rows() -> list[tuple]:
    return list(
        SmartcarAccount.objects.order_by("pk").values_list(
            "pk",
            "owner_id",
            "smartcar_user_id",
            "api_version",
            "status",
            "access_token_encrypted",
            "refresh_token_encrypted",
            "access_expires_at",
            "refresh_expires_at",
            "updated_at",
        )
    )


def test_every_v2_account_moves_to_v3_with_nothing_lost(site, smartcar_requests):
    before_vehicles = vehicle_rows()
    commands = list(VehicleCommand.objects.order_by("pk").values_list("pk", "vehicle_id", "action", "status"))
    user_ids = {account.pk: account.smartcar_user_id for account in site}

    out, err = run()

    assert err == ""
    assert "Done: 3 migrated." in out
    for account in site:
        assert f"account {account.pk}: migrated" in out
        account.refresh_from_db()
        assert account.api_version == V3 and account.smartcar_user_id == user_ids[account.pk]
        assert account.status == SmartcarAccount.Status.ACTIVE
        # The v2 tokens are gone, with their dates; nothing else changed.
        assert (account.access_token_encrypted, account.refresh_token_encrypted) == ("", "")
        assert (account.access_expires_at, account.refresh_expires_at) == (None, None)
    assert vehicle_rows() == before_vehicles
    assert list(
        VehicleCommand.objects.order_by("pk").values_list("pk", "vehicle_id", "action", "status")
    ) == (commands)
    # Each user id was confirmed through /v3/connections; nothing else was asked of Smartcar.
    assert {path for method, path in smartcar_requests if method == "GET"} == {"/v3/connections"}

    # The cars are reached through V3 from now on: one signals request per vehicle.
    smartcar_requests.clear()
    vehicle = Vehicle.objects.filter(account=site[1]).get()
    SimulatedVehicle.objects.filter(pk=vehicle.smartcar_id).update(odometer_km=4321.0)
    assert not vehicles.refresh_vehicle_data(vehicle).failed
    vehicle.refresh_from_db()
    assert vehicle.odometer_km == pytest.approx(4321.0)
    assert ("GET", f"/v3/vehicles/{vehicle.smartcar_id}/signals") in smartcar_requests
    assert not any(path.startswith("/v2.0/") for _method, path in smartcar_requests)


def test_a_second_run_does_nothing(site, smartcar_requests):
    run()
    after_first = account_rows()
    smartcar_requests.clear()

    out, _err = run()

    assert "No v2 account to move." in out
    # Named explicitly, an account already moved is reported as such, untouched.
    out, _err = run("--account", str(site[0].pk))
    assert f"account {site[0].pk}: already on V3" in out and "Done: 1 already on V3." in out
    assert account_rows() == after_first
    assert smartcar_requests == []


def test_a_dry_run_changes_nothing_and_makes_no_state_changing_call(site, smartcar_requests, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_ID": "webhook-for-dry-run"}
    before = (account_rows(), vehicle_rows(), ApplicationToken.objects.count())
    subscriptions = WebhookSubscription.objects.count()

    out, _err = run("--dry-run")

    assert "Done: 3 would migrate." in out and "Dry run: nothing was changed." in out
    assert (account_rows(), vehicle_rows(), ApplicationToken.objects.count()) == before
    assert WebhookSubscription.objects.count() == subscriptions
    # Only the unbilled, read-only /connections (and, at most, the application token it needs).
    assert {path for method, path in smartcar_requests if method == "GET"} == {"/v3/connections"}
    assert [
        (method, path)
        for method, path in smartcar_requests
        if method in STATE_CHANGING and path != "/oauth2/token"
    ] == []


def test_a_failing_account_stays_on_v2_and_keeps_working(site, smartcar_requests):
    # Smartcar fails the first account's /connections request; the other two are moved.
    faults.inject("server_errors", statuses=[500], remaining=1)
    first, *others = site
    tokens_before = (first.access_token_encrypted, first.refresh_token_encrypted)

    with pytest.raises(CommandError) as raised:
        run("--fail-on-error")

    assert raised.value.returncode == 1
    first.refresh_from_db()
    assert first.api_version == V2
    assert (first.access_token_encrypted, first.refresh_token_encrypted) == tokens_before
    for account in others:
        account.refresh_from_db()
        assert account.api_version == V3
    # Still reached through v2, with its own tokens.
    smartcar_requests.clear()
    vehicle = first.vehicles.order_by("pk").first()
    assert not vehicles.refresh_vehicle_data(vehicle).failed
    assert any(path.startswith("/v2.0/") for _method, path in smartcar_requests)

    # The next run moves it (the fault is spent) and nothing else.
    out, _err = run()
    assert f"account {first.pk}: migrated" in out and "Done: 1 migrated." in out


def test_the_failure_is_reported_without_secrets_and_without_fail_on_error_exits_zero(site):
    faults.inject("server_errors", statuses=[500], remaining=1)

    out, err = run()

    assert "Done: 1 failed, 2 migrated." in out
    assert f"failed: account {site[0].pk}:" in err
    text = out + err
    for account in SmartcarAccount.objects.all():
        assert not account.access_token_encrypted or account.access_token not in text
    assert "test-api-client-secret" not in text


def test_vehicles_smartcar_no_longer_lists_are_reported_and_kept(site):
    account = site[0]
    gone = account.vehicles.order_by("pk").last()
    # Smartcar lost this connection (the owner removed it in their maker's app): not deleted here.
    from django_smartcar.simulator.models import Connection

    Connection.objects.filter(vehicle_id=gone.smartcar_id).delete()

    out, _err = run("--account", str(account.pk))

    assert f"not among its V3 connections (kept): {gone.smartcar_id}" in out
    account.refresh_from_db()
    assert account.api_version == V3
    gone.refresh_from_db()
    assert gone.is_connected and gone.account_id == account.pk


def test_vehicles_smartcar_lists_but_the_site_lacks_are_reported(site, smartcar):
    from django_smartcar.simulator import grants

    account = site[0]
    # The driver connected one more car to the application, which the site has not synced yet.
    (extra,) = seeding.seed_vehicles(1, seed=13, email=DRIVER)
    grants.connect_vehicles(smartcar.application, [extra])

    out, _err = run("--account", str(account.pk))

    assert f"new at Smartcar (added at the next sync): {extra.id}" in out
    assert not Vehicle.objects.filter(smartcar_id=extra.id).exists()
    account.refresh_from_db()
    assert account.api_version == V3


def test_a_user_id_v3_does_not_know_is_backfilled_from_the_vehicles(site):
    account = site[1]
    right = account.smartcar_user_id
    SmartcarAccount.objects.filter(pk=account.pk).update(smartcar_user_id="stale-id-from-v2")

    out, _err = run("--account", str(account.pk))

    assert "user id backfilled from /connections" in out
    account.refresh_from_db()
    assert account.smartcar_user_id == right and account.api_version == V3
    assert SimulatedUser.objects.filter(id=right).exists()


def test_webhook_subscriptions_are_made_through_the_v3_management_api(
    site,
    smartcar,
    smartcar_requests,
    settings,
):
    from django_smartcar.simulator.webhooks import register_webhook

    webhook = register_webhook(smartcar.application, "https://example.com/hook", verify=False)
    settings.SMARTCAR = {**settings.SMARTCAR, "WEBHOOK_ID": webhook.webhook_id}
    account = site[2]
    vehicle = account.vehicles.get()

    out, _err = run("--account", str(account.pk))

    assert "1 webhook subscription(s) made through V3" in out
    assert ("POST", "/v3/subscriptions") in smartcar_requests
    subscription = WebhookSubscription.objects.get(webhook=webhook, vehicle_id=vehicle.smartcar_id)
    # v4 events name the account's user: they are routed by it.
    assert subscription.user_id in (None, account.smartcar_user_id)


def test_unknown_account_ids_and_missing_credentials_are_refused_before_anything(site, settings):
    with pytest.raises(CommandError, match="No Smartcar account with id 999"):
        run("--account", "999")
    settings.SMARTCAR = {**settings.SMARTCAR, "API_CLIENT_SECRET": None}
    with pytest.raises(CommandError, match="API_CLIENT_SECRET"):
        run()
    assert all(account.api_version == V2 for account in SmartcarAccount.objects.all())
