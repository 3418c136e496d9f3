"""Hostile input gets a clear 4xx (or a clear page) and stores nothing; no view answers a 500."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from django_smartcar.models import ConnectState, SmartcarAccount, Vehicle, VehicleCommand
from django_smartcar.simulator.testing import complete_connect

from .conftest import DRIVER, start_connect


def nothing_stored():
    return not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "state=" + "A" * 10_000,  # oversized
        "state=%FF%FE%FD&code=%C3%28",  # not UTF-8
        "state=%00&code=%00",  # NUL bytes
        "code=x&state=x&state=y",  # repeated parameters
        "error=" + "E" * 5000,  # oversized error without state
    ],
)
def test_garbage_callbacks_are_refused_cleanly(smartcar, browser, query):
    response = browser.get(f"/smartcar/callback/?{query}")
    assert response.status_code == 400
    assert b"Vehicle not connected" in response.content
    assert nothing_stored()


def test_an_oversized_code_with_a_valid_state_is_refused(smartcar, browser):
    query = parse_qs(urlsplit(complete_connect(start_connect(browser), email=DRIVER)).query)
    response = browser.get("/smartcar/callback/", {"state": query["state"][0], "code": "c" * 5000})
    assert response.status_code == 400 and nothing_stored()


def test_the_callback_needs_a_signed_in_user(smartcar, browser, client):
    query = parse_qs(urlsplit(complete_connect(start_connect(browser), email=DRIVER)).query)
    anonymous = Client()
    response = anonymous.get("/smartcar/callback/", {"state": query["state"][0], "code": query["code"][0]})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert nothing_stored()
    assert ConnectState.objects.get().used_at is None  # still usable once the user has signed in


def test_post_views_refuse_requests_without_a_csrf_token(account, user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    vehicle = account.vehicles.first()
    assert strict.post(f"/smartcar/vehicles/{vehicle.pk}/disconnect/").status_code == 403
    assert strict.post(f"/smartcar/accounts/{account.pk}/disconnect/").status_code == 403
    vehicle.refresh_from_db()
    account.refresh_from_db()
    assert vehicle.is_connected and account.status == SmartcarAccount.Status.ACTIVE


def test_admin_actions_refuse_requests_without_a_csrf_token(account, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    response = strict.post(
        "/admin/django_smartcar/vehicle/",
        {"action": "unlock", "_selected_action": [v.pk for v in account.vehicles.all()], "confirm": "yes"},
    )
    assert response.status_code == 403
    assert not VehicleCommand.objects.exists()
