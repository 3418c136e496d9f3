"""Drive the simulator's Connect pages over plain HTTP, as a browser with JavaScript off would.

``complete_connect(authorize_url)`` answers each page (brand, sign-in, vehicles and permissions) with plain
form posts and returns the URL Connect finally redirects to (the application's redirect URI with ``code`` and
``state``, ``vehicle_id`` and ``state`` after a re-authentication, or ``error=...``) without following it, so the
test decides what to do with it. ``untick`` leaves optional permissions unticked on the grant page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

MAX_STEPS = 6


class ConnectFlowError(Exception):
    """Connect showed an error (or a page this helper cannot answer) instead of redirecting."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass
class Form:
    action: str
    step: str
    hidden: list[tuple[str, str]] = field(default_factory=list)
    choices: list[tuple[str, str, bool]] = field(default_factory=list)  # checkbox/radio: name, value, checked
    buttons: list[tuple[str, str]] = field(default_factory=list)


class ConnectPageParser(HTMLParser):
    """Collects the page's form and any error message Connect shows."""

    def __init__(self) -> None:
        super().__init__()
        self.form: Form | None = None
        self.errors: list[str] = []
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "data-error" in attributes:
            self._in_error = True
            self.errors.append("")
        if tag == "form" and self.form is None:
            self.form = Form(action=attributes.get("action", ""), step=attributes.get("data-step", ""))
        elif self.form is not None and tag == "input":
            kind = attributes.get("type", "text")
            if kind == "hidden":
                self.form.hidden.append((attributes.get("name", ""), attributes.get("value", "")))
            elif kind in ("checkbox", "radio"):
                self.form.choices.append(
                    (attributes.get("name", ""), attributes.get("value", ""), "checked" in attributes)
                )
        elif self.form is not None and tag == "button" and "name" in attributes:
            self.form.buttons.append((attributes["name"], attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.errors[-1] += data.strip()


def answer(
    form: Form,
    *,
    email: str,
    approve: bool,
    vehicle_ids: Sequence[str] | None,
    make: str | None,
    untick: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """The fields to post back for one Connect page."""
    data = list(form.hidden)
    if form.step == "brand":
        wanted = (make or "").upper()
        if ("make", wanted) not in form.buttons:
            raise ConnectFlowError(f"Connect offers no brand {make!r}")
        data.append(("make", wanted))
    elif form.step == "sign_in":
        data += [("email", email), ("password", "simulated")]
    elif form.step == "grant":
        if approve:
            offered = {value for name, value, _ in form.choices if name == "permission"}
            if set(untick) - offered:
                raise ConnectFlowError(
                    f"Connect offers no optional {sorted(set(untick) - offered)} to untick"
                )
            data += [
                (name, value)
                for name, value, checked in form.choices
                if checked and name == "permission" and value not in untick
            ]
            if vehicle_ids is None:
                data += [
                    (name, value) for name, value, checked in form.choices if checked and name == "vehicle"
                ]
            else:
                data += [("vehicle", vehicle_id) for vehicle_id in vehicle_ids]
        data.append(("decision", "approve" if approve else "deny"))
    else:
        raise ConnectFlowError(f"Unexpected Connect page (step {form.step!r})")
    return data


def complete_connect(
    authorize_url: str,
    *,
    email: str = "driver@example.com",
    approve: bool = True,
    vehicle_ids: Sequence[str] | None = None,
    make: str | None = None,
    untick: Sequence[str] = (),
    timeout: float = 10.0,
) -> str:
    """Go through Connect and return the final redirect URL, not followed.

    ``make`` picks the brand when Connect asks for one (None picks "any brand": all the owner's vehicles);
    ``vehicle_ids`` are the vehicles to share (None keeps the page's preselection); ``untick`` names optional
    permissions to untick (one that is not offered, or is required, raises ``ConnectFlowError``). Raises
    ``ConnectFlowError`` when Connect shows an error page instead.
    """
    response = requests.get(authorize_url, allow_redirects=False, timeout=timeout)
    for _ in range(MAX_STEPS):
        if response.is_redirect:
            return urljoin(response.url, response.headers["Location"])
        parser = ConnectPageParser()
        parser.feed(response.text)
        if response.status_code != 200 or parser.errors or parser.form is None:
            message = "; ".join(parser.errors) or f"HTTP {response.status_code} without a Connect form"
            raise ConnectFlowError(message, response.status_code)
        data = answer(
            parser.form, email=email, approve=approve, vehicle_ids=vehicle_ids, make=make, untick=untick
        )
        response = requests.post(
            urljoin(response.url, parser.form.action), data=data, allow_redirects=False, timeout=timeout
        )
    raise ConnectFlowError(f"Connect did not redirect after {MAX_STEPS} pages")
