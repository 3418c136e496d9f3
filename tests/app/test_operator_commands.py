"""smartcar_rotate_tokens and smartcar_sync against the live simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_smartcar.models import SmartcarAccount
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import RefreshToken

from .conftest import make_accounts


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rotate_tokens_rotates_what_expires_within_the_given_days(smartcar, user):
    soon = make_accounts(smartcar, user, 2, refresh_expires_in=timedelta(days=3))
    later = make_accounts(smartcar, user, 1, refresh_expires_in=timedelta(days=40), prefix="later")[0]

    out, _err = run("smartcar_rotate_tokens", "--expiring-within", "5")

    assert "2 rotated" in out
    for account in soon:
        account.refresh_from_db()
        assert account.refresh_expires_at > timezone.now() + timedelta(days=59)
    assert SmartcarAccount.objects.get(pk=later.pk).refresh_expires_at < timezone.now() + timedelta(days=41)


def test_rotate_tokens_dry_run_changes_nothing(smartcar, user):
    make_accounts(smartcar, user, 2, refresh_expires_in=timedelta(days=3))
    before = RefreshToken.objects.count()
    out, _err = run("smartcar_rotate_tokens", "--dry-run")
    assert out.count("would rotate account") == 2 and "2 would rotate" in out
    assert RefreshToken.objects.count() == before


def test_rotate_tokens_for_one_account_forces_it(smartcar, user):
    account, _other = make_accounts(smartcar, user, 2, refresh_expires_in=timedelta(days=50))
    out, _err = run("smartcar_rotate_tokens", "--account", str(account.pk))
    assert "1 rotated" in out


def test_failures_are_summarised_and_fail_the_command_on_request(smartcar, user, settings):
    # How failures are reported, not how long an exchange is repeated (tests/app/test_tokens.py).
    settings.SMARTCAR = {**settings.SMARTCAR, "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=1)}
    make_accounts(smartcar, user, 2, refresh_expires_in=timedelta(days=3))
    faults.inject("server_errors", target="token", statuses=[502])

    out, err = run("smartcar_rotate_tokens")
    assert ("2 failed" in out and "UPSTREAM" in err) or "502" in err

    with pytest.raises(CommandError) as excinfo:
        run("smartcar_rotate_tokens", "--fail-on-error")
    assert excinfo.value.returncode == 1


def test_an_unknown_account_is_a_clear_error(smartcar):
    with pytest.raises(CommandError, match="No Smartcar account with id 999"):
        run("smartcar_rotate_tokens", "--account", "999")


def test_sync_syncs_accounts_and_refreshes_their_vehicles(account):
    out, _err = run("smartcar_sync")
    assert "1 accounts synced" in out and f"{account.vehicles.count()} vehicles refreshed" in out
    assert all(vehicle.data_refreshed_at for vehicle in account.vehicles.all())


def test_sync_one_vehicle_reports_its_failure(account):
    vehicle = account.vehicles.first()
    faults.inject("asleep", vehicle=vehicle.smartcar_id)
    out, err = run("smartcar_sync", "--vehicle", str(vehicle.pk))
    assert "1 failed" in out and f"vehicle {vehicle.pk}" in err
    with pytest.raises(CommandError):
        run("smartcar_sync", "--vehicle", str(vehicle.pk), "--fail-on-error")
