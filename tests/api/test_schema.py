"""The OpenAPI schema, and a bounded schemathesis run of every API operation against the live server.

Every answer must be documented: no 5xx, and status, content type, body and headers as the schema says. The
run goes through the live simulator (commands reach the simulated cars), as a user with real and foreign ids.
"""

from __future__ import annotations

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from django_smartcar.models import VehicleCommand, VehicleRefresh
from django_smartcar.services.commands import send_command
from django_smartcar.services.refreshes import queue_refresh

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}
REQUEST_TIMEOUT = 15
# The whole run must stay well inside the suite's budget.
RUN_BUDGET_SECONDS = 90


def test_the_schema_describes_every_endpoint(db, client):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/smartcar/vehicles/",
        "/api/smartcar/vehicles/{id}/",
        "/api/smartcar/vehicles/{id}/lock/",
        "/api/smartcar/vehicles/{id}/unlock/",
        "/api/smartcar/vehicles/{id}/start-charge/",
        "/api/smartcar/vehicles/{id}/stop-charge/",
        "/api/smartcar/vehicles/{id}/refresh/",
        "/api/smartcar/commands/",
        "/api/smartcar/commands/{id}/",
        "/api/smartcar/refreshes/",
        "/api/smartcar/refreshes/{id}/",
        "/api/smartcar/accounts/",
        "/api/smartcar/accounts/{id}/",
        "/api/smartcar/connect-url/",
    } <= set(paths)
    lock = paths["/api/smartcar/vehicles/{id}/lock/"]["post"]
    assert {"200", "202", "403", "409", "429", "502"} <= set(lock["responses"])
    assert "Retry-After" in lock["responses"]["429"]["headers"]
    assert {"basicAuth": []} in lock["security"] and {} not in lock["security"]
    refresh = paths["/api/smartcar/vehicles/{id}/refresh/"]["post"]
    assert "Location" in refresh["responses"]["202"]["headers"]
    assert "Location" in lock["responses"]["202"]["headers"]


@pytest.fixture
def known_ids(account, other_account, user):
    """Ids the run mixes into the generated ones: the user's own objects and another user's."""
    mine, theirs = account.vehicles.order_by("pk").first(), other_account.vehicles.get()
    send_command(mine, "lock", user=user)
    send_command(theirs, "unlock")
    queue_refresh(mine, user=user)
    queue_refresh(theirs)
    return {
        "vehicles": [mine.pk, theirs.pk],
        "commands": list(VehicleCommand.objects.values_list("pk", flat=True)),
        "refreshes": list(VehicleRefresh.objects.values_list("pk", flat=True)),
        "accounts": [account.pk, other_account.pk],
    }


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, known_ids, queued, settings):
    # The app's command throttle would turn most generated commands into 429s before they reach Smartcar.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"smartcar_commands": None},
    }
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json").include(
        path_regex="^/api/smartcar/"
    )
    session = requests.Session()
    session.auth = ("ann", "pw")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Disconnecting the account last, so every other operation also runs against connected cars.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    started = time.monotonic()

    for operation in operations:
        for mode, examples in EXAMPLES.items():
            strategy = strategy_for(operation, mode, known_ids)
            if strategy is None:
                continue

            @hypothesis_settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case):
                case.call_and_validate(
                    base_url=live_server.url, session=session, checks=CHECKS, timeout=REQUEST_TIMEOUT
                )

            run()

    assert time.monotonic() - started < RUN_BUDGET_SECONDS
    assert queued, "some generated commands were queued (the default)"


def strategy_for(operation, mode: GenerationMode, known_ids: dict[str, list[int]]):
    """Cases for ``operation``: generated ids (mostly unknown) and the known ones, own and foreign.

    Negative cases keep known ids in the path (a malformed path is Django's 404 page, not the API's) and
    break the query or the body instead; an operation with neither has no negative cases.
    """
    has_id = "{id}" in operation.path
    if mode == GenerationMode.NEGATIVE:
        if not (len(operation.query) or len(operation.body)):
            return None
        ids = known_ids[operation.path.split("/")[3]] if has_id else [None]
        return st.one_of(
            [operation.as_strategy(mode, path_parameters={"id": pk} if pk else None) for pk in ids]
        )
    if not has_id:
        return operation.as_strategy(mode)
    ids = known_ids[operation.path.split("/")[3]]
    return st.one_of(
        operation.as_strategy(mode), *(operation.as_strategy(mode, path_parameters={"id": pk}) for pk in ids)
    )
