"""Connect's options follow one rule (``services.connect``) in the HTML connect view and the API alike: a
``make`` or ``single_select_vin`` that is too long or not plain text is refused (never truncated), and a
``next`` that cannot be used lands on the default page (never an error)."""

from __future__ import annotations

import pytest

from django_smartcar.models import ConnectState

TOO_LONG = {"make": "M" * 51, "single_select_vin": "V" * 18}


def connect_view(browser, params):
    return browser.get("/smartcar/connect/", params)


def connect_api(browser, params):
    return browser.post("/api/smartcar/connect-url/", params, content_type="application/json")


@pytest.mark.parametrize("adapter", [connect_view, connect_api])
@pytest.mark.parametrize("option", sorted(TOO_LONG))
def test_a_too_long_option_is_refused_by_both_adapters(smartcar, browser, adapter, option):
    response = adapter(browser, {option: TOO_LONG[option]})

    assert response.status_code == 400
    assert f"The {option} parameter is invalid." in response.content.decode()
    assert not ConnectState.objects.exists()


@pytest.mark.parametrize("adapter", [connect_view, connect_api])
@pytest.mark.parametrize("option", sorted(TOO_LONG))
def test_an_option_at_its_limit_is_passed_on_whole(smartcar, browser, adapter, option):
    value = TOO_LONG[option][:-1]

    response = adapter(browser, {option: value})

    assert response.status_code in (200, 302), response.content
    url = response["Location"] if response.status_code == 302 else response.json()["url"]
    assert value in url


@pytest.mark.parametrize("adapter", [connect_view, connect_api])
def test_a_too_long_next_lands_on_the_default_page_in_both_adapters(smartcar, browser, adapter):
    response = adapter(browser, {"next": "/" + "a" * 3000})

    assert response.status_code in (200, 302), response.content
    assert ConnectState.objects.get().next_url == "/smartcar/"
