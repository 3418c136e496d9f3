"""Module-level calls: user, vehicle list, compatibility, management, webhooks, expiry, origins."""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from responses import matchers

from django_smartcar import client as smartcar
from django_smartcar.client import ALL_SCOPES, Origins

from .conftest import ACCESS_TOKEN, API, MANAGEMENT, VEHICLE_ID

BEARER = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class TestUserAndVehicles:
    def test_get_user(self, transport, mocked):
        mocked.get(
            f"{API}/user",
            json={"id": "user-1"},
            headers={"sc-request-id": "r"},
            match=[matchers.header_matcher(BEARER)],
        )
        user = smartcar.get_user(ACCESS_TOKEN, transport=transport)
        assert (user.id, user["id"], user.meta.request_id) == ("user-1", "user-1", "r")

    def test_get_user_id(self, transport, mocked):
        mocked.get(f"{API}/user", json={"id": "user-2"})
        assert smartcar.get_user_id(ACCESS_TOKEN, transport=transport) == "user-2"

    def test_get_vehicles_with_paging(self, transport, mocked):
        mocked.get(
            f"{API}/vehicles",
            json={"vehicles": ["v1", "v2"], "paging": {"count": 7, "offset": 2}},
            match=[
                matchers.query_param_matcher({"limit": "2", "offset": "2"}),
                matchers.header_matcher(BEARER),
            ],
        )
        result = smartcar.get_vehicles(ACCESS_TOKEN, limit=2, offset=2, transport=transport)
        assert result.vehicles == ["v1", "v2"]
        assert (result.paging.count, result.paging.offset) == (7, 2)

    def test_get_vehicles_sends_no_paging_by_default(self, transport, mocked):
        mocked.get(
            f"{API}/vehicles",
            json={"vehicles": [], "paging": {"count": 0, "offset": 0}},
            match=[matchers.query_param_matcher({})],
        )
        assert smartcar.get_vehicles(ACCESS_TOKEN, transport=transport).vehicles == []

    def test_get_vehicle_ids_seed_shape_and_defaults(self, transport, mocked):
        mocked.get(
            f"{API}/vehicles",
            json={"vehicles": ["v1"], "paging": {"count": 1, "offset": 0}},
            match=[matchers.query_param_matcher({"limit": "10", "offset": "0"})],
        )
        result = smartcar.get_vehicle_ids(ACCESS_TOKEN, transport=transport)
        assert result["vehicles"] == ["v1"]
        assert result["paging"]["count"] == 1

    def test_iter_vehicle_ids_walks_every_page(self, transport, mocked):
        for offset, ids in ((0, ["a", "b"]), (2, ["c", "d"]), (4, ["e"])):
            mocked.get(
                f"{API}/vehicles",
                json={"vehicles": ids, "paging": {"count": 5, "offset": offset}},
                match=[matchers.query_param_matcher({"limit": "2", "offset": str(offset)})],
            )
        assert list(smartcar.iter_vehicle_ids(ACCESS_TOKEN, page_size=2, transport=transport)) == list(
            "abcde"
        )

    def test_iter_vehicle_ids_stops_on_an_empty_page(self, transport, mocked):
        mocked.get(f"{API}/vehicles", json={"vehicles": [], "paging": {"count": 9, "offset": 0}})
        assert list(smartcar.iter_vehicle_ids(ACCESS_TOKEN, transport=transport)) == []

    def test_missing_token(self, transport):
        with pytest.raises(ValueError, match="access token"):
            smartcar.get_user("", transport=transport)


