"""What a person does on the demo site, step by step, shared by the browser tests.

Tests share one running site (one demo user), so each connects cars of its own simulated Smartcar user
(a unique email) and looks only at those cars.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

from .conftest import DemoSite


def unique_email(purpose: str) -> str:
    return f"{purpose}-{uuid.uuid4().hex[:10]}@example.com"


def seed_car(site: DemoSite, email: str, make: str) -> str:
    """A simulated car of ``make`` for the Smartcar user ``email`` (through the simulator's control API); its VIN."""
    return seed_vehicle(site, email, make)["vin"]


def seed_vehicle(site: DemoSite, email: str, make: str) -> dict:
    """``seed_car``'s car as the simulator describes it: ``id`` (its Smartcar vehicle id), ``vin``, ``userId``..."""
    answer = site.simulator_control("POST", "seed", count=1, seed=0, email=email, make=make)
    return answer["vehicles"][0]


def go_through_connect(page: Page, email: str, *, approve: bool = True) -> list[str]:
    """On Smartcar Connect (the simulator's pages): any brand, sign in as ``email``, then Allow or Deny.

    Returns the VINs the grant page offered.
    """
    page.get_by_role("button", name="Any brand").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    # all_inner_texts() does not wait: on a loaded machine it could read the sign-in page's (no) labels.
    grant = page.locator("form[data-step=grant]")
    expect(grant).to_be_visible()
    offered = grant.locator("label").all_inner_texts()
    vins = [re.search(r"VIN (\w{17})", label).group(1) for label in offered]
    page.get_by_role("button", name="Allow" if approve else "Deny").click()
    return vins


def connect_car(page: Page, email: str) -> str:
    """From the dashboard, connect the one car of ``email`` and come back to the dashboard; its VIN."""
    page.goto("/")
    page.get_by_role("button", name="Connect a car").click()
    (vin,) = go_through_connect(page, email)
    expect(page.get_by_role("status")).to_contain_text("Connected 1 vehicle through Smartcar.")
    return vin


def vehicle_card(page: Page, vin: str) -> Locator:
    return page.locator(f"article.vehicle[data-vin='{vin}']")


def vehicle_card_by_id(page: Page, smartcar_id: str) -> Locator:
    """A car's card by its Smartcar vehicle id: what an API V3 car is known by until its first signals bring the
    VIN."""
    return page.locator(f"article.vehicle[data-smartcar-id='{smartcar_id}']")


def account_section(page: Page, vin: str) -> Locator:
    """The dashboard's section of the Smartcar connection that holds the car with ``vin``."""
    return page.locator("section.account").filter(has=vehicle_card(page, vin))


def data_row(card: Locator, field: str) -> Locator:
    return card.locator(f"dd[data-field='{field}']")


# What a car's card says of its latest refresh and command once a worker has recorded the outcome.
DONE = re.compile(r"^(succeeded|failed)$")
# How long the demo's worker may take to record one: its 4 threads share CI's two cores with the rest of the
# suite (beat's first poll round of every demo car among them), so a page's usual time-out is too short.
WORKER_OUTCOME_MS = 45_000


def refresh_car(page: Page, vin: str) -> Locator:
    """Press the car's Refresh: queued at once ("Refresh queued"), then the dashboard reloads itself until the
    worker has read the car. Returns the card as it then is."""
    return refresh_card(page, vehicle_card(page, vin))


def refresh_card(page: Page, card: Locator) -> Locator:
    """``refresh_car`` for a card found another way (``vehicle_card_by_id``)."""
    card.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("status")).to_contain_text("Refresh queued.")
    expect(card.locator(".last-refresh")).to_have_attribute(
        "data-refresh-status", DONE, timeout=WORKER_OUTCOME_MS
    )
    return card


def send_command(page: Page, vin: str, button: str) -> Locator:
    """Press the car's Lock or Unlock: queued at once, then shown pending until the worker has the car's answer.
    Returns the card as it then is."""
    return send_card_command(page, vehicle_card(page, vin), button)


def send_card_command(page: Page, card: Locator, button: str) -> Locator:
    """``send_command`` for a card found another way (``vehicle_card_by_id``)."""
    card.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"{button} queued.")
    expect(card.locator(".last-command")).to_have_attribute(
        "data-command-status", DONE, timeout=WORKER_OUTCOME_MS
    )
    return card
