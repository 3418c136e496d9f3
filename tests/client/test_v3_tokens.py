"""API V3's application token: the client-credentials request, caching and renewal, thread and store safety."""

import json
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses import matchers

from django_smartcar.client import InvalidResponseException, OAuthException, SmartcarTimeout, v3

from .conftest import IAM_TOKEN_URL, ORIGINS

CLIENT_ID = "client_abc123"
CLIENT_SECRET = "api-client-secret-xyz"
START = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


class Clock:
    """A settable clock that also records which threads read it."""

    def __init__(self, now=START):
        self.now = now
        self.readers = set()
        self.changed = threading.Condition()

    def __call__(self):
        with self.changed:
            self.readers.add(threading.get_ident())
            self.changed.notify_all()
        return self.now

    def wait_for_readers(self, count, timeout=5):
        with self.changed:
            return self.changed.wait_for(lambda: len(self.readers) >= count, timeout)


class Iam:
    """The IAM token endpoint: a new token per request, optionally held until an event."""

    def __init__(self, mocked, expires_in=3600):
        self.requests = []
        self.expires_in = expires_in
        self.before_answer = None
        mocked.add_callback(responses.POST, IAM_TOKEN_URL, callback=self.answer)

    def answer(self, request):
        if self.before_answer:
            self.before_answer()
        self.requests.append(request)
        body = {"access_token": f"app-token-{len(self.requests)}", "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return 200, {}, json.dumps(body)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def iam(mocked):
    return Iam(mocked)


def app_token(transport, clock, **options):
    return v3.ApplicationToken(
        CLIENT_ID, CLIENT_SECRET, transport=transport, origins=ORIGINS, clock=clock, **options
    )


class TestRequestApplicationToken:
    def test_credentials_go_in_the_form_body_without_basic_auth(self, transport, mocked, clock):
        mocked.post(
            IAM_TOKEN_URL,
            json={"access_token": "app-1", "token_type": "Bearer", "expires_in": 3600},
            match=[
                matchers.urlencoded_params_matcher(
                    {
                        "grant_type": "client_credentials",
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                    }
                )
            ],
        )
        token = v3.request_application_token(
            CLIENT_ID, CLIENT_SECRET, transport=transport, origins=ORIGINS, clock=clock
        )
        assert (token.access_token, token.expires_at) == ("app-1", START + timedelta(hours=1))
        sent = mocked.calls[0].request
        assert "Authorization" not in sent.headers
        assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"

    def test_the_origin_comes_from_the_transport(self, transport, mocked):
        mocked.post(IAM_TOKEN_URL, json={"access_token": "app-1", "expires_in": 60})
        assert (
            v3.request_application_token(CLIENT_ID, CLIENT_SECRET, transport=transport).access_token
            == "app-1"
        )

    def test_without_expires_in_the_documented_hour(self, transport, mocked, clock):
        mocked.post(IAM_TOKEN_URL, json={"access_token": "app-1"})
        token = v3.request_application_token(CLIENT_ID, CLIENT_SECRET, transport=transport, clock=clock)
        assert token.expires_at == START + timedelta(hours=1)

    @pytest.mark.parametrize(
        ("status", "error", "description"),
        [
            (401, "invalid_client", f"Invalid client_secret {CLIENT_SECRET}"),
            (400, "invalid_request", "Missing grant_type"),
            (400, "unsupported_grant_type", "Only client_credentials"),
        ],
    )
    def test_oauth_errors_raise_the_v2_token_classes_without_the_secret(
        self, transport, mocked, status, error, description
    ):
        mocked.post(IAM_TOKEN_URL, status=status, json={"error": error, "error_description": description})
        with pytest.raises(OAuthException) as caught:
            v3.request_application_token(CLIENT_ID, CLIENT_SECRET, transport=transport)
        assert (caught.value.status_code, caught.value.type) == (status, error)
        assert CLIENT_SECRET not in str(caught.value) + repr(caught.value)
        assert len(mocked.calls) == 1

    def test_an_answer_without_a_token(self, transport, mocked):
        mocked.post(IAM_TOKEN_URL, json={"token_type": "Bearer"})
        with pytest.raises(InvalidResponseException):
            v3.request_application_token(CLIENT_ID, CLIENT_SECRET, transport=transport)

    def test_a_time_out_is_not_resent(self, transport, mocked):
        mocked.post(IAM_TOKEN_URL, body=requests.ReadTimeout("slow"))
        with pytest.raises(SmartcarTimeout):
            v3.request_application_token(CLIENT_ID, CLIENT_SECRET, transport=transport)
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize(
        ("client_id", "secret"), [("", CLIENT_SECRET), (CLIENT_ID, ""), (None, CLIENT_SECRET)]
    )
    def test_credentials_are_required(self, client_id, secret):
        with pytest.raises(ValueError):
            v3.request_application_token(client_id, secret)


class TestApplicationToken:
    def test_one_request_while_the_token_is_valid(self, transport, iam, clock):
        token = app_token(transport, clock)
        assert [token.get(), token.get()] == ["app-token-1", "app-token-1"]
        clock.now = START + timedelta(minutes=54, seconds=59)
        assert token.get() == "app-token-1"
        assert len(iam.requests) == 1
        body = parse_qs(iam.requests[0].body)
        assert body == {
            "grant_type": ["client_credentials"],
            "client_id": [CLIENT_ID],
            "client_secret": [CLIENT_SECRET],
        }

    def test_renewed_renew_before_its_expiry(self, transport, iam, clock):
        token = app_token(transport, clock, renew_before=timedelta(minutes=10))
        assert token.get() == "app-token-1"
        clock.now = START + timedelta(minutes=50, seconds=1)
        assert token.get() == "app-token-2"
        assert token.requests_made == len(iam.requests) == 2

    def test_twenty_threads_make_one_request(self, transport, iam, clock):
        token = app_token(transport, clock)
        # The answer waits until every thread has entered get(): all of them race for the first token.
        iam.before_answer = lambda: clock.wait_for_readers(20)
        results = []
        threads = [threading.Thread(target=lambda: results.append(token.get())) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results == ["app-token-1"] * 20
        assert len(iam.requests) == 1

    def test_a_shared_store_serves_every_instance_once(self, transport, iam, clock):
        """Two ApplicationTokens (two processes) on one store whose lock they honour: one request."""
        store = v3.MemoryTokenStore()
        first, second = app_token(transport, clock, store=store), app_token(transport, clock, store=store)
        iam.before_answer = lambda: clock.wait_for_readers(10)
        results = []
        threads = [
            threading.Thread(target=lambda owner=owner: results.append(owner.get()))
            for owner in [first, second] * 5
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results == ["app-token-1"] * 10
        assert len(iam.requests) == 1

    def test_the_store_is_read_and_written_only_under_its_lock(self, transport, iam, clock):
        events = []

        class RecordingStore(v3.MemoryTokenStore):
            held = False

            @contextmanager
            def locked(self):
                with super().locked():
                    self.held = True
                    events.append("lock")
                    yield
                    self.held = False

            def load(self):
                events.append(("load", self.held))
                return super().load()

            def save(self, token):
                events.append(("save", self.held))
                super().save(token)

        store = RecordingStore()
        assert isinstance(store, v3.TokenStore)
        app_token(transport, clock, store=store).get()
        assert events == ["lock", ("load", True), ("save", True)]

    def test_a_token_in_the_store_is_used_without_a_request(self, transport, mocked, clock):
        store = v3.MemoryTokenStore()
        store.save(v3.CachedToken("stored-token", START + timedelta(minutes=30)))
        assert app_token(transport, clock, store=store).get() == "stored-token"
        assert len(mocked.calls) == 0

    def test_a_stored_token_about_to_expire_is_replaced(self, transport, iam, clock):
        store = v3.MemoryTokenStore()
        store.save(v3.CachedToken("old-token", START + timedelta(minutes=4)))
        assert app_token(transport, clock, store=store).get() == "app-token-1"
        assert store.load().access_token == "app-token-1"

    def test_a_newer_token_another_process_stored_is_picked_up(self, transport, iam, clock):
        store = v3.MemoryTokenStore()
        token = app_token(transport, clock, store=store)
        assert token.get() == "app-token-1"
        store.save(v3.CachedToken("renewed-elsewhere", START + timedelta(hours=2)))
        clock.now = START + timedelta(minutes=56)
        assert token.get() == "renewed-elsewhere"
        assert len(iam.requests) == 1

    def test_invalidate_forgets_the_refused_token_even_if_the_store_keeps_it(self, transport, iam, clock):
        token = app_token(transport, clock)
        assert token.get() == "app-token-1"
        token.invalidate("app-token-1")
        assert token.get() == "app-token-2"
        assert token.get() == "app-token-2"
        assert len(iam.requests) == 2

    def test_invalidating_an_older_token_keeps_the_current_one(self, transport, iam, clock):
        token = app_token(transport, clock)
        assert token.get() == "app-token-1"
        token.invalidate("some-older-token")
        assert token.get() == "app-token-1"
        assert len(iam.requests) == 1

    def test_nothing_shows_the_token_or_the_secret(self, transport, iam, clock):
        store = v3.MemoryTokenStore()
        token = app_token(transport, clock, store=store)
        value = token.get()
        cached = store.load()
        for text in (repr(token), str(token), repr(store), repr(cached), str(cached)):
            assert value not in text
            assert CLIENT_SECRET not in text
        assert CLIENT_ID in repr(token)

    def test_bad_arguments(self):
        with pytest.raises(ValueError):
            v3.ApplicationToken("", CLIENT_SECRET)
        with pytest.raises(ValueError):
            v3.ApplicationToken(CLIENT_ID, "")
        with pytest.raises(ValueError):
            v3.ApplicationToken(CLIENT_ID, CLIENT_SECRET, renew_before=timedelta(minutes=-1))
        with pytest.raises(ValueError):
            v3.CachedToken("", START)

    def test_a_naive_expiry_is_utc(self):
        assert v3.CachedToken("t", datetime(2026, 1, 1)).expires_at.tzinfo == timezone.utc
