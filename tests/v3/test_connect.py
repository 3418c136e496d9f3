"""Connect through API V3, through the app's views against the live simulator: the redirect's ``user_id`` binds
an account (no tokens) only when Smartcar confirms a connection made since this Connect began."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from django_smartcar.models import ConnectState, SmartcarAccount, Vehicle
from django_smartcar.simulator import grants, seeding
from django_smartcar.simulator.models import Connection, SimulatedUser, SimulatedVehicle
from django_smartcar.simulator.testing import complete_connect
from tests.app.conftest import DRIVER, connect_through_views, return_to_callback, start_connect


@pytest.fixture
def v3(v3_smartcar):
    """The app configured for API V3 against the live simulator (tests/v3/conftest.py)."""
    return v3_smartcar


def driver_id() -> str:
    return SimulatedUser.objects.get(email=DRIVER).id


def redirect_query(browser, **connect_params) -> dict[str, str]:
    """Go through Connect (the driver approves) and return the redirect's parameters, not yet followed."""
    final = complete_connect(start_connect(browser, **connect_params), email=DRIVER)
    return {name: values[0] for name, values in parse_qs(urlsplit(final).query).items()}


def test_connect_creates_a_v3_account_with_the_user_id_and_no_tokens(
    v3,
    browser,
    user,
    record_signal,
    smartcar_requests,
):
    connected = record_signal("account_connected")
    vehicles_connected = record_signal("vehicle_connected")

    response = connect_through_views(browser, next="/dashboard/")

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    account = SmartcarAccount.objects.get(owner=user)
    assert account.api_version == SmartcarAccount.ApiVersion.V3
    assert account.smartcar_user_id == driver_id()
    assert account.status == SmartcarAccount.Status.ACTIVE
    assert (account.access_token_encrypted, account.refresh_token_encrypted) == ("", "")
    assert (account.access_expires_at, account.refresh_expires_at) == (None, None)
    expected = {vehicle.id: vehicle for vehicle in SimulatedVehicle.objects.filter(user__email=DRIVER)}
    synced = {vehicle.smartcar_id: vehicle for vehicle in account.vehicles.all()}
    assert synced.keys() == expected.keys() and expected
    for smartcar_id, vehicle in synced.items():
        assert (vehicle.make, vehicle.model, vehicle.year) == (
            expected[smartcar_id].make,
            expected[smartcar_id].model,
            expected[smartcar_id].year,
        )
        assert vehicle.is_connected and "read_odometer" in vehicle.permissions
    assert [(c["account"], c["user"], c["created"]) for c in connected.calls] == [(account, user, True)]
    assert {c["vehicle"].smartcar_id for c in vehicles_connected.calls} == expected.keys()
    # No v2 code exchange: the vehicles come from /v3/connections with the application token.
    paths = [path for _method, path in smartcar_requests]
    assert "/oauth/token" not in paths and "/v3/connections" in paths
    follow = browser.get("/smartcar/")
    assert f"Connected {len(expected)} vehicles through Smartcar." in follow.content.decode()


def test_the_code_beside_the_user_id_is_ignored(v3, browser, user):
    query = redirect_query(browser)
    assert query.get("code") and query.get("user_id")

    response = browser.get("/smartcar/callback/", {"user_id": query["user_id"], "state": query["state"]})

    assert response.status_code == 302
    assert SmartcarAccount.objects.get(owner=user).smartcar_user_id == driver_id()


def test_reconnecting_updates_the_account_and_a_v2_account_of_the_same_user_becomes_v3(
    v3,
    browser,
    user,
    record_signal,
    settings,
):
    settings.SMARTCAR = {**settings.SMARTCAR, "API_VERSION": "2.0"}
    assert connect_through_views(browser).status_code == 302
    v2_account = SmartcarAccount.objects.get(owner=user)
    assert v2_account.api_version == SmartcarAccount.ApiVersion.V2 and v2_account.refresh_token_encrypted
    settings.SMARTCAR = {**settings.SMARTCAR, "API_VERSION": "3"}
    connected = record_signal("account_connected")

    assert connect_through_views(browser).status_code == 302

    account = SmartcarAccount.objects.get()
    assert account.pk == v2_account.pk
    assert account.api_version == SmartcarAccount.ApiVersion.V3
    assert (account.access_token_encrypted, account.refresh_token_encrypted) == ("", "")
    assert Vehicle.objects.filter(account=account, is_connected=True).count() == 3
    assert [c["created"] for c in connected.calls] == [False]


def signed_in(site_user) -> Client:
    """A second browser (the ``browser`` fixture is the test client itself)."""
    other = Client()
    other.force_login(site_user)
    return other


def test_an_account_of_that_smartcar_user_moves_to_whoever_connects_it_as_in_v2(
    v3,
    browser,
    user,
    other_user,
):
    assert connect_through_views(signed_in(other_user)).status_code == 302
    assert SmartcarAccount.objects.get().owner == other_user

    assert connect_through_views(browser).status_code == 302

    account = SmartcarAccount.objects.get()
    assert account.owner == user and account.api_version == SmartcarAccount.ApiVersion.V3


# The callback's state rules are v2's (tests/app/test_connect_flow.py); these show they guard V3 too.


def test_a_state_started_by_another_user_is_refused(v3, browser, client, other_user):
    query = redirect_query(browser)
    client.force_login(other_user)

    response = client.get("/smartcar/callback/", {"user_id": query["user_id"], "state": query["state"]})

    assert response.status_code == 400 and b"another user" in response.content
    assert not SmartcarAccount.objects.exists()


