"""What Connect's API V3 redirect proves: the ``user_id`` it carries, believed only once Smartcar confirms it.

In v2 the redirect's ``code`` proved itself: only Smartcar could issue it, and exchanging it gave the tokens of
the user who signed in. V3's redirect carries the Smartcar user id in clear, and the application token reaches
every user of the application, so a user id typed into the callback URL (someone else's) would bind their cars
to whoever typed it. The id is therefore accepted only if Smartcar lists a connection of that user to this
application created or updated since this Connect began: the connection the person at the callback has just
made. A victim's older connections never qualify; an attacker would have to know a user id *and* have that
user connect through this same application within the few minutes the state lives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from .. import client
from ..client import v3
from ..exceptions import InvalidConnectRequest
from ..models import SmartcarAccount
from ..text import column_length, is_plain_text

logger = logging.getLogger(__name__)

# Smartcar's clock against ours: a connection stamped up to this long before the state was created still counts.
CLOCK_SKEW = timedelta(minutes=2)
USER_ID_MAX_LENGTH = column_length(SmartcarAccount, "smartcar_user_id")

NOT_CONFIRMED = (
    "Smartcar did not confirm this connection (no vehicle was connected just now for this user). "
    "Please start again."
)


def user_id_from_redirect(params: Mapping[str, str]) -> str:
    """The redirect's ``user_id``, if it is one that can be a Smartcar user id; else ``InvalidConnectRequest``.
    (A ``code`` beside it, which v2 sites exchange, means nothing here.)"""
    user_id = (params.get("user_id") or "").strip()
    if not user_id:
        raise InvalidConnectRequest("The Connect response carried no user id. Please start again.")
    if not is_plain_text(user_id, USER_ID_MAX_LENGTH) or any(char.isspace() for char in user_id):
        raise InvalidConnectRequest("The Connect response carried an invalid user id. Please start again.")
    return user_id


def confirmed_connections(api: v3.VehicleApi, user_id: str, *, since: datetime) -> list[v3.Connection]:
    """Every connection of ``user_id`` to this application, provided one of them was created or updated at or
    after ``since`` (the Connect state's creation) minus ``CLOCK_SKEW``; else ``InvalidConnectRequest``.

    Smartcar answering 400 or 404 for the id (not an id it knows the shape of) is a refusal too, not an outage;
    any other Smartcar error is raised for the caller to report as one.
    """
    try:
        connections = list(api.iter_connections(user_id=user_id))
    except (client.ValidationException, client.ResourceNotFoundException) as exc:
        logger.info("Smartcar refused the user id of a Connect redirect: %s", exc)
        raise InvalidConnectRequest(NOT_CONFIRMED) from None
    threshold = since - CLOCK_SKEW
    fresh = [
        connection
        for connection in connections
        if connection.user_id in (None, user_id)
        and any(
            stamp is not None and stamp >= threshold
            for stamp in (connection.created_at, connection.updated_at)
        )
    ]
    if not fresh:
        logger.warning(
            "A Connect callback named Smartcar user %s, which has no connection made since the state was created "
            "(%s connection(s) in all): refused",
            user_id[:8],
            len(connections),
        )
        raise InvalidConnectRequest(NOT_CONFIRMED)
    return [connection for connection in connections if connection.user_id in (None, user_id)]
