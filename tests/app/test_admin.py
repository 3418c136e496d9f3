"""Admin pages and actions through Django's test client, against the live simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission

from django_smartcar.models import SmartcarAccount, Vehicle, VehicleCommand
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import RefreshToken, SimulatedVehicle

VEHICLES_URL = "/admin/django_smartcar/vehicle/"
ACCOUNTS_URL = "/admin/django_smartcar/smartcaraccount/"


def staff(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_smartcar", codename__in=codenames)
    )
    return user


@pytest.fixture
def operator(django_user_model, client):
    user = staff(
        django_user_model,
        "operator",
        "view_vehicle",
        "change_vehicle",
        "view_smartcaraccount",
        "change_smartcaraccount",
        "send_vehicle_commands",
    )
    client.force_login(user)
    return client


def run_action(admin_client, url, action, objects, *, confirm):
    data = {"action": action, "_selected_action": [obj.pk for obj in objects]}
    if confirm:
        data["confirm"] = "yes"
    return admin_client.post(url, data, follow=confirm)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_a_command_action_asks_for_confirmation_first(account, operator):
    vehicles = list(account.vehicles.all())
    response = run_action(operator, VEHICLES_URL, "lock", vehicles, confirm=False)
    assert response.status_code == 200
    assert 'name="confirm" value="yes"' in response.content.decode()
    assert all(str(vehicle) in response.content.decode() for vehicle in vehicles)
    assert not VehicleCommand.objects.exists()


def test_unlock_action_queues_each_vehicle_and_shows_each_outcome(account, operator, worker):
    vehicles = list(account.vehicles.order_by("pk"))
    assert len(vehicles) >= 2
    faults.inject("asleep", vehicle=vehicles[0].smartcar_id)

    response = run_action(operator, VEHICLES_URL, "unlock", vehicles, confirm=True)

    assert response.status_code == 200
    texts = messages_of(response)
    assert sum("Unlock queued" in text for text in texts) == len(vehicles)
    assert operator.get(VEHICLES_URL).content.decode().count("Unlock: pending") == len(vehicles)

    assert worker(lift_faults=False) == len(vehicles)

    page = operator.get(VEHICLES_URL).content.decode()
    assert page.count("Unlock: failed") == 1 and page.count("Unlock: succeeded") == len(vehicles) - 1
    assert SimulatedVehicle.objects.get(pk=vehicles[1].smartcar_id).is_locked is False
    assert VehicleCommand.objects.get(status="failed").vehicle == vehicles[0]


def test_refresh_action_stores_fresh_data(account, operator, worker):
    vehicle = account.vehicles.first()
    response = run_action(operator, VEHICLES_URL, "refresh_data", [vehicle], confirm=True)
    assert any("Refresh queued" in text for text in messages_of(response))

    worker()

    vehicle.refresh_from_db()
    assert vehicle.odometer_km is not None
    assert "refreshed odometer" in operator.get(VEHICLES_URL).content.decode()


def test_rotate_tokens_action_rotates_now(account, operator):
    before = RefreshToken.objects.count()
    response = run_action(operator, ACCOUNTS_URL, "rotate_tokens", [account], confirm=True)
    assert any("tokens rotated" in text for text in messages_of(response))
    assert RefreshToken.objects.count() == before + 1


def test_sync_vehicles_action(account, operator):
    response = run_action(operator, ACCOUNTS_URL, "sync_vehicles", [account], confirm=True)
    assert any("updated" in text for text in messages_of(response))


def test_actions_need_the_command_permission(account, django_user_model, client):
    client.force_login(staff(django_user_model, "viewer", "view_vehicle", "change_vehicle"))
    changelist = client.get(VEHICLES_URL).content.decode()
    assert 'value="lock"' not in changelist

    run_action(client, VEHICLES_URL, "lock", list(account.vehicles.all()), confirm=True)
    assert not VehicleCommand.objects.exists()


def test_admin_pages_never_show_tokens(account, operator):
    secrets = [account.access_token, account.refresh_token, account.access_token_encrypted]
    for url in (ACCOUNTS_URL, f"{ACCOUNTS_URL}{account.pk}/change/", VEHICLES_URL):
        page = operator.get(url).content.decode()
        assert account.smartcar_user_id in page or url == VEHICLES_URL
        assert not any(secret in page for secret in secrets)
    assert SmartcarAccount.objects.get(pk=account.pk).status == "active"


def test_actions_refresh_tokens_on_sites_with_atomic_requests(account, operator, monkeypatch):
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    SmartcarAccount.objects.filter(pk=account.pk).update(
        access_expires_at=timezone.now() - timedelta(minutes=1)
    )
    # Syncing the account's vehicles still calls Smartcar in the request (README, "Admin").
    response = run_action(operator, ACCOUNTS_URL, "sync_vehicles", [account], confirm=True)

    assert response.status_code == 200
    assert any("updated" in text for text in messages_of(response))
    assert SmartcarAccount.objects.get(pk=account.pk).access_expires_at > timezone.now()


def test_confirmation_pages_read_as_english(account, operator):
    vehicles = list(account.vehicles.order_by("pk"))[:2]
    assert len(vehicles) == 2

    several = run_action(operator, VEHICLES_URL, "refresh_data", vehicles, confirm=False).content.decode()
    one = run_action(operator, ACCOUNTS_URL, "rotate_tokens", [account], confirm=False).content.decode()
    lock_one = run_action(operator, VEHICLES_URL, "lock", vehicles[:1], confirm=False).content.decode()

    assert "Refresh the data of these 2 vehicles?" in several
    assert "Rotate the tokens of this Smartcar account?" in one
    assert "Lock this vehicle?" in lock_one
    assert "Refresh data these" not in several and "Rotate tokens this" not in one


def test_accounts_are_labelled_by_owner_without_a_query_per_row(
    smartcar, account, operator, django_user_model
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .conftest import make_accounts

    label = str(SmartcarAccount.objects.get(pk=account.pk))
    assert label == f"ann (Smartcar {account.smartcar_user_id[:8]})"

    with CaptureQueriesContext(connection) as one_row:
        page = operator.get(ACCOUNTS_URL).content.decode()
    assert label in page
    for index in range(2):
        owner = django_user_model.objects.create_user(f"owner{index}", password="pw")
        make_accounts(smartcar, owner, 1, refresh_expires_in=timedelta(days=30), prefix=f"extra{index}")
    with CaptureQueriesContext(connection) as three_rows:
        page = operator.get(ACCOUNTS_URL).content.decode()
    assert "owner0 (Smartcar" in page and "owner1 (Smartcar" in page
    assert len(three_rows) == len(one_row)


def test_actions_record_each_object_in_the_admin_history(account, operator):
    from django.contrib.admin.models import CHANGE, LogEntry

    vehicles = list(account.vehicles.order_by("pk"))
    # Refused at once (nothing queued): the vehicle did not grant what locking needs.
    Vehicle.objects.filter(pk=vehicles[0].pk).update(permissions=["read_odometer"])

    run_action(operator, VEHICLES_URL, "lock", vehicles, confirm=True)
    run_action(operator, ACCOUNTS_URL, "rotate_tokens", [account], confirm=True)

    entries = {(entry.object_id, entry.get_change_message()) for entry in LogEntry.objects.all()}
    assert LogEntry.objects.count() == len(vehicles) + 1
    assert all(entry.action_flag == CHANGE for entry in LogEntry.objects.all())
    assert any(pk == str(vehicles[0].pk) and message.startswith("Lock failed:") for pk, message in entries)
    for vehicle in vehicles[1:]:
        assert (str(vehicle.pk), "Lock: Lock queued; its outcome shows in Last command.") in entries
    assert any(
        pk == str(account.pk) and message.startswith("Rotate tokens: tokens rotated")
        for pk, message in entries
    )
    assert not any(secret in message for _pk, message in entries for secret in (account.refresh_token,))


def test_disconnect_actions_ask_for_confirmation_then_disconnect(account, operator):
    from django.contrib.admin.models import LogEntry

    vehicle = account.vehicles.order_by("pk").first()

    page = run_action(operator, VEHICLES_URL, "disconnect", [vehicle], confirm=False)
    assert page.status_code == 200 and "Disconnect this vehicle?" in page.content.decode()
    page = run_action(operator, ACCOUNTS_URL, "disconnect", [account], confirm=False)
    assert "Disconnect this Smartcar account?" in page.content.decode()
    vehicle.refresh_from_db()
    account.refresh_from_db()
    assert vehicle.is_connected and account.status == "active"

    run_action(operator, VEHICLES_URL, "disconnect", [vehicle], confirm=True)
    vehicle.refresh_from_db()
    assert not vehicle.is_connected

    response = run_action(operator, ACCOUNTS_URL, "disconnect", [account], confirm=True)
    assert any("disconnected" in text for text in messages_of(response))
    account.refresh_from_db()
    assert account.status == "disconnected" and account.refresh_token_encrypted == ""
    assert LogEntry.objects.filter(change_message__startswith="Disconnect: disconnected").count() == 2
