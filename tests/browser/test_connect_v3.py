"""A car connected through Smartcar API V3, the demo's default for new connections: Connect's redirect brings the
user id, the account keeps it and no token, Refresh reads every signal the car reports in one V3 request, and
Lock goes through V3's unified commands, queued, pending, then done, as for a v2 car."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Request, expect

from .conftest import DemoSite
from .flows import (
    data_row,
    go_through_connect,
    refresh_card,
    send_card_command,
    vehicle_card_by_id,
)

# No DEMO_API_VERSION: this module's site connects cars as `make demo` does, through API V3 by default.

# A parked (its odometer stays put between two reads), unlocked Tesla: the simulator seeds the same car for the
# same seed, email and make.
EMAIL = "v3-driver@example.com"
SEED = 7


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# How wide the signals' scrolling box is against its card, and the page against the window.
FITS_JS = """
(details) => ({
  table: details.querySelector(".table-scroll").getBoundingClientRect().width,
  card: details.closest("article.vehicle").getBoundingClientRect().width,
  page: document.documentElement.scrollWidth,
  window: window.innerWidth,
})
"""


def whole_km(value: float) -> str:
    """An odometer as the dashboard writes it (``floatformat:"0g"``): whole kilometres, thousands separated."""
    return f"{Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def test_a_car_connected_through_v3_shows_its_signals_and_locks_through_v3(page: Page, demo_site: DemoSite):
    seeded = demo_site.simulator_control("POST", "seed", count=1, seed=SEED, email=EMAIL, make="TESLA")
    vehicle = seeded["vehicles"][0]
    callbacks: list[str] = []

    def note_callback(request: Request) -> None:
        if "/smartcar/callback/" in request.url:
            callbacks.append(request.url)

    page.on("request", note_callback)

    page.get_by_role("button", name="Connect a car").click()
    assert go_through_connect(page, EMAIL) == [vehicle["vin"]]

    expect(page.get_by_role("status")).to_contain_text("Connected 1 vehicle through Smartcar.")
    # Connect came back with the Smartcar user's id (V3), besides the code and state v2 sites use.
    (callback,) = callbacks
    user_id = parse_qs(urlsplit(callback).query)["user_id"][0]
    assert user_id == vehicle["userId"]
    card = vehicle_card_by_id(page, vehicle["id"])
    expect(card.locator("h3")).to_contain_text("Tesla")
    section = page.locator("section.account").filter(has=card)
    expect(section).to_have_attribute("data-api-version", "3")
    expect(section.locator(".api-version")).to_have_text("Smartcar API V3")
    # V3 gives the VIN with the car's first signals, not at Connect.
    expect(card.locator(".vin")).to_have_text("VIN not read yet")
    expect(card.get_by_text("No data yet")).to_be_visible()
    expect(card.locator("details.signals")).to_have_count(0)

    # The admin shows the account as V3, with the Smartcar user id and no token (no expiry to show).
    page.goto(f"/admin/django_smartcar/smartcaraccount/?q={user_id}")
    (row,) = [page.locator("#result_list tbody tr")]
    expect(row).to_have_count(1)
    expect(row.locator("td.field-api_version")).to_have_text("V3")
    expect(row.locator("td.field-access_expires_at")).to_have_text("-")
    expect(row.locator("td.field-refresh_expires_at")).to_have_text("-")

    page.goto("/")
    card = refresh_card(page, card)

    expect(card.locator(".last-refresh")).to_contain_text("Last refresh: refreshed")
    expect(card.locator(".last-refresh")).to_have_attribute("data-refresh-status", "succeeded")
    reported = demo_site.v3_signals(vehicle["id"], user_id)
    odometer = reported["odometer-traveleddistance"]["body"]
    # The typed data comes from the signals: the odometer the simulator reports, the doors as they are.
    expect(data_row(card, "odometer")).to_have_text(
        re.compile(rf"^{re.escape(whole_km(odometer['value']))}\s+km$")
    )
    assert reported["closure-islocked"]["body"] == {"value": False}
    expect(data_row(card, "lock")).to_have_text("Unlocked")
    expect(card.locator(".vin")).to_have_text(f"VIN {vehicle['vin']}")
    # Every signal the car reports is on its card, each with its value as reported.
    signals = card.locator("details.signals")
    expect(signals).to_have_attribute("data-signal-count", str(len(reported)))
    signals.locator("summary").click()
    odometer_row = signals.locator("tr[data-signal='odometer-traveleddistance']")
    expect(odometer_row.locator("th")).to_have_text("Odometer TraveledDistance")
    expect(odometer_row.locator("td").first).to_have_text(f"{odometer['value']} {odometer['unit']}")
    expect(odometer_row).to_have_attribute("data-signal-status", "SUCCESS")
    expect(signals.locator("tr[data-signal='closure-islocked'] td").first).to_have_text("false")
    expect(signals.locator("tr[data-signal='tractionbattery-stateofcharge']")).to_have_attribute(
        "data-signal-status", "SUCCESS"
    )
    shown = signals.locator("tr[data-signal]").evaluate_all("rows => rows.map(row => row.dataset.signal)")
    assert sorted(shown) == sorted(reported)
    # At a phone's width the open table (long values such as the doors' grid) scrolls inside its card: neither
    # the card nor the page grows wider.
    page.set_viewport_size(PHONE)
    layout = signals.evaluate(FITS_JS)
    assert layout["table"] <= layout["card"] + 0.5 and layout["page"] <= layout["window"], layout
    page.set_viewport_size(DESKTOP)

    # Lock: queued at once; the car takes 2 s to answer, so the card shows it pending, then the result.
    demo_site.simulator_control(
        "POST", "faults", kind="latency", latency_ms=2000, vehicle_id=vehicle["id"], remaining=1
    )
    card.get_by_role("button", name="Lock", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Lock queued.")
    command = card.locator(".last-command")
    expect(command).to_have_attribute("data-command-status", "pending")
    expect(command).to_contain_text(re.compile(r"Locking\.\.\. \(queued \d\d:\d\d\)"))
    expect(command).to_contain_text("Last command: Lock succeeded")
    # The simulated car itself is locked: the next read says so, in the typed field and in its signal.
    card = refresh_card(page, card)
    expect(data_row(card, "lock")).to_have_text("Locked")
    card.locator("details.signals summary").click()
    expect(card.locator("tr[data-signal='closure-islocked'] td").first).to_have_text("true")
    assert demo_site.v3_signals(vehicle["id"], user_id)["closure-islocked"]["body"] == {"value": True}

    # Everything went through API V3: one signals read per Refresh, the lock as a unified command, nothing v2.
    counts = demo_site.simulator_control("GET", f"requests?vehicle_id={vehicle['id']}")["requests"]
    sent = {(entry["method"], entry["path"]): entry["count"] for entry in counts}
    assert sent[("POST", f"/v3/vehicles/{vehicle['id']}/commands/security/lock")] == 1
    # Two Refreshes and the test's own two reads.
    assert sent[("GET", f"/v3/vehicles/{vehicle['id']}/signals")] == 4
    assert all(path.startswith("/v3/") for _, path in sent), sent


def test_unlock_and_disconnect_go_through_v3(page: Page, demo_site: DemoSite):
    email = "v3-unlock@example.com"
    seeded = demo_site.simulator_control("POST", "seed", count=1, seed=0, email=email, make="TESLA")
    vehicle = seeded["vehicles"][0]
    page.get_by_role("button", name="Connect a car").click()
    go_through_connect(page, email)
    expect(page.get_by_role("status")).to_contain_text("Connected 1 vehicle through Smartcar.")
    card = vehicle_card_by_id(page, vehicle["id"])

    card = send_card_command(page, card, "Unlock")

    expect(card.locator(".last-command")).to_contain_text("Last command: Unlock succeeded")
    expect(data_row(refresh_card(page, card), "lock")).to_have_text("Unlocked")
    counts = demo_site.simulator_control("GET", f"requests?vehicle_id={vehicle['id']}")["requests"]
    assert [(entry["method"], entry["path"]) for entry in counts if entry["method"] == "POST"] == [
        ("POST", f"/v3/vehicles/{vehicle['id']}/commands/security/unlock")
    ]

    card.get_by_role("button", name="Disconnect", exact=True).click()

    expect(card).to_have_count(0)
    # Smartcar's connection is gone too (the connections API of V3).
    connections = demo_site.v3_get("connections", params={"filter[vehicleId]": vehicle["id"]})
    assert connections["data"] == []