def test_a_replayed_v3_callback_is_refused(v3, browser):
    query = redirect_query(browser)
    assert browser.get("/smartcar/callback/", query).status_code == 302

    replay = browser.get("/smartcar/callback/", query)

    assert replay.status_code == 400 and b"already been used" in replay.content


def test_connect_errors_are_reported_as_in_v2(v3, browser):
    response = connect_through_views(browser, approve=False)

    assert response.status_code == 200 and b"You did not allow access to your vehicle" in response.content
    assert not SmartcarAccount.objects.exists()


# Hostile user ids: the state is the attacker's own, valid one; only the user id is forged.


def fresh_state(browser) -> str:
    return parse_qs(urlsplit(start_connect(browser)).query)["state"][0]


def victim_connected_an_hour_ago(simulator) -> SmartcarAccount | None:
    """Another owner whose car this application connected an hour ago (their user id is all an attacker has)."""
    vehicles = seeding.seed_vehicles(1, seed=7, email="victim@example.com")
    grants.connect_vehicles(simulator.application, vehicles)
    Connection.objects.filter(vehicle__in=vehicles).update(connected_at=timezone.now() - timedelta(hours=1))
    return SimulatedUser.objects.get(email="victim@example.com").id


def test_another_users_id_typed_into_the_callback_binds_nothing(v3, browser, user):
    victim = victim_connected_an_hour_ago(v3)

    response = browser.get("/smartcar/callback/", {"user_id": victim, "state": fresh_state(browser)})

    assert response.status_code == 400 and b"Smartcar did not confirm this connection" in response.content
    assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()


def test_another_users_id_does_not_take_over_their_existing_account(
    v3,
    browser,
    other_user,
    user,
):
    # The driver (other_user on this site) connected long ago; the attacker (user) knows the driver's user id.
    assert connect_through_views(signed_in(other_user)).status_code == 302
    Connection.objects.update(connected_at=timezone.now() - timedelta(hours=1))

    response = browser.get("/smartcar/callback/", {"user_id": driver_id(), "state": fresh_state(browser)})

    assert response.status_code == 400 and b"did not confirm" in response.content
    account = SmartcarAccount.objects.get()
    assert account.owner == other_user and account.vehicles.filter(is_connected=True).count() == 3


@pytest.mark.parametrize(
    "user_id, message",
    [
        (None, b"no user id"),
        ("", b"no user id"),
        ("0" * 101, b"invalid user id"),
        ("x" * 5000, b"invalid user id"),
        ("abc%00def", b"invalid user id"),
        ("a%20b", b"invalid user id"),
        ("%0a", b"no user id"),
        ("%ED%A0%80", b"did not confirm"),  # not UTF-8: read as U+FFFD, which no user has
        ("..%2F..%2Fv3%2Fusers", b"did not confirm"),
        ("00000000-0000-0000-0000-000000000000", b"did not confirm"),
    ],
)
def test_a_missing_or_garbage_user_id_is_a_clear_400(v3, browser, user_id, message):
    query = f"state={fresh_state(browser)}" + ("" if user_id is None else f"&user_id={user_id}")

    response = browser.get(f"/smartcar/callback/?{query}")

    assert response.status_code == 400 and message in response.content
    assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()


def test_a_connection_older_than_the_state_but_within_the_clock_skew_is_accepted(v3, browser, user):
    query = redirect_query(browser)
    # Smartcar's clock a minute behind ours.
    Connection.objects.update(connected_at=timezone.now() - timedelta(minutes=1))

    assert browser.get("/smartcar/callback/", query).status_code == 302
    assert SmartcarAccount.objects.get(owner=user).uses_v3


def test_a_connection_from_before_the_clock_skew_is_refused(v3, browser):
    query = redirect_query(browser)
    # Three minutes before the state was created: more than the two minutes of clock skew allowed.
    state_created = ConnectState.objects.get().created_at
    Connection.objects.update(connected_at=state_created - timedelta(minutes=3))

    response = browser.get("/smartcar/callback/", query)

    assert response.status_code == 400 and b"did not confirm" in response.content
    assert not SmartcarAccount.objects.exists()


def test_smartcar_failing_to_answer_is_a_502_and_stores_nothing(v3, browser):
    from django_smartcar.simulator import faults

    query = redirect_query(browser)
    faults.inject("server_errors", statuses=[500], target="any")

    response = browser.get("/smartcar/callback/", query)

    assert response.status_code == 502 and b"could not complete the connection" in response.content
    assert not SmartcarAccount.objects.exists()


def test_reauthentication_of_a_v3_vehicle_makes_its_account_active_again(v3, browser, user):
    assert connect_through_views(browser).status_code == 302
    account = SmartcarAccount.objects.get(owner=user)
    SmartcarAccount.objects.filter(pk=account.pk).update(status=SmartcarAccount.Status.REAUTH_REQUIRED)
    vehicle = account.vehicles.first()

    reauth_url = browser.get(f"/smartcar/vehicles/{vehicle.pk}/reauthenticate/?next=/smartcar/")["Location"]
    assert urlsplit(reauth_url).path.endswith("/oauth/reauthenticate")
    response = return_to_callback(browser, complete_connect(reauth_url, email=DRIVER))

    assert response.status_code == 302 and response["Location"] == "/smartcar/"
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE and account.uses_v3