class TestCompatibility:
    BODY = {
        "compatible": False,
        "reason": "VEHICLE_NOT_COMPATIBLE",
        "capabilities": [
            {
                "permission": "read_odometer",
                "endpoint": "/odometer",
                "capable": False,
                "reason": "NOT_SUPPORTED",
            }
        ],
    }

    def test_request_and_result(self, transport, mocked):
        mocked.get(
            f"{API}/compatibility",
            json=self.BODY,
            match=[
                matchers.query_param_matcher(
                    {"vin": "1HGCM82633A004352", "scope": "read_odometer read_vin", "country": "CA"}
                ),
                matchers.header_matcher(basic("cid", "csecret")),
            ],
        )
        result = smartcar.get_compatibility(
            "1HGCM82633A004352",
            ["read_odometer", "read_vin"],
            "CA",
            client_id="cid",
            client_secret="csecret",
            transport=transport,
        )
        assert result.compatible is False
        assert result.reason == "VEHICLE_NOT_COMPATIBLE"
        assert result.capabilities[0].permission == "read_odometer"
        assert result.capabilities[0].capable is False

    def test_is_compatible_with_env_credentials(self, transport, mocked, monkeypatch):
        monkeypatch.setenv("SMARTCAR_CLIENT_ID", "env-id")
        monkeypatch.setenv("SMARTCAR_CLIENT_SECRET", "env-secret")
        mocked.get(
            f"{API}/compatibility",
            json={"compatible": True, "reason": None, "capabilities": []},
            match=[matchers.header_matcher(basic("env-id", "env-secret"))],
        )
        assert smartcar.is_compatible("VIN", ["read_vin"], transport=transport) is True

    def test_missing_credentials(self, transport, monkeypatch):
        monkeypatch.delenv("SMARTCAR_CLIENT_ID", raising=False)
        monkeypatch.delenv("SMARTCAR_CLIENT_SECRET", raising=False)
        with pytest.raises(ValueError, match="SMARTCAR_CLIENT_SECRET"):
            smartcar.get_compatibility("VIN", ["read_vin"], transport=transport)

    def test_empty_scope(self, transport):
        with pytest.raises(ValueError, match="permission"):
            smartcar.get_compatibility("VIN", [], client_id="a", client_secret="b", transport=transport)


class TestManagement:
    def test_get_connections(self, transport, mocked):
        mocked.get(
            f"{MANAGEMENT}/connections/",
            json={
                "connections": [
                    {"vehicleId": "v1", "userId": "u1", "connectedAt": "2024-05-01T08:00:00.000Z"}
                ],
                "paging": {"cursor": "next-page"},
            },
            match=[
                matchers.header_matcher(basic("default", "amt-1")),
                matchers.query_param_matcher({"user_id": "u1", "limit": "5"}),
            ],
        )
        result = smartcar.get_connections("amt-1", user_id="u1", limit=5, transport=transport)
        assert result.cursor == "next-page"
        connection = result.connections[0]
        assert (connection.vehicle_id, connection.user_id) == ("v1", "u1")
        assert connection.connected_at == datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)

    def test_delete_connections_by_vehicle(self, transport, mocked):
        mocked.delete(
            f"{MANAGEMENT}/connections/",
            json={"connections": [{"vehicleId": "v1", "userId": "u1"}]},
            match=[
                matchers.header_matcher(basic("default", "amt-1")),
                matchers.query_param_matcher({"vehicle_id": "v1"}),
            ],
        )
        result = smartcar.delete_connections("amt-1", vehicle_id="v1", transport=transport)
        assert [c.vehicle_id for c in result.connections] == ["v1"]

    def test_delete_connections_needs_a_filter(self, transport):
        with pytest.raises(ValueError, match="vehicle_id, a user_id or both"):
            smartcar.delete_connections("amt", transport=transport)

    def test_unsubscribe_without_a_user_token(self, transport, mocked):
        mocked.delete(
            f"{API}/vehicles/{VEHICLE_ID}/webhooks/wh-9",
            json={"status": "success"},
            match=[matchers.header_matcher({"Authorization": "Bearer amt-1"})],
        )
        assert smartcar.unsubscribe("amt-1", VEHICLE_ID, "wh-9", transport=transport).status == "success"


class TestWebhooks:
    def test_known_challenge_value(self):
        expected = "2a596ed34b8c6f069492d952aa51f076fee7b1c662b6498e0217a0d41fd9b936"
        assert smartcar.hash_challenge("abc123abc123", "9c9c9c9c") == expected

    @pytest.mark.parametrize("body", [b'{"eventId":"e1"}', '{"eventId":"e1"}'])
    def test_verify_payload_accepts_bytes_and_str(self, body):
        raw = body if isinstance(body, bytes) else body.encode()
        signature = hmac.new(b"amt", raw, hashlib.sha256).hexdigest()
        assert smartcar.verify_payload("amt", signature, body)
        assert smartcar.verify_payload("amt", signature.upper(), body)

    @pytest.mark.parametrize("signature", ["", None, "00" * 32, "not-hex-é"])
    def test_verify_payload_rejects_bad_signatures(self, signature):
        assert not smartcar.verify_payload("amt", signature, b"{}")

    def test_verify_payload_rejects_a_changed_body(self):
        signature = smartcar.hash_challenge("amt", '{"a":1}')
        assert not smartcar.verify_payload("amt", signature, '{"a":2}')

    def test_verify_payload_compares_in_constant_time(self, monkeypatch):
        compared = []
        real = hmac.compare_digest
        monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(True) or real(a, b))
        smartcar.verify_payload("amt", "ab" * 32, b"{}")
        assert compared == [True]


