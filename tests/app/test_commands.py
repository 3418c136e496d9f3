"""Commands to cars against the live simulator: each one audited, failures recorded, not raised."""

from __future__ import annotations

from django_smartcar.models import SmartcarAccount, Vehicle, VehicleCommand
from django_smartcar.services.commands import send_command
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import SimulatedVehicle

Status = VehicleCommand.Status


def test_lock_and_unlock_reach_the_car_and_are_audited(account, user, record_signal):
    sent = record_signal("vehicle_command_sent")
    vehicle = account.vehicles.first()

    command = send_command(vehicle, "unlock", user=user)

    assert command.status == Status.SUCCEEDED and command.requested_by == user
    assert command.smartcar_request_id and command.completed_at
    assert SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked is False
    vehicle.refresh_from_db()
    assert vehicle.last_command == command
    assert vehicle.is_locked is None  # data read from the car only: nothing was read yet

    assert send_command(vehicle, "lock", user=user).status == Status.SUCCEEDED
    assert SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked is True
    assert [c["command"].action for c in sent.calls] == ["unlock", "lock"]
    assert VehicleCommand.objects.filter(vehicle=vehicle).count() == 2


def test_a_missing_permission_fails_without_calling_smartcar(account, user, smartcar_requests):
    vehicle = account.vehicles.first()
    Vehicle.objects.filter(pk=vehicle.pk).update(permissions=["read_odometer"])
    vehicle.refresh_from_db()

    command = send_command(vehicle, "lock", user=user)

    assert command.status == Status.FAILED and command.error_type == "PERMISSION"
    assert "control_security" in command.error_message
    assert smartcar_requests == []


def test_a_smartcar_error_is_recorded_on_the_audit_row(account, user):
    vehicle = account.vehicles.first()
    faults.inject("asleep", vehicle=vehicle.smartcar_id)

    command = send_command(vehicle, "lock", user=user)

    assert command.status == Status.FAILED
    assert command.error_type == "VEHICLE_STATE" and command.error_message
    assert VehicleCommand.objects.get(pk=command.pk).status == Status.FAILED


def test_a_command_on_an_account_needing_reconnect_fails_cleanly(account, user, smartcar_requests):
    SmartcarAccount.objects.filter(pk=account.pk).update(status=SmartcarAccount.Status.REAUTH_REQUIRED)
    vehicle = Vehicle.objects.select_related("account").get(pk=account.vehicles.first().pk)

    command = send_command(vehicle, "unlock", user=user)

    assert command.status == Status.FAILED and command.error_type == "REAUTHENTICATE"
    assert smartcar_requests == []


def test_a_command_no_worker_completed_is_marked_failed_and_never_sent_late(account, user, smartcar_requests):
    """A queued command whose task was lost (broker restart) or whose worker died would stay pending for ever."""
    from datetime import timedelta

    from django.utils import timezone

    from django_smartcar.services.commands import create_command, fail_abandoned_commands
    from django_smartcar.tasks import send_vehicle_command

    vehicle = account.vehicles.first()
    abandoned = create_command(vehicle, "unlock", user=user)
    VehicleCommand.objects.filter(pk=abandoned.pk).update(requested_at=timezone.now() - timedelta(hours=1))
    recent = create_command(vehicle, "unlock", user=user)

    assert fail_abandoned_commands() == 1
    abandoned.refresh_from_db()
    assert abandoned.status == Status.FAILED and abandoned.error_type == "ABANDONED"
    assert abandoned.completed_at is not None
    assert VehicleCommand.objects.get(pk=recent.pk).status == Status.PENDING  # may still be in the broker

    # Its task arriving late sends nothing: an unlock an hour after it was asked for is not what the user wanted.
    assert send_vehicle_command(vehicle.pk, "unlock", user.pk, abandoned.pk) == Status.FAILED
    assert smartcar_requests == []
    assert SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked is True
    assert fail_abandoned_commands() == 0
