"""Connect through the app's views against the live simulator: success, every bad callback, reconnects."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from django_smartcar.models import ConnectState, SmartcarAccount, Vehicle
from django_smartcar.simulator.models import SimulatedVehicle
from django_smartcar.simulator.testing import complete_connect

from .conftest import DRIVER, connect_through_views, return_to_callback, start_connect


def driver_vehicles():
    return SimulatedVehicle.objects.filter(user__email=DRIVER)


def test_connect_creates_the_account_and_its_vehicles(smartcar, browser, user, record_signal):
    connected = record_signal("account_connected")
    vehicles_connected = record_signal("vehicle_connected")

    response = connect_through_views(browser, next="/dashboard/")

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    account = SmartcarAccount.objects.get(owner=user)
    assert account.status == SmartcarAccount.Status.ACTIVE
    assert account.access_expires_at > timezone.now() + timedelta(hours=1)
    assert account.refresh_expires_at > timezone.now() + timedelta(days=59)
    expected = {v.id: v for v in driver_vehicles()}
    synced = {v.smartcar_id: v for v in account.vehicles.all()}
    assert synced.keys() == expected.keys() and expected
    for smartcar_id, vehicle in synced.items():
        assert (vehicle.vin, vehicle.make, vehicle.model, vehicle.year) == (
            expected[smartcar_id].vin,
            expected[smartcar_id].make,
            expected[smartcar_id].model,
            expected[smartcar_id].year,
        )
        assert "control_security" in vehicle.permissions and vehicle.is_connected
    assert [(c["account"], c["user"], c["created"]) for c in connected.calls] == [(account, user, True)]
    assert {c["vehicle"].smartcar_id for c in vehicles_connected.calls} == expected.keys()


def test_without_next_connect_lands_on_the_apps_page_with_the_message_and_the_vehicles(smartcar, browser):
    # The default CONNECT_SUCCESS_URL is a page every site including the app's URLs has: "/" may be a 404.
    response = connect_through_views(browser)
    assert response.status_code == 302 and response["Location"] == "/smartcar/"

    page = browser.get(response["Location"])

    assert page.status_code == 200
    text = page.content.decode()
    assert "Connected 3 vehicles through Smartcar." in text
    for vehicle in driver_vehicles():
        assert f"{vehicle.year} {vehicle.make} {vehicle.model}" in text
    vehicle = Vehicle.objects.first()
    assert f"/smartcar/vehicles/{vehicle.pk}/disconnect/?next=/smartcar/" in text
    assert 'href="/smartcar/connect/?next=/smartcar/"' in text


def test_the_success_url_may_be_a_url_name_or_a_path(smartcar, browser, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "CONNECT_SUCCESS_URL": "admin:index"}
    assert connect_through_views(browser)["Location"] == "/admin/"
    settings.SMARTCAR = {**settings.SMARTCAR, "CONNECT_SUCCESS_URL": "/garage/"}
    assert connect_through_views(browser)["Location"] == "/garage/"


def test_the_connections_page_lists_only_the_users_connected_vehicles(account, browser, other_user):
    gone = account.vehicles.first()
    Vehicle.objects.filter(pk=gone.pk).update(is_connected=False)
    stranger = Client()
    stranger.force_login(other_user)

    mine = browser.get("/smartcar/").content.decode()
    theirs = stranger.get("/smartcar/").content.decode()

    for vehicle in account.vehicles.all():
        assert (f"/smartcar/vehicles/{vehicle.pk}/disconnect/" in mine) is (vehicle.pk != gone.pk)
        assert f"/smartcar/vehicles/{vehicle.pk}/disconnect/" not in theirs
    assert "You have not connected a vehicle yet." in theirs


def test_the_connections_page_requires_sign_in(smartcar, client):
    response = client.get("/smartcar/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=/smartcar/")


def test_connect_url_carries_the_configured_scope_and_options(smartcar, browser):
    url = start_connect(browser, make="TESLA", single_select="true", force="1")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [smartcar.client_id]
    assert query["redirect_uri"] == [smartcar.redirect_uri]
    assert "read_odometer" in query["scope"][0].split()
    assert query["make"] == ["TESLA"] and query["single_select"] == ["true"]
    assert query["approval_prompt"] == ["force"] and query["mode"] == ["simulated"]
    assert ConnectState.objects.get().state_hash == ConnectState.hash(query["state"][0])


def test_connect_requires_sign_in(smartcar, client):
    response = client.get("/smartcar/connect/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_reconnecting_updates_the_account_instead_of_duplicating_it(account, browser, record_signal):
    connected = record_signal("account_connected")
    old_ciphertext = account.refresh_token_encrypted
    SmartcarAccount.objects.filter(pk=account.pk).update(status=SmartcarAccount.Status.REAUTH_REQUIRED)

    response = connect_through_views(browser)

    assert response.status_code == 302
    assert SmartcarAccount.objects.count() == 1
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE
    assert account.refresh_token_encrypted != old_ciphertext
    assert Vehicle.objects.count() == driver_vehicles().count()
    assert [c["created"] for c in connected.calls] == [False]


def test_denying_consent_shows_a_clear_page_and_stores_nothing(smartcar, browser):
    response = connect_through_views(browser, approve=False)
    assert response.status_code == 200
    assert b"You did not allow access to your vehicle" in response.content
    assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()


def bad_callback(browser, smartcar, **query):
    response = browser.get("/smartcar/callback/", query)
    assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()
    return response


def fresh_code_and_state(browser) -> tuple[str, str]:
    query = parse_qs(urlsplit(complete_connect(start_connect(browser), email=DRIVER)).query)
    return query["code"][0], query["state"][0]


def test_callback_without_state_is_refused(smartcar, browser):
    code, _state = fresh_code_and_state(browser)
    response = bad_callback(browser, smartcar, code=code)
    assert response.status_code == 400 and b"no valid state" in response.content


def test_callback_with_an_unknown_state_is_refused(smartcar, browser):
    code, _state = fresh_code_and_state(browser)
    response = bad_callback(browser, smartcar, code=code, state="forged-state")
    assert response.status_code == 400 and b"unknown" in response.content


def test_callback_with_an_expired_state_is_refused(smartcar, browser):
    code, state = fresh_code_and_state(browser)
    ConnectState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bad_callback(browser, smartcar, code=code, state=state)
    assert response.status_code == 400 and b"expired" in response.content


def test_a_state_cannot_be_used_twice(smartcar, browser, user):
    code, state = fresh_code_and_state(browser)
    ConnectState.objects.update(used_at=timezone.now())
    response = bad_callback(browser, smartcar, code=code, state=state)
    assert response.status_code == 400 and b"already been used" in response.content


def test_a_replayed_callback_does_not_connect_again(account, browser):
    code, state = fresh_code_and_state(browser)
    assert return_to_callback(browser, f"/smartcar/callback/?code={code}&state={state}").status_code == 302
    replay = browser.get("/smartcar/callback/", {"code": code, "state": state})
    assert replay.status_code == 400 and b"already been used" in replay.content


def test_another_users_state_is_refused(smartcar, browser, client, other_user):
    code, state = fresh_code_and_state(browser)
    client.force_login(other_user)
    response = bad_callback(client, smartcar, code=code, state=state)
    assert response.status_code == 400 and b"another user" in response.content


def test_a_state_from_another_browser_session_is_refused(smartcar, browser, user):
    code, state = fresh_code_and_state(browser)
    other_browser = Client()
    other_browser.force_login(user)
    response = bad_callback(other_browser, smartcar, code=code, state=state)
    assert response.status_code == 400 and b"another browser session" in response.content


def test_an_error_parameter_is_reported_without_storing_anything(smartcar, browser):
    # A code Smartcar does not document (the documented ones have their own messages: test_connect_errors).
    _code, state = fresh_code_and_state(browser)
    response = bad_callback(
        browser, smartcar, state=state, error="unheard_of", error_description="<script>x</script>"
    )
    assert response.status_code == 400
    assert b"unheard_of" in response.content and b"<script>" not in response.content


def test_a_code_smartcar_rejects_is_a_clear_error(smartcar, browser):
    _code, state = fresh_code_and_state(browser)
    response = bad_callback(browser, smartcar, code="not-a-real-code", state=state)
    assert response.status_code == 400 and b"refused this authorization code" in response.content
    assert not SmartcarAccount.objects.exists()


def test_a_missing_code_is_refused(smartcar, browser):
    _code, state = fresh_code_and_state(browser)
    response = bad_callback(browser, smartcar, state=state)
    assert response.status_code == 400 and b"no authorization code" in response.content


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/path", "javascript:alert(1)"])
def test_next_never_redirects_off_site(smartcar, browser, next_url):
    response = connect_through_views(browser, next=next_url)
    assert response.status_code == 302 and response["Location"] == "/smartcar/"


def test_disconnecting_a_vehicle_revokes_it_at_smartcar(account, browser, record_signal):
    disconnected = record_signal("vehicle_disconnected")
    vehicle = account.vehicles.first()

    response = browser.post(f"/smartcar/vehicles/{vehicle.pk}/disconnect/", {"next": "/garage/"})

    assert response.status_code == 302 and response["Location"] == "/garage/"
    vehicle.refresh_from_db()
    assert not vehicle.is_connected and vehicle.disconnected_at
    assert [c["vehicle"].pk for c in disconnected.calls] == [vehicle.pk]
    # Smartcar no longer lists it: a sync keeps it disconnected.
    from django_smartcar.services.vehicles import sync_vehicles

    assert vehicle.smartcar_id not in {v.smartcar_id for v in sync_vehicles(account).updated}


def test_disconnecting_an_account_forgets_its_tokens(account, browser):
    response = browser.post(f"/smartcar/accounts/{account.pk}/disconnect/")
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.DISCONNECTED
    assert account.refresh_token_encrypted == "" and account.access_token_encrypted == ""
    assert not account.vehicles.filter(is_connected=True).exists()


def test_disconnect_needs_post_and_ownership(account, client, other_user):
    vehicle = account.vehicles.first()
    client.force_login(other_user)
    assert client.get(f"/smartcar/vehicles/{vehicle.pk}/disconnect/").status_code == 404
    assert client.get(f"/smartcar/accounts/{account.pk}/disconnect/").status_code == 404
    assert client.put(f"/smartcar/vehicles/{vehicle.pk}/disconnect/").status_code == 405
    assert client.post(f"/smartcar/vehicles/{vehicle.pk}/disconnect/").status_code == 404
    assert client.post(f"/smartcar/accounts/{account.pk}/disconnect/").status_code == 404
    vehicle.refresh_from_db()
    assert vehicle.is_connected


@pytest.mark.parametrize("kind", ["vehicle", "account"])
def test_disconnect_asks_for_confirmation_on_get_and_its_form_posts_with_csrf(account, user, kind):
    vehicle = account.vehicles.first()
    url = {
        "vehicle": f"/smartcar/vehicles/{vehicle.pk}/disconnect/",
        "account": f"/smartcar/accounts/{account.pk}/disconnect/",
    }[kind]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    page = browser.get(url, {"next": "/garage/"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "Disconnect" in html and 'method="post"' in html and 'value="/garage/"' in html
    vehicle.refresh_from_db()
    assert vehicle.is_connected  # a GET (a link, a prefetch) never disconnects
    assert browser.post(url, {"next": "/garage/"}).status_code == 403  # no CSRF token: refused

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = browser.post(url, {"next": "/garage/", "csrfmiddlewaretoken": token})

    assert response.status_code == 302 and response["Location"] == "/garage/"
    vehicle.refresh_from_db()
    assert not vehicle.is_connected
