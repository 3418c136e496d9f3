"""Vehicles over the API: the user's own only, with their last data and its age, in constant queries."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.test import APIRequestFactory, force_authenticate

from django_smartcar.api.views import VehicleViewSet
from django_smartcar.models import SmartcarAccount, Vehicle
from django_smartcar.services.vehicles import refresh_vehicle_data
from tests.api.conftest import API, offline_account


def test_the_list_shows_the_users_vehicles_with_their_last_data_and_its_age(account, browser):
    vehicle = account.vehicles.order_by("pk").first()
    refresh_vehicle_data(vehicle)
    vehicle.refresh_from_db()

    response = browser.get(f"{API}/vehicles/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == account.vehicles.count() == 3
    listed = body["results"][0]
    assert listed["id"] == vehicle.pk and listed["vin"] == vehicle.vin and listed["account"] == account.pk
    assert listed["odometer"]["distance_km"] == vehicle.odometer_km
    assert listed["odometer"]["age"] == vehicle.odometer_age.isoformat().replace("+00:00", "Z")
    assert listed["security"]["is_locked"] == vehicle.is_locked
    # Never refreshed: no data, so no age either.
    assert body["results"][1]["odometer"] is None and body["results"][1]["data_refreshed_at"] is None


def test_a_vehicle_in_detail(account, browser):
    vehicle = account.vehicles.first()

    body = browser.get(f"{API}/vehicles/{vehicle.pk}/").json()

    assert body["smartcar_id"] == vehicle.smartcar_id and body["make"] == vehicle.make
    assert body["account_status"] == "active" and body["is_connected"] is True
    assert set(body["permissions"]) == set(vehicle.permissions)


def test_no_token_is_ever_in_an_answer(account, browser):
    account.refresh_from_db()
    secrets = [account.access_token, account.refresh_token, account.access_token_encrypted]
    vehicle = account.vehicles.first()

    answers = [
        browser.get(f"{API}/vehicles/").content,
        browser.get(f"{API}/vehicles/{vehicle.pk}/").content,
        browser.get(f"{API}/accounts/").content,
        browser.get(f"{API}/accounts/{account.pk}/").content,
        browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0").content,
    ]

    for answer in answers:
        for secret in secrets:
            assert secret.encode() not in answer


def test_filter_by_account_and_by_connected_state(db, user, browser):
    first = offline_account(user, 2, prefix="first")
    second = offline_account(user, 3, prefix="second")
    Vehicle.objects.filter(pk=second.vehicles.order_by("pk").first().pk).update(is_connected=False)

    def ids(query: str) -> set[int]:
        response = browser.get(f"{API}/vehicles/?{query}")
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["results"]}

    assert ids(f"account={first.pk}") == set(first.vehicles.values_list("pk", flat=True))
    assert ids("connected=false") == {second.vehicles.order_by("pk").first().pk}
    assert len(ids(f"account={second.pk}&connected=true")) == 2
    assert len(ids("")) == 5


@pytest.mark.parametrize("query", ["account=abc", "account=0", "connected=maybe", f"account={2**64}"])
def test_an_invalid_filter_is_a_400_naming_it(db, user, browser, query):
    response = browser.get(f"{API}/vehicles/?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_pages_of_50_by_default_and_at_most_200(db, user, browser):
    offline_account(user, 210)

    first_page = browser.get(f"{API}/vehicles/").json()
    largest_page = browser.get(f"{API}/vehicles/?page_size=1000").json()

    assert first_page["count"] == 210 and len(first_page["results"]) == 50 and first_page["next"]
    assert len(largest_page["results"]) == 200
    assert browser.get(f"{API}/vehicles/?page=99").status_code == 404


class TwoAtATime(LimitOffsetPagination):
    default_limit = 2


def test_the_projects_pagination_class_wins(db, user, browser, settings):
    offline_account(user, 3)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_PAGINATION_CLASS": "tests.api.test_vehicles.TwoAtATime",
    }

    body = browser.get(f"{API}/vehicles/?offset=1").json()

    assert body["count"] == 3 and len(body["results"]) == 2


def test_a_project_may_change_the_pagination_of_one_route(db, user):
    """DRF's as_view() (and @action()) arguments set a view's attributes for one route: here, no pages."""
    offline_account(user, 3)
    view = VehicleViewSet.as_view({"get": "list"}, pagination_class=None)
    request = APIRequestFactory().get(f"{API}/vehicles/")
    force_authenticate(request, user)

    response = view(request)

    assert response.status_code == 200
    assert [vehicle["id"] for vehicle in response.data] == list(
        Vehicle.objects.filter(account__owner=user).order_by("pk").values_list("pk", flat=True)
    )


@pytest.mark.parametrize("vehicle_count", [1, 200])
def test_the_list_takes_the_same_few_queries_for_1_or_200_vehicles(
    db, user, browser, django_assert_max_num_queries, vehicle_count
):
    offline_account(user, vehicle_count)

    # Session, user, count and one page: the same whatever the number of vehicles.
    with django_assert_max_num_queries(4):
        response = browser.get(f"{API}/vehicles/?page_size=200")

    assert len(response.json()["results"]) == vehicle_count


def test_another_users_vehicles_are_invisible(account, other_account, browser, other_browser):
    mine = account.vehicles.first()
    theirs = other_account.vehicles.first()

    assert {v["id"] for v in browser.get(f"{API}/vehicles/").json()["results"]} == set(
        account.vehicles.values_list("pk", flat=True)
    )
    assert [v["id"] for v in other_browser.get(f"{API}/vehicles/").json()["results"]] == [theirs.pk]
    assert other_browser.get(f"{API}/vehicles/{mine.pk}/").status_code == 404
    # Filtering by someone else's account finds nothing rather than revealing it.
    assert browser.get(f"{API}/vehicles/?account={other_account.pk}").json()["count"] == 0


@pytest.mark.parametrize("lookup", ["abc", "0", "-1", str(2**70)])
def test_an_impossible_id_is_a_json_404(db, browser, lookup):
    response = browser.get(f"{API}/vehicles/{lookup}/")

    assert response.status_code == 404 and "detail" in response.json()


def test_anonymous_requests_are_refused(db, offline_user_vehicle):
    anonymous = Client()

    assert anonymous.get(f"{API}/vehicles/").status_code in (401, 403)
    assert anonymous.get(f"{API}/vehicles/{offline_user_vehicle.pk}/").status_code in (401, 403)
    assert anonymous.post(f"{API}/vehicles/{offline_user_vehicle.pk}/lock/?async=0").status_code in (401, 403)


@pytest.fixture
def offline_user_vehicle(user) -> Vehicle:
    return offline_account(user, 1).vehicles.get()


def test_the_account_status_is_shown_on_its_vehicles(db, user, browser, offline_user_vehicle):
    SmartcarAccount.objects.filter(pk=offline_user_vehicle.account_id).update(
        status=SmartcarAccount.Status.REAUTH_REQUIRED
    )

    body = browser.get(f"{API}/vehicles/{offline_user_vehicle.pk}/").json()

    assert body["account_status"] == "reauth_required"
