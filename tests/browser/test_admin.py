"""The admin's actions on the demo site, and what the car's owner then sees on the dashboard."""

import re

from playwright.sync_api import Page, expect

from .conftest import DemoSite
from .flows import (
    account_section,
    connect_car,
    data_row,
    go_through_connect,
    refresh_car,
    seed_car,
    send_command,
    unique_email,
    vehicle_card,
)

# This module's site connects cars through Smartcar API v2.0 (the demo's default is V3, see test_connect_v3.py):
# its tests find each car by the VIN Connect showed, which v2 reads at Connect and V3 only with the first signals.
DEMO_API_VERSION = "2.0"

# Past the simulated refresh token's 60-day life.
SIXTY_ONE_DAYS = 61 * 24 * 3600


def run_admin_action(page: Page, action: str) -> None:
    """On an admin change list showing exactly one row: select it, run ``action``, confirm."""
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#result_list tbody input.action-select").check()
    page.locator("select[name=action]").select_option(label=action)
    page.get_by_role("button", name="Go", exact=True).click()
    expect(page.locator("#content")).to_contain_text("Each one is")
    page.get_by_role("button", name=re.compile(r"^Yes, I.m sure$")).click()


def test_admin_lock_action_locks_the_car(page: Page, demo_site: DemoSite):
    email = unique_email("admin-lock")
    vin = seed_car(demo_site, email, "BMW")
    connect_car(page, email)
    send_command(page, vin, "Unlock")
    expect(data_row(refresh_car(page, vin), "lock")).to_have_text("Unlocked")

    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("link", name="Vehicles", exact=True).click()
    page.locator("#searchbar").fill(vin)
    page.locator("#searchbar").press("Enter")
    run_admin_action(page, "Lock selected vehicles")

    expect(page.locator(".messagelist")).to_contain_text(re.compile(r"BMW 330i: Lock queued"))
    page.goto("/")
    card = vehicle_card(page, vin)
    # The dashboard shows the queued lock (reloading itself while it is pending), then its result.
    expect(card.locator(".last-command")).to_contain_text("Last command: Lock succeeded")
    expect(data_row(card, "lock")).to_have_text("Unlocked")  # as last read, until the car is read again
    expect(data_row(refresh_car(page, vin), "lock")).to_have_text("Locked")


def test_dead_connection_is_flagged_and_reconnect_revives_it(page: Page, demo_site: DemoSite):
    email = unique_email("reauth")
    vin = seed_car(demo_site, email, "TOYOTA")
    connect_car(page, email)

    # Two months pass at Smartcar: the connection's refresh token expires, and the admin's "Rotate tokens
    # now" finds Smartcar refusing it.
    demo_site.simulator_control("POST", "clock", advance_seconds=SIXTY_ONE_DAYS)
    try:
        account_section(page, vin).get_by_role("link", name="Open in the admin").click()
        run_admin_action(page, "Rotate tokens now")
        expect(page.locator(".messagelist .error")).to_contain_text("the owner must reconnect")
    finally:
        demo_site.simulator_control("POST", "clock", offset_seconds=0)

    page.goto("/")
    section = account_section(page, vin)
    expect(section.locator(".badge")).to_have_text("Re-authentication required")
    expect(section.get_by_role("alert")).to_contain_text("Smartcar no longer accepts this connection")
    expect(vehicle_card(page, vin).get_by_role("button", name="Lock", exact=True)).to_have_count(0)

    section.get_by_role("button", name="Reconnect").click()
    assert go_through_connect(page, email) == [vin]

    expect(page.get_by_role("status")).to_contain_text("Connected 1 vehicle through Smartcar.")
    section = account_section(page, vin)
    expect(section.locator(".badge")).to_have_text("Active")
    expect(section.get_by_role("alert")).to_have_count(0)
    card = send_command(page, vin, "Lock")
    expect(card.locator(".last-command")).to_contain_text("Last command: Lock succeeded")
