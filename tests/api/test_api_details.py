"""API details clients read as bugs: request bodies always parsed, one not-found message, 401 challenges."""

from __future__ import annotations

import pytest
from django.test import Client

from django_smartcar.models import SmartcarAccount, VehicleCommand
from django_smartcar.simulator.models import SimulatedVehicle
from tests.api.conftest import API, offline_account

MALFORMED_JSON = "{not json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "vehicles/{vehicle}/lock/"),
        ("post", "vehicles/{vehicle}/unlock/"),
        ("post", "vehicles/{vehicle}/start-charge/"),
        ("post", "vehicles/{vehicle}/stop-charge/"),
        ("post", "vehicles/{vehicle}/refresh/"),
        ("post", "vehicles/{vehicle}/lock/?async=0"),
        ("post", "vehicles/{vehicle}/refresh/?async=0"),
        ("delete", "accounts/{account}/"),
        ("post", "connect-url/"),
    ],
)
def test_a_malformed_json_body_is_a_400_and_nothing_reaches_smartcar(
    account, browser, smartcar_requests, queued, method, path
):
    vehicle = account.vehicles.order_by("pk").first()
    locked_before = SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked
    url = f"{API}/" + path.format(vehicle=vehicle.pk, account=account.pk)

    response = getattr(browser, method)(url, data=MALFORMED_JSON, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("JSON parse error")
    assert smartcar_requests == [] and queued == []
    assert not VehicleCommand.objects.exists()
    assert SimulatedVehicle.objects.get(pk=vehicle.smartcar_id).is_locked == locked_before
    assert SmartcarAccount.objects.get(pk=account.pk).status == SmartcarAccount.Status.ACTIVE


def test_a_well_formed_json_body_is_still_accepted(account, browser):
    vehicle = account.vehicles.order_by("pk").first()

    response = browser.post(
        f"{API}/vehicles/{vehicle.pk}/unlock/?async=0", data={}, content_type="application/json"
    )

    assert response.status_code == 200 and response.json()["status"] == "succeeded"


@pytest.mark.parametrize("kind", ["vehicles", "commands", "accounts"])
def test_every_id_that_is_not_one_of_yours_gets_the_same_not_found_message(
    account, other_account, browser, other_browser, kind
):
    mine = account.vehicles.order_by("pk").first()
    browser.post(f"{API}/vehicles/{mine.pk}/lock/?async=0")
    # Someone else's object: the other user's vehicle asked by the user, the user's command and account asked by
    # the other user.
    asker, theirs = {
        "vehicles": (browser, other_account.vehicles.get().pk),
        "commands": (other_browser, VehicleCommand.objects.get().pk),
        "accounts": (other_browser, account.pk),
    }[kind]

    answers = [asker.get(f"{API}/{kind}/{lookup}/") for lookup in ("abc", "0", str(2**70), "999999", theirs)]

    assert [answer.status_code for answer in answers] == [404] * 5
    assert len({answer.json()["detail"] for answer in answers}) == 1, [answer.json() for answer in answers]


def test_a_command_on_a_vehicle_that_is_not_yours_gets_the_same_not_found_message(
    account, other_account, browser, smartcar_requests
):
    theirs = other_account.vehicles.get().pk

    answers = [browser.post(f"{API}/vehicles/{lookup}/lock/?async=0") for lookup in ("abc", "999999", theirs)]

    assert [answer.status_code for answer in answers] == [404] * 3
    assert len({answer.json()["detail"] for answer in answers}) == 1
    assert smartcar_requests == []


SESSION = "rest_framework.authentication.SessionAuthentication"
BASIC = "rest_framework.authentication.BasicAuthentication"
TOKEN = "rest_framework.authentication.TokenAuthentication"


@pytest.mark.parametrize(
    ("authentication_classes", "challenge"),
    [
        ([SESSION, BASIC], 'Basic realm="api"'),
        ([SESSION, TOKEN, BASIC], "Token"),
        ([BASIC, SESSION], 'Basic realm="api"'),
    ],
)
def test_anonymous_clients_get_a_401_with_the_first_configured_challenge(
    db, user, settings, smartcar_requests, authentication_classes, challenge
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": authentication_classes,
    }
    vehicle = offline_account(user, 1).vehicles.get()
    anonymous = Client()

    answers = [
        anonymous.get(f"{API}/vehicles/"),
        anonymous.get(f"{API}/vehicles/{vehicle.pk}/"),
        anonymous.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0"),
        anonymous.delete(f"{API}/accounts/{vehicle.account_id}/"),
        anonymous.post(f"{API}/connect-url/"),
    ]

    assert [answer.status_code for answer in answers] == [401] * 5
    assert {answer["WWW-Authenticate"] for answer in answers} == {challenge}
    assert smartcar_requests == [] and not VehicleCommand.objects.exists()


def test_anonymous_clients_get_a_403_when_no_configured_class_has_a_challenge(db, user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": [SESSION]}
    vehicle = offline_account(user, 1).vehicles.get()

    response = Client().post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")

    assert response.status_code == 403 and "WWW-Authenticate" not in response


def test_a_signed_in_user_with_session_first_still_gets_in(db, user, browser, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": [SESSION, TOKEN]}
    offline_account(user, 2)

    assert browser.get(f"{API}/vehicles/").json()["count"] == 2
