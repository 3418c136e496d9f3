"""The dashboard at a phone's and a desktop's width, and what it says about connections, makes and places."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from .conftest import DemoSite
from .flows import (
    account_section,
    connect_car,
    data_row,
    go_through_connect,
    refresh_car,
    seed_car,
    unique_email,
    vehicle_card,
)

# This module's site connects cars through Smartcar API v2.0 (the demo's default is V3, see test_connect_v3.py):
# its tests find each car by the VIN Connect showed, which v2 reads at Connect and V3 only with the first signals.
DEMO_API_VERSION = "2.0"

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Every box that sticks out of the card (or connection) holding it, and the page's own horizontal overflow.
# Half a pixel of slack for sub-pixel rounding.
OVERFLOWS_JS = """
() => {
  const slack = 0.5;
  const problems = [];
  const describe = (element) => {
    const text = (element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 40);
    return `${element.tagName.toLowerCase()}${element.className ? "." + element.className : ""} "${text}"`;
  };
  const outside = (inner, outer) =>
    inner.left < outer.left - slack || inner.right > outer.right + slack;
  const check = (container, selector, what) => {
    const box = container.getBoundingClientRect();
    for (const element of container.querySelectorAll(selector)) {
      const rect = element.getBoundingClientRect();
      if (rect.width === 0 && rect.height === 0) continue;
      if (outside(rect, box) || rect.width > box.width + slack) {
        problems.push(`${describe(element)} [${Math.round(rect.left)}..${Math.round(rect.right)}] `
          + `is outside its ${what} [${Math.round(box.left)}..${Math.round(box.right)}]`);
      }
    }
  };
  const sections = [...document.querySelectorAll("section.account")];
  let cards = 0;
  for (const section of sections) {
    check(section, "*", "connection card");
    for (const card of section.querySelectorAll("article.vehicle")) {
      cards += 1;
      check(card, "*", "car card");
    }
  }
  return {
    problems,
    sections: sections.length,
    cards,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
}
"""


def connect_and_refresh_the_demo_cars(page: Page) -> list[str]:
    """driver@example.com's four cars (two Teslas, a Toyota, a BMW), connected and each refreshed once."""
    page.get_by_role("button", name="Connect a car").click()
    vins = go_through_connect(page, "driver@example.com")
    assert len(vins) == 4
    for vin in vins:
        expect(refresh_car(page, vin).locator(".last-refresh")).to_contain_text("refreshed")
    return vins


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_card_overflows_its_connection(page: Page, demo_site: DemoSite, tmp_path: Path, viewport: dict):
    vins = connect_and_refresh_the_demo_cars(page)
    page.set_viewport_size(viewport)
    page.goto("/")
    for vin in vins:
        expect(data_row(vehicle_card(page, vin), "location")).to_be_visible()

    screenshot = tmp_path / f"dashboard-{viewport['width']}.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE) and screenshot.stat().st_size > 1000

    layout = page.evaluate(OVERFLOWS_JS)
    assert layout["sections"] >= 1 and layout["cards"] >= 4
    assert layout["problems"] == []
    assert layout["scrollWidth"] <= layout["innerWidth"]


def test_a_connection_is_named_by_who_connected_it_and_its_makes(page: Page, demo_site: DemoSite):
    vins = connect_and_refresh_the_demo_cars(page)

    section = account_section(page, vins[0])
    expect(section.get_by_role("heading", level=2)).to_have_text("demo's BMW, Tesla and Toyota connection")
    expect(section.locator(".account-head p")).to_contain_text(re.compile(r"Connected on \d{1,2} \w+ \d{4}"))
    expect(section.locator("article.vehicle h3")).to_have_text(
        [
            re.compile(r"^\d{4} BMW 330i$"),
            re.compile(r"^\d{4} Tesla Model"),
            re.compile(r"^\d{4} Tesla Model"),
            re.compile(r"^\d{4} Toyota Camry$"),
        ]
    )


def test_a_location_links_to_openstreetmap(page: Page, demo_site: DemoSite):
    email = unique_email("map")
    vin = seed_car(demo_site, email, "TOYOTA")
    connect_car(page, email)
    refresh_car(page, vin)

    link = data_row(vehicle_card(page, vin), "location").get_by_role("link")
    expect(link).to_have_text(re.compile(r"^-?\d+\.\d{4}, -?\d+\.\d{4}$"))
    shown = [float(number) for number in link.inner_text().split(", ")]
    url = urlsplit(link.get_attribute("href"))
    assert (url.scheme, url.netloc, url.path) == ("https", "www.openstreetmap.org", "/")
    query = parse_qs(url.query)
    marker = [float(query["mlat"][0]), float(query["mlon"][0])]
    assert url.fragment == f"map=16/{query['mlat'][0]}/{query['mlon'][0]}"
    # The page shows the coordinates rounded; the marker is where the car is.
    assert marker == pytest.approx(shown, abs=0.00005 + 1e-9)
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))


def test_no_page_load_asks_for_something_missing(page: Page, anonymous_page: Page, demo_site: DemoSite):
    """The sign-in page, the dashboard, the admin and the API docs load without a single 4xx or 5xx, their icons
    included."""
    failed: list[str] = []

    def record(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    log_start = demo_site.log_path.stat().st_size
    for tab in (anonymous_page, page):
        tab.on("response", record)
    icons = []
    for tab, path in (
        (anonymous_page, "/accounts/sign-in/"),
        (page, "/"),
        (page, "/admin/"),
        (page, "/api/docs/"),
    ):
        tab.goto(path)
        tab.wait_for_load_state("networkidle")
        # A browser asks for the icon the page names, or for /favicon.ico when it names none (as the admin).
        named = tab.locator("link[rel~=icon]").evaluate_all("links => links.map(link => link.href)")
        icons.append(named[0] if named else "/favicon.ico")
        icon = tab.request.get(icons[-1])
        assert icon.ok, f"{path}: its icon {icon.url} is a {icon.status}"
        assert icon.headers["content-type"].startswith("image/")
    assert "/favicon.ico" in icons and any(icon.endswith(".svg") for icon in icons)
    assert failed == []
    # The browser's own icon requests do not always reach Playwright's events; the site's log has every request.
    log = demo_site.log_path.read_bytes()[log_start:].decode(errors="replace")
    assert not re.findall(r'"[A-Z]+ [^"]*" [45]\d\d ', log)
