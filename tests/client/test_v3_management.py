"""The Management API V3 client: webhooks and subscriptions (202 created, 409 already there)."""

import pytest
import requests
from responses import matchers

from django_smartcar.client import AuthenticationException, PermissionException, SmartcarTimeout, v3

from .conftest import IAM_TOKEN_URL, MANAGEMENT_V3, jsonapi_error

APP_TOKEN = "app-token-secret-0002"
BEARER = {"Authorization": f"Bearer {APP_TOKEN}"}
WEBHOOK = {
    "id": "wh-1",
    "type": "webhook",
    "attributes": {
        "name": "Home",
        "callbackUri": "https://example.com/smartcar/webhooks/",
        "isEnabled": True,
        "triggers": [{"group": "Closure", "name": "IsLocked", "code": "closure-islocked"}],
        "data": [{"group": "Odometer", "name": "TraveledDistance", "code": "odometer-traveleddistance"}],
        "errorCallbackUri": None,
        "autoSubscribe": False,
    },
    "links": {"self": "/webhooks/wh-1"},
    "meta": {"createdAt": "2026-04-22T10:00:00Z"},
}
SUBSCRIPTION = {
    "type": "subscription",
    "id": "sub-1",
    "attributes": {
        "vehicle": {
            "make": "TESLA",
            "model": "Model 3",
            "year": 2022,
            "mode": "simulated",
            "powertrainType": "BEV",
        }
    },
    "meta": {"createdAt": 1767920001000, "updatedAt": "2026-01-09T01:00:00Z"},
    "relationships": {
        "webhook": {"data": {"id": "wh-1", "type": "webhook"}},
        "user": {"data": {"id": "user-1", "type": "user"}},
        "vehicle": {"data": {"id": "vehicle-1", "type": "vehicle"}},
    },
}


@pytest.fixture
def api(transport):
    return v3.ManagementApi(APP_TOKEN, transport=transport)


class TestWebhooks:
    def test_list_with_every_filter(self, api, mocked):
        mocked.get(
            f"{MANAGEMENT_V3}/webhooks",
            json={
                "data": [WEBHOOK],
                "meta": {"page": {"number": 2, "size": 50}, "totalCount": 51},
                "links": {},
            },
            match=[
                matchers.query_param_matcher(
                    {
                        "filter[name]": "Home",
                        "filter[callbackUri]": "https://example.com/smartcar/webhooks/",
                        "filter[isEnabled]": "true",
                        "filter[autoSubscribe]": "false",
                        "page[number]": "2",
                        "page[size]": "50",
                    }
                ),
                matchers.header_matcher(BEARER),
            ],
        )
        page = api.list_webhooks(
            name="Home",
            callback_uri="https://example.com/smartcar/webhooks/",
            is_enabled=True,
            auto_subscribe=False,
            page=2,
            page_size=50,
        )
        assert (page.page, page.page_size, page.total_count, page.has_next) == (2, 50, 51, False)
        webhook = page[0]
        assert (webhook.id, webhook.name, webhook.is_enabled, webhook.auto_subscribe) == (
            "wh-1",
            "Home",
            True,
            False,
        )
        assert webhook.triggers[0]["code"] == "closure-islocked"
        assert webhook.signals[0]["code"] == "odometer-traveleddistance"
        assert webhook.created_at.isoformat() == "2026-04-22T10:00:00+00:00"
        assert webhook["attributes"]["callbackUri"] == "https://example.com/smartcar/webhooks/"

    def test_iter_webhooks_walks_the_pages(self, api, mocked):
        for number in (1, 2):
            mocked.get(
                f"{MANAGEMENT_V3}/webhooks",
                json={"data": [{**WEBHOOK, "id": f"wh-{number}"}], "meta": {"totalCount": 2, "pageSize": 1}},
                match=[matchers.query_param_matcher({"page[number]": str(number), "page[size]": "1"})],
            )
        assert [webhook.id for webhook in api.iter_webhooks(page_size=1)] == ["wh-1", "wh-2"]

    def test_get_webhook(self, api, mocked):
        mocked.get(
            f"{MANAGEMENT_V3}/webhooks/wh-1", json={"data": WEBHOOK}, match=[matchers.header_matcher(BEARER)]
        )
        webhook = api.get_webhook("wh-1")
        assert (webhook.id, webhook.callback_uri) == ("wh-1", "https://example.com/smartcar/webhooks/")
        assert webhook["data"]["type"] == "webhook"


