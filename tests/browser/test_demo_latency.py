"""The demo as `make demo` runs it: the simulator at Smartcar's latency compressed to the demo's default scale
(the other browser tests switch it off), a Refresh that shows pending, then the car's data, and no page of the
dashboard waiting on a car that takes a minute to answer.

This module starts its own demo site, without the suite's ``SIMULATOR_LATENCY_SCALE=0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.processes import wait_until

from .conftest import PAGE_TIMEOUT_MS, DemoSite, run_demo_site
from .flows import connect_car, data_row, vehicle_card

CAR_MS = 60_000
PAGE_WAIT_MS = 10_000
DEMO_SCALE_BANNER = "The simulator answers with Smartcar's latency at 0.02 of real time"


@pytest.fixture(scope="module")
def default_demo_site() -> Iterator[DemoSite]:
    # v2.0, like the other modules that find a car by the VIN Connect showed (V3 reports it with the first signals).
    with run_demo_site("demo-latency-", demo_latency=True, api_version="2.0") as site:
        yield site


@pytest.fixture
def demo_page(browser: Browser, default_demo_site: DemoSite) -> Iterator[Page]:
    context = browser.new_context(
        base_url=default_demo_site.base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()
    tab.goto("/accounts/sign-in/")
    tab.get_by_label("Username").fill(default_demo_site.username)
    tab.get_by_label("Password").fill(default_demo_site.password)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", name="Your cars")).to_be_visible()
    yield tab
    context.close()


def test_at_the_demos_latency_a_refresh_shows_pending_then_the_cars_data(
    demo_page: Page, default_demo_site: DemoSite
):
    assert DEMO_SCALE_BANNER in default_demo_site.log_path.read_text(errors="replace")
    email = "latency-demo@example.com"
    seeded = default_demo_site.simulator_control("POST", "seed", count=1, seed=0, email=email, make="TOYOTA")
    vehicle = seeded["vehicles"][0]
    assert connect_car(demo_page, email) == vehicle["vin"]
    # The read takes what the model says at 0.02 of real time; this car's next answer also waits 3 s more, so
    # the dashboard is sure to come back before it (as it does at real time, where a read takes 3-45 s).
    default_demo_site.simulator_control(
        "POST", "faults", kind="latency", latency_ms=3000, vehicle_id=vehicle["id"], remaining=1
    )

    vehicle_card(demo_page, vehicle["vin"]).get_by_role("button", name="Refresh").click()

    expect(demo_page.get_by_role("status")).to_contain_text("Refresh queued.")
    refresh = vehicle_card(demo_page, vehicle["vin"]).locator(".last-refresh")
    expect(refresh).to_have_attribute("data-refresh-status", "pending")
    expect(refresh).to_contain_text(re.compile(r"Refreshing\.\.\. \(queued \d\d:\d\d\)"))
    # The page reloads itself until the worker has read the car.
    expect(refresh).to_have_attribute("data-refresh-status", "succeeded")
    expect(data_row(vehicle_card(demo_page, vehicle["vin"]), "odometer")).to_have_text(
        re.compile(r"^[\d,]+\s+km$")
    )


def test_no_dashboard_page_waits_on_a_car_that_takes_a_minute(demo_page: Page, default_demo_site: DemoSite):
    site = default_demo_site
    email = "minute-car@example.com"
    vehicle = site.simulator_control("POST", "seed", count=1, seed=0, email=email, make="TESLA")["vehicles"][
        0
    ]
    connect_car(demo_page, email)
    # From now on every call about this car waits a minute (far beyond each page's 10 s below).
    site.simulator_control("POST", "faults", kind="latency", latency_ms=CAR_MS, vehicle_id=vehicle["id"])
    demo_page.set_default_timeout(PAGE_WAIT_MS)
    demo_page.set_default_navigation_timeout(PAGE_WAIT_MS)

    for button in ("Refresh", "Lock"):
        vehicle_card(demo_page, vehicle["vin"]).get_by_role("button", name=button, exact=True).click()
        expect(demo_page.get_by_role("status")).to_contain_text(f"{button} queued.")
    card = vehicle_card(demo_page, vehicle["vin"])
    expect(card.locator(".last-refresh")).to_have_attribute("data-refresh-status", "pending")
    expect(card.locator(".last-command")).to_have_attribute("data-command-status", "pending")
    assert demo_page.goto("/").ok
    listed = demo_page.request.get("/api/smartcar/vehicles/", timeout=PAGE_WAIT_MS)
    assert listed.ok
    (row,) = [row for row in listed.json()["results"] if row["vin"] == vehicle["vin"]]
    assert demo_page.request.get(f"/api/smartcar/vehicles/{row['id']}/", timeout=PAGE_WAIT_MS).ok

    # Meanwhile the worker, not a page, has sent the car its requests (counted by the simulator as they arrive,
    # before their minute), and is still waiting on them: the dashboard shows both pending.
    def worker_reached_the_car() -> bool:
        rows = site.simulator_control("GET", f"requests?vehicle_id={vehicle['id']}")["requests"]
        return any(row["method"] == "POST" and row["path"].strip("/") == "batch" for row in rows)

    wait_until(worker_reached_the_car, "The worker's refresh of the car", timeout=PAGE_WAIT_MS / 1000)
    demo_page.reload()
    expect(card.locator(".last-refresh")).to_have_attribute("data-refresh-status", "pending")
