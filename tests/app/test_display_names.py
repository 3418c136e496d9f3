"""How people see connections, makes and places: pages and the admin use the brand's spelling and a connection's
owner and makes; the stored value and the REST API keep what Smartcar sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_smartcar.brands import display_make
from django_smartcar.models import SmartcarAccount, Vehicle

from .test_admin import ACCOUNTS_URL, VEHICLES_URL


@pytest.mark.parametrize(
    ("smartcar_make", "shown"),
    [
        ("TESLA", "Tesla"),
        ("TOYOTA", "Toyota"),
        ("BMW", "BMW"),
        ("GMC", "GMC"),
        ("MINI", "MINI"),
        ("RAM", "RAM"),
        ("MERCEDES-BENZ", "Mercedes-Benz"),
        ("MERCEDES_BENZ", "Mercedes-Benz"),
        ("LAND ROVER", "Land Rover"),
        ("LAND_ROVER", "Land Rover"),
        ("ALFA_ROMEO", "Alfa Romeo"),
        ("ROLLS-ROYCE", "Rolls-Royce"),
        ("MCLAREN", "McLaren"),
        # Smartcar's v3 API already sends the brand's spelling: it is kept.
        ("Tesla", "Tesla"),
        ("BYD", "BYD"),
        ("", ""),
    ],
)
def test_a_make_is_shown_as_the_brand_writes_it(smartcar_make: str, shown: str):
    assert display_make(smartcar_make) == shown


@pytest.fixture
def named_account(account: SmartcarAccount) -> SmartcarAccount:
    """The driver's connection, its cars made a Mercedes-Benz and BMWs as Smartcar spells them."""
    vehicles = list(account.vehicles.order_by("pk"))
    assert len(vehicles) >= 2
    for vehicle, make in zip(vehicles, ["MERCEDES-BENZ", *["BMW"] * (len(vehicles) - 1)], strict=True):
        vehicle.make = make
        vehicle.save(update_fields=["make"])
    return account


def test_a_vehicle_is_named_with_its_brands_spelling_and_the_api_keeps_smartcars(named_account, browser):
    vehicle = named_account.vehicles.get(make="MERCEDES-BENZ")
    assert vehicle.display_make == "Mercedes-Benz"
    assert str(vehicle) == f"{vehicle.year} Mercedes-Benz {vehicle.model}"

    body = browser.get(f"/api/smartcar/vehicles/{vehicle.pk}/").json()
    assert body["make"] == "MERCEDES-BENZ"


def test_a_connection_is_named_by_its_owner_and_its_cars_makes(named_account, user):
    assert named_account.display_name == "ann's BMW and Mercedes-Benz connection"

    user.first_name, user.last_name = "Ann", "Smith"
    user.save()
    assert SmartcarAccount.objects.get(pk=named_account.pk).display_name == (
        "Ann Smith's BMW and Mercedes-Benz connection"
    )

    # Only the cars still connected count.
    named_account.vehicles.filter(make="MERCEDES-BENZ").update(is_connected=False)
    assert SmartcarAccount.objects.get(pk=named_account.pk).display_name == "Ann Smith's BMW connection"
    named_account.vehicles.update(is_connected=False)
    assert SmartcarAccount.objects.get(pk=named_account.pk).display_name == "Ann Smith's Smartcar connection"


def test_a_connection_with_many_makes_names_three(named_account):
    for index, make in enumerate(["TESLA", "TOYOTA", "BMW", "FORD", "KIA"]):
        Vehicle.objects.create(account=named_account, smartcar_id=f"extra-{index}", make=make)

    # BMW, Ford, Kia, Mercedes-Benz, Tesla and Toyota.
    assert (
        SmartcarAccount.objects.get(pk=named_account.pk).display_name
        == "ann's BMW, Ford, Kia and 3 more connection"
    )


def test_the_admin_lists_connections_by_name_and_filters_makes_by_brand(
    named_account, client, django_user_model
):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)

    accounts_page = client.get(ACCOUNTS_URL).content.decode()
    assert "ann&#x27;s BMW and Mercedes-Benz connection" in accounts_page

    vehicles_page = client.get(VEHICLES_URL).content.decode()
    # In the list and in the make filter; Smartcar's spelling only in the filter's query string.
    assert ">Mercedes-Benz<" in vehicles_page and ">MERCEDES-BENZ<" not in vehicles_page
    assert "Mercedes-Benz " in vehicles_page
    filtered = client.get(VEHICLES_URL, {"make": "MERCEDES-BENZ"})
    assert list(filtered.context["cl"].result_list) == list(
        named_account.vehicles.filter(make="MERCEDES-BENZ")
    )


def add_accounts(owner, count: int, prefix: str) -> None:
    """``count`` accounts of ``owner`` with two cars each, stored as Connect would store them."""
    for index in range(count):
        account = SmartcarAccount(
            owner=owner,
            smartcar_user_id=f"{prefix}-{index}",
            access_expires_at=timezone.now() + timedelta(hours=2),
            refresh_expires_at=timezone.now() + timedelta(days=60),
        )
        account.access_token = account.refresh_token = "not used here"
        account.save()
        for make in ("TESLA", "BMW"):
            Vehicle.objects.create(account=account, smartcar_id=f"{prefix}-{index}-{make}", make=make)


@pytest.mark.django_db
def test_the_admin_names_connections_without_a_query_per_row(
    client, django_user_model, django_assert_num_queries, django_assert_max_num_queries
):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)
    add_accounts(admin_user, 1, "first")
    with django_assert_max_num_queries(100) as one_row:
        response = client.get(ACCOUNTS_URL)
    assert "root&#x27;s BMW and Tesla connection" in response.content.decode()

    add_accounts(admin_user, 4, "more")
    with django_assert_num_queries(len(one_row.captured_queries)):
        response = client.get(ACCOUNTS_URL)
    assert response.content.decode().count("root&#x27;s BMW and Tesla connection") == 5


def test_a_known_location_links_to_openstreetmap():
    vehicle = Vehicle(latitude=52.520008, longitude=13.404954)
    assert vehicle.map_url == (
        "https://www.openstreetmap.org/?mlat=52.52001&mlon=13.40495#map=16/52.52001/13.40495"
    )
    assert Vehicle(latitude=None, longitude=None).map_url == ""
