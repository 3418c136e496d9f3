"""Browser tests against the example project, started as `make demo` starts it, driven by Chromium.

The site runs in a subprocess (``manage.py rundemo``, with its Celery worker: refreshes and commands run in
the background) with its own SQLite database, encryption key and Celery folder in a temporary directory, on a
free 127.0.0.1 port, whatever DATABASE_URL or CELERY_BROKER_URL the suite itself runs with. Connecting a car
does not read it (DEMO_REFRESH_ON_CONNECT off), so each test decides when a car is read. The tests only look
at what a person would see: pages, never the ORM (Playwright's event loop and Django's async-safety check do not mix in one thread).

A failed test leaves a screenshot and the page's HTML in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.processes import answers, free_port, launch, stop, wait_until

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"
CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 60.0
# Every wait in a page: generous for a loaded CI machine, short enough that a hang fails fast.
PAGE_TIMEOUT_MS = 15_000
ARTIFACTS_FOLDER = "test-artifacts"

# Whatever the suite runs with, the site gets its own database and broker; these are the site's own settings.
SITE_ENVIRONMENT_OVERRIDES = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "USE_SIMULATOR")


@dataclass(frozen=True)
class DemoSite:
    base_url: str
    log_path: Path
    # The demo's documented credentials and its simulated Smartcar application's management token and API V3
    # credentials (example_project/settings.py).
    username: str = "demo"
    password: str = "demo"
    management_token: str = "demo-management-token"
    api_client_id: str = "client_demo"
    api_client_secret: str = "demo-api-client-secret"

    def simulator_control(self, method: str, path: str, **json: object) -> dict:
        """Call the simulator's control API (``/simulator/_simulator/...``), as a test script would."""
        response = requests.request(
            method,
            f"{self.base_url}/simulator/_simulator/{path}",
            json=json or None,
            headers={"Authorization": f"Bearer {self.management_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def v3_get(self, path: str, *, user_id: str | None = None, params: dict | None = None) -> dict:
        """``GET /v3/{path}`` on the simulator's Vehicle API V3 as an outside client: the demo application's token
        from IAM, with ``sc-user-id`` when ``user_id`` is given."""
        token = requests.post(
            f"{self.base_url}/simulator/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.api_client_id,
                "client_secret": self.api_client_secret,
            },
            timeout=10,
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        if user_id is not None:
            headers["sc-user-id"] = user_id
        response = requests.get(
            f"{self.base_url}/simulator/v3/{path}", headers=headers, params=params, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def v3_signals(self, vehicle_id: str, user_id: str) -> dict[str, dict]:
        """The vehicle's signals by code (their attributes), as the simulator's Vehicle API V3 reports them."""
        answer = self.v3_get(f"vehicles/{vehicle_id}/signals", user_id=user_id)
        return {signal["attributes"]["code"]: signal["attributes"] for signal in answer["data"]}

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def worker_log_tail(self, lines: int = 40) -> str:
        """The end of the Celery worker's log (rundemo writes it to VAR_DIR/celery.log)."""
        path = self.log_path.with_name("celery.log")
        text = path.read_text(errors="replace") if path.exists() else "(no worker log)"
        return "\n".join(text.splitlines()[-lines:])


def site_environment(folder: Path, base_url: str, api_version: str | None = None) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in SITE_ENVIRONMENT_OVERRIDES and not key.startswith("SMARTCAR_")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        VAR_DIR=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        SITE_URL=base_url,
        DEMO_REFRESH_ON_CONNECT="0",
        PYTHONUNBUFFERED="1",
        SIMULATOR_LATENCY_SCALE="0",  # the demo's compressed Smartcar latency, off: tests set their own
    )
    if api_version is not None:
        # The API new connections use; without it the demo's default (V3). The modules written for v2's Connect
        # (the VIN read at connect time) ask for "2.0", as tests/settings.py keeps the v2 suite on v2.
        environment["SMARTCAR_API_VERSION"] = api_version
    return environment


@contextmanager
def run_demo_site(
    prefix: str = "demo-site-", *, demo_latency: bool = False, api_version: str | None = None
) -> Iterator[DemoSite]:
    """``manage.py rundemo`` on a free port with its own folder, stopped after. ``demo_latency``: the simulator
    answers at the demo's own compressed Smartcar latency instead of at once. ``api_version``: the Smartcar API
    new connections use (``SMARTCAR_API_VERSION``: "2.0" or "3"); None keeps the demo's default (V3)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        folder = Path(name)
        log_path = folder / "site.log"
        environment = site_environment(folder, base_url, api_version)
        if demo_latency:
            del environment["SIMULATOR_LATENCY_SCALE"]
        process = launch(
            [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}"],
            log_path,
            cwd=EXAMPLE_PROJECT,
            env=environment,
        )
        try:
            wait_until(
                lambda: answers(f"{base_url}/accounts/sign-in/", status=200),
                "The example project",
                process=process,
                log_path=log_path,
                timeout=START_TIMEOUT,
                interval=0.2,
            )
            yield DemoSite(base_url=base_url, log_path=log_path)
        finally:
            stop(process, timeout=10)


@pytest.fixture(scope="module")
def demo_site(request: pytest.FixtureRequest) -> Iterator[DemoSite]:
    # One site per test module: the modules' tests connect the same seeded demo cars, and a module must find
    # them as its own tests expect, whichever modules ran before it in the same test process.
    # A module's DEMO_API_VERSION picks the Smartcar API its site connects cars with ("2.0" or "3"; the demo's
    # default, V3, when it names none): both APIs stay demonstrable.
    with run_demo_site(api_version=getattr(request.module, "DEMO_API_VERSION", None)) as site:
        yield site


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope: Playwright's event loop must be gone before tests that use the ORM run.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        expect.set_options(timeout=PAGE_TIMEOUT_MS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    # Keeps each phase's report on the test, so the page fixture knows whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def signed_in_state(browser: Browser, demo_site: DemoSite) -> dict:
    """The cookies of the demo user's session, signed in once through the sign-in page (hashing the password
    is slow on purpose, so each test does not pay for it again)."""
    context = browser.new_context(base_url=demo_site.base_url)
    tab = context.new_page()
    tab.goto("/accounts/sign-in/")
    tab.get_by_label("Username").fill(demo_site.username)
    tab.get_by_label("Password").fill(demo_site.password)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", name="Your cars")).to_be_visible()
    state = context.storage_state()
    context.close()
    return state


@contextmanager
def open_page(
    browser: Browser, demo_site: DemoSite, request: pytest.FixtureRequest, storage_state: dict | None
) -> Iterator[Page]:
    """A fresh browser context on the demo site; its screenshot and HTML are kept if the test fails."""
    context = browser.new_context(
        base_url=demo_site.base_url, viewport={"width": 1280, "height": 900}, storage_state=storage_state
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        folder = request.config.rootpath / ARTIFACTS_FOLDER
        folder.mkdir(exist_ok=True)
        stem = request.node.name.replace("/", "_")
        tab.screenshot(path=str(folder / f"{stem}.png"), full_page=True)
        (folder / f"{stem}.html").write_text(tab.content())
        print(f"Saved {folder / stem}.png and .html; the site's log ends with:\n{demo_site.log_tail()}")
        print(f"The worker's log ends with:\n{demo_site.worker_log_tail()}")
    context.close()


@pytest.fixture
def anonymous_page(browser: Browser, demo_site: DemoSite, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A visitor who is not signed in."""
    with open_page(browser, demo_site, request, storage_state=None) as tab:
        yield tab


@pytest.fixture
def page(
    browser: Browser, demo_site: DemoSite, signed_in_state: dict, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """The demo user, signed in, on the dashboard."""
    with open_page(browser, demo_site, request, storage_state=signed_in_state) as tab:
        tab.goto("/")
        yield tab
