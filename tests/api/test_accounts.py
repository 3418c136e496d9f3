"""Accounts and Connect over the API: listing, disconnecting, and Connect URLs for app clients."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django_smartcar.models import ConnectState, SmartcarAccount
from django_smartcar.simulator import faults
from django_smartcar.simulator.models import Connection
from django_smartcar.simulator.testing import complete_connect
from tests.api.conftest import API
from tests.app.conftest import return_to_callback


def test_the_account_list_shows_status_and_connected_vehicles(account, other_account, browser):
    body = browser.get(f"{API}/accounts/").json()

    assert body["count"] == 1
    (listed,) = body["results"]
    assert listed["id"] == account.pk and listed["status"] == "active" and listed["connected_vehicles"] == 3
    assert listed["smartcar_user_id"] == account.smartcar_user_id
    assert browser.get(f"{API}/accounts/{account.pk}/").json()["scope"] == account.scope


def test_deleting_an_account_disconnects_it_at_smartcar(account, browser):
    smartcar_ids = list(account.vehicles.values_list("smartcar_id", flat=True))
    assert Connection.objects.filter(vehicle_id__in=smartcar_ids).count() == 3

    response = browser.delete(f"{API}/accounts/{account.pk}/")

    assert response.status_code == 204
    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.DISCONNECTED and account.refresh_token_encrypted == ""
    assert not account.vehicles.filter(is_connected=True).exists()
    assert not Connection.objects.filter(vehicle_id__in=smartcar_ids).exists()
    listed = browser.get(f"{API}/vehicles/?connected=false").json()
    assert listed["count"] == 3 and listed["results"][0]["account_status"] == "disconnected"


def test_another_users_account_cannot_be_seen_or_deleted(account, other_account, browser, other_browser):
    assert other_browser.get(f"{API}/accounts/{account.pk}/").status_code == 404
    assert other_browser.delete(f"{API}/accounts/{account.pk}/").status_code == 404
    assert [a["id"] for a in other_browser.get(f"{API}/accounts/").json()["results"]] == [other_account.pk]

    account.refresh_from_db()
    assert account.status == SmartcarAccount.Status.ACTIVE


def test_a_smartcar_failure_while_disconnecting_is_a_502_not_a_500(account, browser):
    faults.inject("server_errors", statuses=[500])

    response = browser.delete(f"{API}/accounts/{account.pk}/")

    assert response.status_code == 502 and response.json()["type"] == "SERVER"


def test_connect_url_gives_a_state_the_callback_accepts_for_the_same_user(smartcar, user, browser):
    response = browser.post(
        f"{API}/connect-url/", {"next": "/garage/", "make": "TESLA"}, content_type="application/json"
    )

    assert response.status_code == 200
    body = response.json()
    query = parse_qs(urlsplit(body["url"]).query)
    assert query["state"] == [body["state"]] and query["make"] == ["TESLA"]
    assert query["redirect_uri"] == [smartcar.redirect_uri]

    # The app client opens Connect itself, then the signed-in user lands on the callback.
    callback = return_to_callback(browser, complete_connect(body["url"], email=smartcar.email))

    assert callback.status_code == 302 and callback["Location"] == "/garage/"
    assert {v.make for v in SmartcarAccount.objects.get(owner=user).vehicles.all()} == {"TESLA"}


def test_a_connect_url_state_is_useless_to_another_user(smartcar, user, browser, other_browser):
    body = browser.post(f"{API}/connect-url/", {}, content_type="application/json").json()

    callback = return_to_callback(other_browser, complete_connect(body["url"], email=smartcar.email))

    assert callback.status_code == 400
    assert not SmartcarAccount.objects.exists()


def test_connect_url_keeps_next_on_this_site(smartcar, user, browser):
    body = browser.post(
        f"{API}/connect-url/", {"next": "https://evil.example/"}, content_type="application/json"
    ).json()

    assert ConnectState.objects.get(state_hash=ConnectState.hash(body["state"])).next_url == "/smartcar/"


def test_connect_url_rejects_invalid_options_with_a_400(smartcar, user, browser):
    response = browser.post(
        f"{API}/connect-url/",
        {"single_select_vin": "X" * 18, "force": "perhaps"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"single_select_vin", "force"}
    assert not ConnectState.objects.exists()
