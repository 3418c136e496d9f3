"""Credentials in a configured Smartcar origin (``http://user:secret@host``) are never reported: not in exception
messages, stored error texts, API answers, admin pages or logs, whether the origin is down or answering."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import Client

from django_smartcar import client
from django_smartcar.client.redaction import redact_text, redact_url
from django_smartcar.models import VehicleCommand
from django_smartcar.services.clients import get_origins, get_transport
from django_smartcar.services.commands import describe_failure
from django_smartcar.services.tokens import mark_reauth_required, rotate_tokens
from django_smartcar.simulator import faults

from ..processes import free_port
from .conftest import connect_through_views, start_connect

ORIGIN_SECRET = "origin-pass-7f3a9c"
API = "/api/smartcar"


def with_credentials(base_url: str) -> str:
    scheme, rest = base_url.split("://", 1)
    return f"{scheme}://smartcar-user:{ORIGIN_SECRET}@{rest}"


def use_origin(settings, base_url: str) -> None:
    origin = with_credentials(base_url)
    settings.SMARTCAR = {
        **settings.SMARTCAR,
        "CONNECT_ORIGIN": origin,
        "AUTH_ORIGIN": f"{origin}/oauth/token",
        "API_ORIGIN": origin,
        "MANAGEMENT_API_ORIGIN": origin,
        "REQUEST_TIMEOUT": 2,
        # Failing token exchanges are not what this is about: no need to repeat them for 25 seconds.
        "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=1),
    }


@pytest.fixture
def admin_browser(django_user_model) -> Client:
    admin_client = Client()
    admin_client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return admin_client


def admin_action(admin_client: Client, url: str, action: str, objects: list) -> str:
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], "confirm": "yes"}
    response = admin_client.post(url, data, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def everything_logged(caplog) -> str:
    """Every captured record as a handler would write it, tracebacks (with their chained causes) included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def exercise_every_reporting_path(account, browser, admin_browser) -> list[str]:
    """Make the app fail through each adapter; return every text it reported."""
    reported: list[str] = []
    vehicle = account.vehicles.first()

    with pytest.raises(client.SmartcarException) as raised:
        rotate_tokens(account, force=True)
    reported += [str(raised.value), repr(raised.value), raised.value.description or ""]
    account.refresh_from_db()
    assert account.last_refresh_error  # the failure was recorded...
    reported.append(account.last_refresh_error)

    refreshed = browser.post(f"{API}/vehicles/{vehicle.pk}/refresh/?async=0")
    assert refreshed.status_code >= 400  # ...and answered, as a failure
    locked = browser.post(f"{API}/vehicles/{vehicle.pk}/lock/?async=0")
    reported += [refreshed.content.decode(), locked.content.decode()]
    command = VehicleCommand.objects.filter(vehicle=vehicle).latest("pk")
    assert command.status == VehicleCommand.Status.FAILED
    reported += [command.error_message, browser.get(f"{API}/commands/{command.pk}/").content.decode()]
    reported.append(browser.get(f"{API}/accounts/{account.pk}/").content.decode())
    reported.append(browser.get(f"{API}/connect-url/").content.decode())

    reported.append(admin_action(admin_browser, "/admin/django_smartcar/vehicle/", "refresh_data", [vehicle]))
    reported.append(admin_action(admin_browser, "/admin/django_smartcar/vehicle/", "lock", [vehicle]))
    reported.append(
        admin_action(admin_browser, "/admin/django_smartcar/smartcaraccount/", "rotate_tokens", [account])
    )
    for page in (
        f"/admin/django_smartcar/smartcaraccount/{account.pk}/change/",
        "/admin/django_smartcar/smartcaraccount/",
        f"/admin/django_smartcar/vehiclecommand/{command.pk}/change/",
    ):
        response = admin_browser.get(page)
        assert response.status_code == 200
        reported.append(response.content.decode())
    reported += [repr(get_origins()), repr(get_transport())]
    return reported


def test_an_unreachable_origin_with_credentials_is_never_reported(
    account, browser, admin_browser, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    use_origin(settings, f"http://127.0.0.1:{free_port()}")  # nothing listens there

    reported = exercise_every_reporting_path(account, browser, admin_browser)

    assert any("Could not connect to Smartcar" in text for text in reported)  # the URL was named, redacted
    assert any("***@127.0.0.1" in text for text in reported)
    leaked = [text for text in [*reported, everything_logged(caplog)] if ORIGIN_SECRET in text]
    assert leaked == []


def test_a_live_origin_with_credentials_is_never_reported(
    smartcar, account, browser, admin_browser, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    use_origin(settings, smartcar.base_url)

    # Connect through the credentialed origins: the browser is never sent them, and the failure page (requests
    # sends an origin's user:password as Basic authentication in place of the vehicle token, which is why E011
    # refuses such origins) does not show them either.
    connect_url = start_connect(browser)
    assert ORIGIN_SECRET not in connect_url
    callback = connect_through_views(browser)
    assert ORIGIN_SECRET not in callback.content.decode()
    # Gateway failures everywhere: Smartcar answers, with errors that the app reports.
    faults.inject("server_errors", target="any", statuses=[503])

    reported = exercise_every_reporting_path(account, browser, admin_browser)

    leaked = [text for text in [*reported, everything_logged(caplog)] if ORIGIN_SECRET in text]
    assert leaked == []


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://user:pw@127.0.0.1:9/v2.0/vehicles", "http://***@127.0.0.1:9/v2.0/vehicles"),
        ("https://token-only@api.example/x?limit=5", "https://***@api.example/x?limit=5"),
        (
            "http://127.0.0.1:9/cb?code=abc&state=s&access_token=t&client_secret=c",
            "http://127.0.0.1:9/cb?code=***&state=s&access_token=***&client_secret=***",
        ),
        ("http://u:p@ss@127.0.0.1/", "http://***@127.0.0.1/"),
        ("http://[::1/x?key=abc", "http://[::1/x?key=***"),
        ("http://127.0.0.1:9/plain", "http://127.0.0.1:9/plain"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_text_redacts_every_url_in_a_message():
    text = "GET http://a:b1@127.0.0.1:1/x failed; then 'https://c:d2@127.0.0.1:2/y?token=e3' too (x)"
    redacted = redact_text(text)
    assert all(secret not in redacted for secret in ("b1", "d2", "e3"))
    assert redacted.startswith("GET http://***@127.0.0.1:1/x failed")


def test_stored_error_texts_are_redacted_whatever_raised_them(account):
    # The last line of defence, for failures that did not come through the client (or a future one that
    # forgets): what the services store on rows is redacted too.
    failure = describe_failure(ValueError(f"proxy http://u:{ORIGIN_SECRET}@127.0.0.1:9/ refused"))
    assert ORIGIN_SECRET not in failure.message and "http://***@127.0.0.1:9/" in failure.message
    mark_reauth_required(account, f"revoked, see https://u:{ORIGIN_SECRET}@127.0.0.1:9/?token=x")
    account.refresh_from_db()
    assert ORIGIN_SECRET not in account.last_refresh_error