class TestIsExpired:
    @pytest.mark.parametrize(
        ("value", "expired"),
        [
            # Times relative to now are made when the test runs, not when it is collected: a long suite
            # would otherwise run this one after "in ten minutes" has passed.
            (lambda: datetime.now(timezone.utc) - timedelta(seconds=5), True),
            (lambda: datetime.now(timezone.utc) + timedelta(hours=1), False),
            (lambda: datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=1), True),
            (lambda: datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=10), False),
            (lambda: "2018-05-02T18:04:25+00:00", True),
            (lambda: "2999-01-01T00:00:00Z", False),
            (lambda: "2999-01-01T00:00:00", False),
        ],
    )
    def test_values(self, value, expired):
        assert smartcar.is_expired(value()) is expired

    def test_timezone_offsets_are_respected(self):
        in_an_hour_as_tokyo_time = (datetime.now(timezone.utc) + timedelta(hours=1)).astimezone(
            timezone(timedelta(hours=9))
        )
        assert not smartcar.is_expired(in_an_hour_as_tokyo_time.isoformat())

    def test_bad_values(self):
        with pytest.raises(ValueError, match="ISO 8601"):
            smartcar.is_expired("tomorrow")
        with pytest.raises(TypeError):
            smartcar.is_expired(1714550400)


class TestOrigins:
    def test_defaults_are_smartcars_hosts(self, monkeypatch):
        for name in (
            "SMARTCAR_CONNECT_ORIGIN",
            "SMARTCAR_AUTH_ORIGIN",
            "SMARTCAR_API_ORIGIN",
            "SMARTCAR_MANAGEMENT_API_ORIGIN",
        ):
            monkeypatch.delenv(name, raising=False)
        assert Origins.from_env() == Origins(
            connect="https://connect.smartcar.com",
            auth="https://auth.smartcar.com/oauth/token",
            api="https://api.smartcar.com",
            management="https://management.smartcar.com",
        )

    def test_environment_variables(self, monkeypatch):
        monkeypatch.setenv("SMARTCAR_CONNECT_ORIGIN", "http://127.0.0.1:8000/simulator/connect/")
        monkeypatch.setenv("SMARTCAR_AUTH_ORIGIN", "http://127.0.0.1:8000/simulator/oauth/token")
        monkeypatch.setenv("SMARTCAR_API_ORIGIN", "http://127.0.0.1:8000/simulator/api")
        monkeypatch.setenv("SMARTCAR_MANAGEMENT_API_ORIGIN", "http://127.0.0.1:8000/simulator/management/")
        origins = Origins.from_env()
        assert origins.authorize_url == "http://127.0.0.1:8000/simulator/connect/oauth/authorize"
        assert origins.auth == "http://127.0.0.1:8000/simulator/oauth/token"
        assert origins.api_url("/vehicles") == "http://127.0.0.1:8000/simulator/api/v2.0/vehicles"
        assert (
            origins.management_url("connections/")
            == "http://127.0.0.1:8000/simulator/management/v2.0/management/connections/"
        )

    def test_environment_is_read_when_used_not_at_import(self, monkeypatch, mocked):
        monkeypatch.setenv("SMARTCAR_API_ORIGIN", "http://localhost:8765")
        mocked.get("http://localhost:8765/v2.0/user", json={"id": "from-env"})
        assert smartcar.get_user_id(ACCESS_TOKEN) == "from-env"

    def test_invalid_origin(self):
        with pytest.raises(ValueError, match=r"Origins\.api"):
            Origins(api="api.smartcar.com")

    def test_all_scopes_lists_every_permission_of_the_protocol(self):
        assert set(ALL_SCOPES) == {
            "read_vehicle_info",
            "read_vin",
            "read_location",
            "read_odometer",
            "read_fuel",
            "read_battery",
            "read_charge",
            "control_charge",
            "read_engine_oil",
            "read_tires",
            "read_security",
            "control_security",
            "control_navigation",
        }


def test_client_package_never_imports_django():
    import subprocess
    import sys

    code = "import sys, django_smartcar.client; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert output.stdout.strip() == "False"
