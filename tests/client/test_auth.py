"""AuthClient: the Connect URL, token exchanges and the Access object."""

import base64
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from responses import matchers

from django_smartcar.client import (
    ALL_SCOPES,
    Access,
    AuthClient,
    InvalidGrantException,
    InvalidResponseException,
    OAuthException,
    SmartcarTimeout,
    is_expired,
)

from .conftest import ORIGINS

TOKEN_URL = ORIGINS.auth
TOKEN_BODY = {
    "access_token": "fresh-access-token",
    "token_type": "Bearer",
    "expires_in": 7200,
    "refresh_token": "fresh-refresh-token",
}


@pytest.fixture
def client(transport):
    return AuthClient(
        "client-id-1",
        "client-secret-1",
        "http://127.0.0.1:8000/callback",
        scope=["read_odometer", "read_vin"],
        mode="test",
        transport=transport,
    )


def query_of(url):
    return parse_qsl(urlsplit(url).query)


def basic_auth(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TestAuthUrl:
    def test_minimal_url_goes_to_connect_authorize(self, client):
        url = client.get_auth_url()
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://127.0.0.1:8101/oauth/authorize"
        assert query_of(url) == [
            ("response_type", "code"),
            ("client_id", "client-id-1"),
            ("approval_prompt", "auto"),
            ("mode", "test"),
            ("redirect_uri", "http://127.0.0.1:8000/callback"),
            ("scope", "read_odometer read_vin"),
        ]

    def test_every_parameter_in_protocol_order(self, client):
        url = client.get_auth_url(
            ["read_location"],
            force=True,
            state="csrf-state",
            make="TESLA",
            single_select=True,
            flags={"country": "DE", "tesla_auth": True},
            user="user-42",
        )
        assert query_of(url) == [
            ("response_type", "code"),
            ("client_id", "client-id-1"),
            ("approval_prompt", "force"),
            ("mode", "test"),
            ("redirect_uri", "http://127.0.0.1:8000/callback"),
            ("scope", "read_location"),
            ("state", "csrf-state"),
            ("make", "TESLA"),
            ("single_select", "true"),
            ("flags", "country:DE tesla_auth:true"),
            ("user", "user-42"),
        ]

    def test_single_select_vin_beats_make(self, client):
        query = dict(query_of(client.get_auth_url(make="TESLA", single_select_vin="5YJSA1E29HF000001")))
        assert "make" not in query
        assert query["single_select"] == "true"
        assert query["single_select_vin"] == "5YJSA1E29HF000001"

    def test_single_select_as_a_dict_with_a_vin_like_the_seeds(self, client):
        url = client.get_auth_url(vehicle_info={"make": "BMW"}, single_select={"vin": "WBA00000000000001"})
        keys = [key for key, _ in query_of(url)]
        assert keys[-2:] == ["single_select", "single_select_vin"]
        assert "make" not in keys

    def test_make_from_vehicle_info_like_the_seeds(self, client):
        assert ("make", "FORD") in query_of(client.get_auth_url(vehicle_info={"make": "FORD"}))

    def test_single_select_false_is_sent_explicitly(self, client):
        assert ("single_select", "false") in query_of(client.get_auth_url(single_select=False))

    def test_flags_as_a_list_of_strings(self, client):
        assert ("flags", "a:1 b:2") in query_of(client.get_auth_url(flags=["a:1", "b:2"]))

    def test_scope_string_is_not_split_into_letters(self, client):
        assert ("scope", "read_vin read_fuel") in query_of(client.get_auth_url("read_vin read_fuel"))

    def test_default_scope_is_every_permission(self, transport):
        client = AuthClient("id", "secret", "http://127.0.0.1/cb", transport=transport)
        assert ("scope", " ".join(ALL_SCOPES)) in query_of(client.get_auth_url())

    def test_special_characters_are_encoded(self, client):
        url = client.get_auth_url(state="a b&c=d")
        assert "state=a+b%26c%3Dd" in url
        assert ("state", "a b&c=d") in query_of(url)

    def test_redirect_uri_left_out_when_not_configured(self, monkeypatch, transport):
        monkeypatch.delenv("SMARTCAR_REDIRECT_URI", raising=False)
        client = AuthClient("id", "secret", transport=transport)
        assert "redirect_uri" not in dict(query_of(client.get_auth_url()))


class TestConstruction:
    def test_environment_fallbacks(self, monkeypatch, transport):
        monkeypatch.setenv("SMARTCAR_CLIENT_ID", "env-id")
        monkeypatch.setenv("SMARTCAR_CLIENT_SECRET", "env-secret")
        monkeypatch.setenv("SMARTCAR_REDIRECT_URI", "http://127.0.0.1:8000/env-cb")
        query = dict(query_of(AuthClient(transport=transport).get_auth_url()))
        assert query["client_id"] == "env-id"
        assert query["redirect_uri"] == "http://127.0.0.1:8000/env-cb"

    def test_missing_credentials_is_a_clear_error(self, monkeypatch):
        monkeypatch.delenv("SMARTCAR_CLIENT_ID", raising=False)
        monkeypatch.delenv("SMARTCAR_CLIENT_SECRET", raising=False)
        with pytest.raises(ValueError, match="SMARTCAR_CLIENT_ID"):
            AuthClient(redirect_uri="http://127.0.0.1/cb")

    @pytest.mark.parametrize(
        ("kwargs", "mode"),
        [
            ({}, "live"),
            ({"mode": "simulated"}, "simulated"),
            ({"mode": "TEST"}, "test"),
            ({"test_mode": True}, "test"),
            ({"mode": "simulated", "test_mode": False}, "simulated"),
            ({"mode": "live", "test_mode": True}, "live"),
        ],
    )
    def test_mode(self, kwargs, mode):
        assert AuthClient("id", "secret", **kwargs).mode == mode

    def test_seed_positional_test_mode(self):
        # The 4.x docs: AuthClient(client_id, client_secret, redirect_uri, scope, test_mode)
        assert AuthClient("id", "secret", "http://127.0.0.1/cb", ["read_vin"], True).mode == "test"

    def test_unknown_mode_is_rejected(self):
        with pytest.raises(ValueError, match="mode must be one of"):
            AuthClient("id", "secret", mode="production")

    def test_repr_hides_the_secret(self):
        assert "very-secret" not in repr(AuthClient("id", "very-secret"))

    def test_origins_come_from_the_environment_when_not_given(self, monkeypatch):
        monkeypatch.setenv("SMARTCAR_CONNECT_ORIGIN", "http://localhost:9000/")
        assert AuthClient("id", "secret").get_auth_url().startswith("http://localhost:9000/oauth/authorize?")


class TestTokenExchange:
    def test_exchange_code_posts_the_form_with_basic_auth(self, client, mocked):
        mocked.post(
            TOKEN_URL,
            json=TOKEN_BODY,
            match=[
                matchers.urlencoded_params_matcher(
                    {
                        "grant_type": "authorization_code",
                        "code": "code-123",
                        "redirect_uri": "http://127.0.0.1:8000/callback",
                    }
                ),
                matchers.header_matcher({"Authorization": basic_auth("client-id-1", "client-secret-1")}),
            ],
        )
        before = datetime.now(timezone.utc)
        access = client.exchange_code("code-123")
        after = datetime.now(timezone.utc)

        assert access["access_token"] == access.access_token == "fresh-access-token"
        assert access["refresh_token"] == "fresh-refresh-token"
        assert access.token_type == "Bearer"
        assert access.expires_in == 7200
        assert access.expiration.tzinfo is not None
        assert before + timedelta(seconds=7200) <= access.expiration <= after + timedelta(seconds=7200)
        assert before + timedelta(days=60) <= access.refresh_expiration <= after + timedelta(days=60)
        assert not is_expired(access["expiration"])

    def test_exchange_refresh_token(self, client, mocked):
        mocked.post(
            TOKEN_URL,
            json=TOKEN_BODY,
            match=[
                matchers.urlencoded_params_matcher(
                    {"grant_type": "refresh_token", "refresh_token": "old-refresh"}
                )
            ],
        )
        assert client.exchange_refresh_token("old-refresh").refresh_token == "fresh-refresh-token"

    def test_invalid_grant(self, client, mocked):
        mocked.post(
            TOKEN_URL,
            status=400,
            json={"error": "invalid_grant", "error_description": "Refresh token has already been used."},
        )
        with pytest.raises(InvalidGrantException) as caught:
            client.exchange_refresh_token("used-refresh-token")
        assert caught.value.status_code == 400
        assert caught.value.type == "invalid_grant"
        assert caught.value.description == "Refresh token has already been used."
        assert "used-refresh-token" not in str(caught.value)

    def test_other_oauth_errors(self, client, mocked):
        mocked.post(
            TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": "Bad secret."}
        )
        with pytest.raises(OAuthException) as caught:
            client.exchange_code("code")
        assert not isinstance(caught.value, InvalidGrantException)
        assert str(caught.value) == "invalid_client - Bad secret."

    @pytest.mark.parametrize("status", [429, 502, 503])
    def test_token_exchange_is_never_retried(self, client, mocked, sleeps, status):
        mocked.post(TOKEN_URL, status=status, json={"error": "busy"})
        with pytest.raises(OAuthException):
            client.exchange_refresh_token("refresh")
        assert len(mocked.calls) == 1
        assert sleeps == []

    def test_timeout_is_not_retried_either(self, client, mocked, sleeps):
        mocked.post(TOKEN_URL, body=requests.ReadTimeout("slow"))
        with pytest.raises(SmartcarTimeout):
            client.exchange_code("code")
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize(
        "body",
        [
            {"token_type": "Bearer", "expires_in": 7200},
            {"access_token": "a", "refresh_token": "r", "expires_in": "soon"},
        ],
    )
    def test_incomplete_token_answer(self, client, mocked, body):
        mocked.post(TOKEN_URL, json=body)
        with pytest.raises(InvalidResponseException):
            client.exchange_code("code")

    def test_non_json_token_answer_does_not_echo_the_body(self, client, mocked):
        mocked.post(TOKEN_URL, body="access_token=leaked-token", content_type="text/plain")
        with pytest.raises(InvalidResponseException) as caught:
            client.exchange_code("code")
        assert "leaked-token" not in str(caught.value)

    def test_empty_code_is_rejected_before_any_request(self, client):
        with pytest.raises(ValueError, match="authorization code"):
            client.exchange_code("")


class TestAccess:
    def make(self):
        now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
        return Access.from_token_response(TOKEN_BODY, now=now)

    def test_seed_shaped_mapping(self):
        access = self.make()
        assert set(access) == {
            "access_token",
            "token_type",
            "expires_in",
            "expiration",
            "refresh_token",
            "refresh_expiration",
        }
        assert access["expiration"] == datetime(2024, 5, 1, 14, 0, tzinfo=timezone.utc)
        assert access["refresh_expiration"] == datetime(2024, 6, 30, 12, 0, tzinfo=timezone.utc)
        assert dict(access)["access_token"] == "fresh-access-token"

    def test_unknown_key(self):
        with pytest.raises(KeyError):
            self.make()["id_token"]

    def test_repr_and_str_hide_tokens(self):
        access = self.make()
        for text in (repr(access), str(access)):
            assert "fresh-access-token" not in text
            assert "fresh-refresh-token" not in text
            assert "expiration" in text

    def test_refresh_lifetime_from_the_answer_when_given(self):
        now = datetime(2024, 5, 1, tzinfo=timezone.utc)
        access = Access.from_token_response({**TOKEN_BODY, "refresh_expires_in": 3600}, now=now)
        assert access.refresh_expiration == now + timedelta(hours=1)
