"""Smartcar's Management API V3: the application's webhooks and the vehicles' subscriptions to them.

Authenticated with the application token, like the Vehicle API V3 (a 401 with an ``ApplicationToken``: one
resend with a new token). Webhooks themselves are made in the Dashboard: there is no create call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..config import Origins
from ..exceptions import SmartcarException
from ..transport import MANAGEMENT, Transport
from .calls import TokenCaller, TokenSource, filter_params, iterate_pages, page_params, path_segment, required
from .results import Page, Subscription, SubscriptionRequest, Webhook, page_from_document


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


class ManagementApi:
    """The Management API V3 with one token source (see ``VehicleApi``)."""

    def __init__(
        self,
        token: TokenSource,
        *,
        transport: Transport | None = None,
        origins: Origins | None = None,
    ) -> None:
        self._caller = TokenCaller(token, transport=transport, origins=origins)

    def __repr__(self) -> str:
        return "ManagementApi()"

    @property
    def transport(self) -> Transport:
        return self._caller.transport

    def _url(self, path: str) -> str:
        return self._caller.origins.management_v3_url(path)

    # --- webhooks -------------------------------------------------------------------------------

    def list_webhooks(
        self,
        *,
        name: str | None = None,
        callback_uri: str | None = None,
        is_enabled: bool | None = None,
        auto_subscribe: bool | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[Webhook]:
        """One page of the application's webhooks (``page_size`` at most 100)."""
        params = filter_params(
            {
                "name": name,
                "callbackUri": callback_uri,
                "isEnabled": _flag(is_enabled),
                "autoSubscribe": _flag(auto_subscribe),
            }
        )
        params.update(page_params(page, page_size))
        response = self._caller.send(
            "GET", self._url("webhooks"), params=params, call=MANAGEMENT, retry_safe=True
        )
        return page_from_document(
            response.body,
            response.headers,
            Webhook.from_resource,
            requested_page=page,
            requested_size=page_size,
            what="webhooks",
        )

    def iter_webhooks(self, **filters: Any) -> Iterator[Webhook]:
        """Every webhook matching the filters of ``list_webhooks``, page after page."""
        return iterate_pages(lambda page: self.list_webhooks(page=page, **filters))

    def get_webhook(self, webhook_id: str) -> Webhook:
        url = self._url(f"webhooks/{path_segment(webhook_id, 'webhook_id')}")
        response = self._caller.send("GET", url, call=MANAGEMENT, retry_safe=True)
        return Webhook.from_document(response.body, response.headers)

    # --- subscriptions --------------------------------------------------------------------------

    def create_subscription(self, webhook_id: str, user_id: str, vehicle_id: str) -> SubscriptionRequest:
        """Subscribe a user's vehicle to a webhook. Smartcar answers ``202`` (``created``: being made; a
        ``FIRST_DELIVERY`` follows) or ``409`` when the subscription exists (``already_exists``; not raised)."""
        attributes = {
            "webhookId": required(webhook_id, "webhook_id"),
            "userId": required(user_id, "user_id"),
            "vehicleId": required(vehicle_id, "vehicle_id"),
        }
        try:
            # Not resent after a time-out (a write): Smartcar may be making it already.
            response = self._caller.send(
                "POST",
                self._url("subscriptions"),
                json={"data": {"attributes": attributes}},
                call=MANAGEMENT,
                retry_safe=False,
            )
        except SmartcarException as error:
            if error.status_code != 409:
                raise
            return SubscriptionRequest(
                created=False,
                already_exists=True,
                message=error.description,
                http_status=409,
                document={"errors": error.errors} if error.errors else {},
            )
        meta = response.body.get("meta")
        message = meta.get("message") if isinstance(meta, dict) else None
        return SubscriptionRequest(
            created=True,
            message=message if isinstance(message, str) else None,
            http_status=response.status_code,
            document=response.body,
            headers=response.headers,
        )

    def list_subscriptions(
        self,
        *,
        user_id: str | None = None,
        webhook_id: str | None = None,
        vehicle_id: str | None = None,
        mode: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[Subscription]:
        """One page of the subscriptions (``page_size`` at most 100)."""
        params = filter_params(
            {"userId": user_id, "webhookId": webhook_id, "vehicleId": vehicle_id, "vehicle.mode": mode}
        )
        params.update(page_params(page, page_size))
        response = self._caller.send(
            "GET", self._url("subscriptions"), params=params, call=MANAGEMENT, retry_safe=True
        )
        return page_from_document(
            response.body,
            response.headers,
            Subscription.from_resource,
            requested_page=page,
            requested_size=page_size,
            what="subscriptions",
        )

    def iter_subscriptions(self, **filters: Any) -> Iterator[Subscription]:
        """Every subscription matching the filters of ``list_subscriptions``, page after page."""
        return iterate_pages(lambda page: self.list_subscriptions(page=page, **filters))

    def get_subscription(self, subscription_id: str) -> Subscription:
        url = self._url(f"subscriptions/{path_segment(subscription_id, 'subscription_id')}")
        response = self._caller.send("GET", url, call=MANAGEMENT, retry_safe=True)
        return Subscription.from_document(response.body, response.headers)

    def delete_subscription(self, subscription_id: str) -> None:
        """Stop a subscription's deliveries."""
        url = self._url(f"subscriptions/{path_segment(subscription_id, 'subscription_id')}")
        self._caller.send("DELETE", url, call=MANAGEMENT, retry_safe=False)