class TestSubscriptions:
    def test_create_answers_202(self, api, mocked):
        mocked.post(
            f"{MANAGEMENT_V3}/subscriptions",
            status=202,
            json={"meta": {"message": "subscription creation in progress"}},
            match=[
                matchers.json_params_matcher(
                    {
                        "data": {
                            "attributes": {"webhookId": "wh-1", "userId": "user-1", "vehicleId": "vehicle-1"}
                        }
                    }
                ),
                matchers.header_matcher(BEARER),
            ],
        )
        answer = api.create_subscription("wh-1", "user-1", "vehicle-1")
        assert (answer.created, answer.already_exists, answer.http_status) == (True, False, 202)
        assert answer.message == "subscription creation in progress"
        assert answer["meta"]["message"] == "subscription creation in progress"

    def test_create_answers_409_when_it_exists_without_raising(self, api, mocked):
        mocked.post(
            f"{MANAGEMENT_V3}/subscriptions",
            status=409,
            json=jsonapi_error(409, "CONFLICT", None, "Subscription already exists."),
        )
        answer = api.create_subscription("wh-1", "user-1", "vehicle-1")
        assert (answer.created, answer.already_exists, answer.http_status) == (False, True, 409)
        assert answer.message == "Subscription already exists."

    def test_other_errors_raise(self, api, mocked):
        mocked.post(f"{MANAGEMENT_V3}/subscriptions", status=403, json=jsonapi_error(403, "PERMISSION"))
        with pytest.raises(PermissionException):
            api.create_subscription("wh-1", "user-1", "vehicle-1")

    def test_create_is_not_resent_after_a_time_out(self, api, mocked):
        mocked.post(f"{MANAGEMENT_V3}/subscriptions", body=requests.ReadTimeout("slow"))
        with pytest.raises(SmartcarTimeout):
            api.create_subscription("wh-1", "user-1", "vehicle-1")
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize(
        "args", [("", "user-1", "vehicle-1"), ("wh-1", None, "vehicle-1"), ("wh-1", "u", "")]
    )
    def test_create_needs_all_three_ids(self, api, args):
        with pytest.raises(ValueError):
            api.create_subscription(*args)

    def test_list_with_every_filter(self, api, mocked):
        mocked.get(
            f"{MANAGEMENT_V3}/subscriptions",
            json={"data": [SUBSCRIPTION], "meta": {"totalCount": 1}, "links": {"next": None}},
            match=[
                matchers.query_param_matcher(
                    {
                        "filter[userId]": "user-1",
                        "filter[webhookId]": "wh-1",
                        "filter[vehicleId]": "vehicle-1",
                        "filter[vehicle.mode]": "simulated",
                        "page[number]": "1",
                        "page[size]": "25",
                    }
                )
            ],
        )
        page = api.list_subscriptions(
            user_id="user-1", webhook_id="wh-1", vehicle_id="vehicle-1", mode="simulated", page_size=25
        )
        (subscription,) = page
        assert (subscription.webhook_id, subscription.user_id, subscription.vehicle_id) == (
            "wh-1",
            "user-1",
            "vehicle-1",
        )
        assert (subscription.make, subscription.mode, subscription.powertrain_type) == (
            "TESLA",
            "simulated",
            "BEV",
        )
        assert subscription.created_at.isoformat() == "2026-01-09T00:53:21+00:00"
        assert subscription.updated_at.isoformat() == "2026-01-09T01:00:00+00:00"
        assert not page.has_next

    def test_iter_subscriptions(self, api, mocked):
        mocked.get(
            f"{MANAGEMENT_V3}/subscriptions",
            json={"data": [SUBSCRIPTION], "links": {"next": "/subscriptions?page[number]=2"}},
            match=[matchers.query_param_matcher({"page[number]": "1", "filter[userId]": "user-1"})],
        )
        mocked.get(
            f"{MANAGEMENT_V3}/subscriptions",
            json={"data": [{**SUBSCRIPTION, "id": "sub-2"}], "links": {"next": None}},
            match=[matchers.query_param_matcher({"page[number]": "2", "filter[userId]": "user-1"})],
        )
        assert [item.id for item in api.iter_subscriptions(user_id="user-1")] == ["sub-1", "sub-2"]

    def test_get_and_delete(self, api, mocked):
        mocked.get(f"{MANAGEMENT_V3}/subscriptions/sub-1", json={"data": SUBSCRIPTION})
        mocked.delete(
            f"{MANAGEMENT_V3}/subscriptions/sub-1", status=204, match=[matchers.header_matcher(BEARER)]
        )
        assert api.get_subscription("sub-1").vehicle_id == "vehicle-1"
        assert api.delete_subscription("sub-1") is None


def test_a_401_renews_the_application_token_once(transport, mocked):
    mocked.post(IAM_TOKEN_URL, json={"access_token": "first", "expires_in": 3600})
    mocked.post(IAM_TOKEN_URL, json={"access_token": "second", "expires_in": 3600})
    mocked.get(
        f"{MANAGEMENT_V3}/webhooks/wh-1",
        status=401,
        json=jsonapi_error(401, "AUTHENTICATION"),
        match=[matchers.header_matcher({"Authorization": "Bearer first"})],
    )
    mocked.get(
        f"{MANAGEMENT_V3}/webhooks/wh-1",
        json={"data": WEBHOOK},
        match=[matchers.header_matcher({"Authorization": "Bearer second"})],
    )
    token = v3.ApplicationToken("client_x", "secret", transport=transport)
    assert v3.ManagementApi(token, transport=transport).get_webhook("wh-1").id == "wh-1"


def test_a_401_with_a_fixed_token_is_raised(api, mocked):
    mocked.delete(
        f"{MANAGEMENT_V3}/subscriptions/sub-1", status=401, json=jsonapi_error(401, "AUTHENTICATION")
    )
    with pytest.raises(AuthenticationException) as caught:
        api.delete_subscription("sub-1")
    assert APP_TOKEN not in repr(caught.value)
