"""Secrets stay secret: tokens and the management token never reach logs, pages or error messages; other users'
data stays invisible; a lost encryption key is a clear error, not a crash."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.utils import timezone

from django_smartcar import client
from django_smartcar.models import SmartcarAccount, VehicleCommand
from django_smartcar.services.clients import get_auth_client
from django_smartcar.services.commands import send_command
from django_smartcar.services.tokens import get_access_token, rotate_tokens
from django_smartcar.services.vehicles import refresh_vehicle_data
from django_smartcar.simulator import clock, faults
from django_smartcar.simulator.testing import complete_connect

from .conftest import DRIVER, connect_through_views, start_connect


def test_no_secret_reaches_the_logs_even_at_debug(smartcar, browser, user, caplog, settings):
    caplog.set_level(logging.DEBUG)
    connect_through_views(browser)
    account = SmartcarAccount.objects.get(owner=user)
    secrets = {account.access_token, account.refresh_token, smartcar.client_secret, smartcar.management_token}

    SmartcarAccount.objects.filter(pk=account.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    account.refresh_from_db()
    secrets.add(get_access_token(account))
    account.refresh_from_db()
    secrets |= {account.access_token, account.refresh_token}
    rotate_tokens(account, force=True)
    account.refresh_from_db()
    secrets |= {account.access_token, account.refresh_token}
    vehicle = account.vehicles.first()
    send_command(vehicle, "lock", user=user)
    refresh_vehicle_data(vehicle)
    faults.inject("server_errors", target="token", statuses=[502])
    with pytest.raises(client.SmartcarException):
        rotate_tokens(account, force=True)

    assert caplog.records  # the flow did log (requests, urllib3, the app, the simulator)
    logged = caplog.text
    leaked = [secret for secret in secrets if secret in logged]
    assert leaked == []


def test_error_messages_never_carry_the_token(smartcar, account, one_minute_refresh_grace):
    refresh_token = account.refresh_token
    get_auth_client().exchange_refresh_token(refresh_token)
    clock.advance(120)  # the old token is now dead for good
    with pytest.raises(client.InvalidGrantException) as excinfo:
        get_auth_client().exchange_refresh_token(refresh_token)
    for text in (str(excinfo.value), repr(excinfo.value)):
        assert refresh_token not in text and smartcar.client_secret not in text


def test_another_users_objects_are_invisible_in_views_and_admin(account, other_user, django_user_model):
    outsider = Client()
    outsider.force_login(other_user)
    vehicle = account.vehicles.first()
    assert outsider.post(f"/smartcar/vehicles/{vehicle.pk}/disconnect/").status_code == 404
    assert outsider.post(f"/smartcar/accounts/{account.pk}/disconnect/").status_code == 404
    # Not staff: the admin sends them to its login page.
    assert outsider.get("/admin/django_smartcar/vehicle/").status_code == 302
    # Staff without django_smartcar permissions: nothing to see.
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    outsider.force_login(staff)
    for url in (
        "/admin/django_smartcar/vehicle/",
        "/admin/django_smartcar/smartcaraccount/",
        "/admin/django_smartcar/vehiclecommand/",
        f"/admin/django_smartcar/vehicle/{vehicle.pk}/change/",
    ):
        assert outsider.get(url).status_code == 403


def test_a_lost_encryption_key_is_a_clear_error_not_a_crash(
    account, browser, user, django_user_model, settings, worker
):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    vehicle = account.vehicles.first()

    # A command: recorded as failed, with a reason that says what is wrong.
    command = send_command(vehicle, "lock", user=user)
    assert command.status == VehicleCommand.Status.FAILED and command.error_type == "UNAVAILABLE"

    # The admin queues a refresh; the worker records the reason on it, shown per row.
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    operator = Client()
    operator.force_login(admin)
    response = operator.post(
        "/admin/django_smartcar/vehicle/",
        {"action": "refresh_data", "_selected_action": [vehicle.pk], "confirm": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert worker() == 1
    page = operator.get("/admin/django_smartcar/vehicle/").content.decode()
    assert "failed: Vehicle access is unavailable: stored credentials cannot be read." in page

    # Reconnecting is the way out: the new tokens are written with the key now configured.
    response = connect_through_views(browser)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE and account.access_token
    assert send_command(vehicle, "lock", user=user).status == VehicleCommand.Status.SUCCEEDED


def test_connecting_without_any_encryption_key_is_a_clear_page_and_stores_nothing(
    smartcar, browser, settings
):
    query = parse_qs(urlsplit(complete_connect(start_connect(browser), email=DRIVER)).query)
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": []}
    response = browser.get("/smartcar/callback/", {"state": query["state"][0], "code": query["code"][0]})
    assert response.status_code == 503 and b"unavailable" in response.content
    assert not SmartcarAccount.objects.exists()
