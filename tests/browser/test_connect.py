"""Signing in and connecting cars through the simulated Smartcar Connect, as in `make demo`."""

import re

from playwright.sync_api import Page, expect

from .conftest import DemoSite
from .flows import account_section, go_through_connect, unique_email, vehicle_card

# This module's site connects cars through Smartcar API v2.0 (the demo's default is V3, see test_connect_v3.py):
# its tests find each car by the VIN Connect showed, which v2 reads at Connect and V3 only with the first signals.
DEMO_API_VERSION = "2.0"


def test_the_garage_needs_a_signed_in_user(anonymous_page: Page, demo_site: DemoSite):
    anonymous_page.goto("/")
    expect(anonymous_page).to_have_url(re.compile(r"/accounts/sign-in/\?next=/$"))
    # The demo says how to get in.
    expect(anonymous_page.locator(".hint")).to_contain_text("demo")

    anonymous_page.get_by_label("Username").fill(demo_site.username)
    anonymous_page.get_by_label("Password").fill("not the password")
    anonymous_page.get_by_role("button", name="Sign in").click()
    expect(anonymous_page.get_by_role("alert")).to_contain_text("do not match")

    anonymous_page.get_by_label("Password").fill(demo_site.password)
    anonymous_page.get_by_role("button", name="Sign in").click()
    expect(anonymous_page).to_have_url(f"{demo_site.base_url}/")
    expect(anonymous_page.get_by_role("button", name="Connect a car")).to_be_visible()
    expect(anonymous_page.get_by_role("link", name="Admin", exact=True)).to_have_attribute("href", "/admin/")
    expect(anonymous_page.get_by_role("link", name="API docs", exact=True)).to_have_attribute(
        "href", "/api/docs/"
    )

    anonymous_page.get_by_role("button", name=f"Sign out {demo_site.username}").click()
    expect(anonymous_page).to_have_url(re.compile(r"/accounts/sign-in/$"))
    anonymous_page.goto("/")
    expect(anonymous_page).to_have_url(re.compile(r"/accounts/sign-in/"))


def test_connecting_the_demo_cars_shows_them_on_the_dashboard(page: Page, demo_site: DemoSite):
    page.get_by_role("button", name="Connect a car").click()
    # The seeded demo cars wait in the simulator for this driver.
    vins = go_through_connect(page, "driver@example.com")

    assert len(vins) == 4
    expect(page).to_have_url(f"{demo_site.base_url}/")
    expect(page.get_by_role("status")).to_contain_text("Connected 4 vehicles through Smartcar.")
    section = account_section(page, vins[0])
    expect(section.locator("article.vehicle")).to_have_count(4)
    for vin in vins:
        expect(section.locator(f"article.vehicle[data-vin='{vin}']")).to_be_visible()
    expect(section.locator("article.vehicle h3")).to_contain_text(
        [re.compile("BMW 330i"), re.compile("Tesla"), re.compile("Tesla"), re.compile("Toyota Camry")]
    )
    expect(section.locator(".badge")).to_have_text("Active")
    # This site makes v2.0 connections (SMARTCAR_API_VERSION=2.0), and says so.
    expect(section.locator(".api-version")).to_have_text("Smartcar API v2.0")
    assert "New connections use Smartcar API v2.0" in demo_site.log_path.read_text(errors="replace")
    # Nothing has been read from the cars yet, and the page says how to get it.
    expect(section.get_by_text("No data yet")).to_have_count(4)


def test_denying_consent_says_so_and_connects_nothing(page: Page, demo_site: DemoSite):
    page.get_by_role("button", name="Connect a car").click()
    (vin,) = go_through_connect(page, unique_email("denies"), approve=False)

    expect(page.get_by_role("heading", name="Vehicle not connected")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "You did not allow access to your vehicle, so nothing was connected."
    )
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Your cars")).to_be_visible()
    expect(vehicle_card(page, vin)).to_have_count(0)


def test_the_api_docs_render_without_network(page: Page, demo_site: DemoSite):
    """Swagger UI's files come from drf-spectacular-sidecar, so the docs render on a machine with no internet."""
    page.get_by_role("link", name="API docs", exact=True).click()
    expect(page).to_have_url(f"{demo_site.base_url}/api/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("django-smartcar example API")
    expect(page.get_by_text("/api/smartcar/vehicles/", exact=True).first).to_be_visible()
