"""Plain-HTTP helpers for the simulator's API V3 tests: Connect with ``user_id``, the application token, and
requests with ``sc-user-id``, as an outside developer who wrote a V3 client would make them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from django_smartcar.simulator.testing import complete_connect

ALL_EV_SCOPE = [
    "read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_battery",
    "read_charge",
    "control_charge",
    "read_tires",
    "read_security",
    "control_security",
    "control_navigation",
    "read_fuel",
    "read_engine_oil",
]


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@dataclass
class V3World:
    """One simulator (live or standalone): its base URL and credentials."""

    base: str
    client_id: str
    client_secret: str
    redirect_uri: str
    api_client_id: str
    api_client_secret: str
    management_token: str
    email: str
    _token: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, simulator: Any) -> V3World:
        return cls(
            base=simulator.base_url,
            client_id=simulator.client_id,
            client_secret=simulator.client_secret,
            redirect_uri=simulator.redirect_uri,
            api_client_id=simulator.api_client_id,
            api_client_secret=simulator.api_client_secret,
            management_token=simulator.management_token,
            email=simulator.email,
        )

    def connect(
        self,
        scope: list[str] | None = None,
        *,
        vehicle_ids: list[str] | None = None,
        email: str | None = None,
    ) -> dict[str, str]:
        """Go through Connect; the final redirect's query (code, user_id, state)."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "approval_prompt": "force",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(scope or ALL_EV_SCOPE),
            "state": "v3-state",
        }
        final = complete_connect(
            f"{self.base}/oauth/authorize?{urlencode(query)}",
            email=email or self.email,
            vehicle_ids=vehicle_ids,
        )
        return query_of(final)

    def v2_token(self, code: str) -> str:
        answer = requests.post(
            f"{self.base}/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri},
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    @property
    def app_token(self) -> str:
        if self._token is None:
            answer = requests.post(
                f"{self.base}/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.api_client_id,
                    "client_secret": self.api_client_secret,
                },
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            self._token = str(answer.json()["access_token"])
        return self._token

    def v3(
        self, method: str, path: str, *, user_id: str | None = None, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.app_token}", **kwargs.pop("headers", {})}
        if user_id is not None:
            headers["sc-user-id"] = user_id
        return requests.request(method, f"{self.base}/v3{path}", headers=headers, timeout=30, **kwargs)

    def v2(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{self.base}/v2.0{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )

    def vehicle_ids(self, user_id: str) -> list[str]:
        listed = self.v3("GET", "/connections", params={"filter[userId]": user_id, "page[size]": 100})
        assert listed.status_code == 200, listed.text
        return [item["relationships"]["vehicle"]["data"]["id"] for item in listed.json()["data"]]

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{self.base}/_simulator/{path}",
            headers={"Authorization": f"Bearer {self.management_token}"},
            timeout=10,
            **kwargs,
        )


def single_error(answer: requests.Response, status: int) -> dict[str, Any]:
    """The one JSON:API error of an answer, checked for the documented members."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    assert error["status"] == str(status)
    assert {"status", "type", "code", "title", "detail", "links"} <= set(error)
    assert error["links"]["about"].startswith("https://smartcar.com/docs/errors/api-errors/")
    return dict(error)
