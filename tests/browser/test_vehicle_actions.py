"""The dashboard's per-car buttons: Refresh, Lock and Unlock, each queued at once, shown pending, then with its
result (the demo's Celery worker runs them).

Whichever API the site connects cars with: the tests find a car by its Smartcar vehicle id (a V3 car has no VIN
until its first signals). The module runs the demo's default, API V3; the admin and layout modules run v2.0."""

import re

from playwright.sync_api import Page, expect

from .conftest import DemoSite
from .flows import (
    connect_car,
    data_row,
    refresh_card,
    seed_vehicle,
    send_card_command,
    unique_email,
    vehicle_card_by_id,
)

AGE = re.compile(r"now|ago")


def test_refresh_shows_the_fuel_cars_data_with_its_age(page: Page, demo_site: DemoSite):
    email = unique_email("fuel")
    vehicle = seed_vehicle(demo_site, email, "TOYOTA")
    assert connect_car(page, email) == vehicle["vin"]
    card = vehicle_card_by_id(page, vehicle["id"])
    expect(card.get_by_text("No data yet")).to_be_visible()

    card = refresh_card(page, card)

    # (API V3 brings the VIN with the first signals, v2 read it at Connect.)
    expect(card.locator(".last-refresh")).to_contain_text(
        re.compile(r"Last refresh: refreshed (vin, )?odometer, location, fuel")
    )
    expect(data_row(card, "fuel")).to_have_text(re.compile(r"^\d{1,3}\s+%\s+·\s+[\d,]+\s+km range$"))
    expect(data_row(card, "odometer")).to_have_text(re.compile(r"^[\d,]+\s+km$"))
    expect(data_row(card, "location")).to_have_text(re.compile(r"^-?\d+\.\d{4}, -?\d+\.\d{4}$"))
    expect(data_row(card, "lock")).to_have_text(re.compile(r"^(Locked|Unlocked)$"))
    for field in ("fuel", "odometer", "location", "lock"):
        expect(data_row(card, field).locator("xpath=following-sibling::dd[1]")).to_have_text(AGE)
    # A fuel car has no battery: no row for it, and no warning about it either.
    expect(data_row(card, "battery")).to_have_count(0)
    expect(page.locator(".message.warning")).to_have_count(0)


def test_refresh_shows_an_electric_cars_battery_and_charge(page: Page, demo_site: DemoSite):
    email = unique_email("ev")
    vehicle = seed_vehicle(demo_site, email, "NISSAN")
    connect_car(page, email)

    card = refresh_card(page, vehicle_card_by_id(page, vehicle["id"]))

    expect(data_row(card, "battery")).to_have_text(re.compile(r"^\d{1,3}\s+%\s+·\s+[\d,]+\s+km range$"))
    expect(data_row(card, "charge")).to_have_text(
        re.compile(r"^(Charging|Fully charged|Not charging), (plugged in|unplugged)$")
    )
    expect(data_row(card, "fuel")).to_have_count(0)


def test_lock_then_unlock_show_the_command_apart_from_the_doors_read_from_the_car(
    page: Page, demo_site: DemoSite
):
    email = unique_email("lock")
    vehicle = seed_vehicle(demo_site, email, "TESLA")
    connect_car(page, email)
    card = vehicle_card_by_id(page, vehicle["id"])

    card = send_card_command(page, card, "Lock")

    expect(card.locator(".last-command")).to_contain_text("Last command: Lock succeeded")
    expect(data_row(card, "lock")).to_have_count(0)  # nothing was read from the car yet
    expect(data_row(refresh_card(page, card), "lock")).to_have_text("Locked")

    card = send_card_command(page, card, "Unlock")

    expect(card.locator(".last-command")).to_contain_text("Last command: Unlock succeeded")
    # The doors stay as last read from the car (with that read's age) until the car is read again.
    expect(data_row(card, "lock")).to_have_text("Locked")

    # The simulated car itself is unlocked: reading it back says so.
    expect(data_row(refresh_card(page, card), "lock")).to_have_text("Unlocked")


def test_lock_is_queued_at_once_shown_pending_then_locked(page: Page, demo_site: DemoSite):
    email = unique_email("slow")
    vehicle = seed_vehicle(demo_site, email, "TESLA")
    connect_car(page, email)
    card = vehicle_card_by_id(page, vehicle["id"])
    # This car takes its time: its next answer (the lock) comes after 3 s, as real cars' often do.
    demo_site.simulator_control(
        "POST", "faults", kind="latency", latency_ms=3000, vehicle_id=vehicle["id"], remaining=1
    )

    card.get_by_role("button", name="Lock", exact=True).click()

    # The page came back at once, the car not yet answered: the command shows pending.
    expect(page.get_by_role("status")).to_contain_text("Lock queued.")
    command = card.locator(".last-command")
    expect(command).to_have_attribute("data-command-status", "pending")
    expect(command).to_contain_text(re.compile(r"Locking\.\.\. \(queued \d\d:\d\d\)"))
    # The page reloads itself until the worker has the car's answer.
    expect(command).to_contain_text("Last command: Lock succeeded")
    expect(data_row(refresh_card(page, card), "lock")).to_have_text("Locked")


def test_buttons_for_a_car_that_is_not_yours_are_refused_cleanly(page: Page, demo_site: DemoSite):
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()

    for path in ("/vehicles/999999/lock/", "/vehicles/999999/unlock/", "/vehicles/999999/refresh/"):
        response = page.request.post(path, form={"csrfmiddlewaretoken": token}, max_redirects=0)
        assert response.status == 404, path
    # The buttons only ever POST (with the CSRF token).
    assert page.request.get("/vehicles/999999/lock/", max_redirects=0).status == 405
    assert page.request.post("/vehicles/999999/lock/", max_redirects=0).status == 403
