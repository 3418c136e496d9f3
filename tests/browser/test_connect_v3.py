"""Connecting a car through API V3 in the demo (its default API): Connect comes back with the Smartcar user id,
the car appears on the dashboard, and Refresh reads its signals (one V3 request) into the signals table."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from .conftest import DemoSite, run_demo_site
from .flows import go_through_connect, seed_car, unique_email


@pytest.fixture(scope="module")
def demo_site() -> Iterator[DemoSite]:
    with run_demo_site("demo-site-v3-", api_version="3") as site:
        yield site


def test_a_car_connected_through_v3_shows_its_signals_after_a_refresh(page: Page, demo_site: DemoSite):
    email = unique_email("v3-driver")
    vin = seed_car(demo_site, email, "TESLA")

    page.get_by_role("button", name="Connect a car").click()
    assert go_through_connect(page, email) == [vin]

    expect(page).to_have_url(f"{demo_site.base_url}/")
    expect(page.get_by_role("status")).to_contain_text("Connected 1 vehicle through Smartcar.")
    # V3's connections name make, model and year; the VIN comes with the car's first signals.
    card = page.locator("article.vehicle").filter(has_text="Tesla")
    expect(card).to_have_count(1)
    expect(card.get_by_text("No data yet")).to_be_visible()

    card.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("status")).to_contain_text("Refresh queued.")
    read = page.locator(f"article.vehicle[data-vin='{vin}']")
    expect(read.locator(".last-refresh")).to_have_attribute("data-refresh-status", "succeeded")
    signals = read.locator("details.signals")
    expect(signals).to_be_visible()
    signals.locator("summary").click()
    expect(signals.locator("tr[data-signal='odometer-traveleddistance']")).to_have_attribute(
        "data-signal-status", "SUCCESS"
    )
    expect(signals.locator("tr[data-signal='tractionbattery-stateofcharge']")).to_be_visible()
