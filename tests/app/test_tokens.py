"""Token access and rotation against the live simulator: lazy refresh, rotation window, failures, races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from django_smartcar import client
from django_smartcar.exceptions import ReauthenticationRequired
from django_smartcar.models import SmartcarAccount
from django_smartcar.services.clients import get_auth_client, get_transport
from django_smartcar.services.tokens import get_access_token, rotate_tokens
from django_smartcar.simulator import clock, faults
from django_smartcar.simulator.models import FaultTarget, RefreshToken
from tests.races import RACE_LATENCY_MS, CriticalSections

Status = SmartcarAccount.Status


def issued_refresh_tokens() -> int:
    """How many refresh tokens the simulator has issued: one per code exchange or refresh."""
    return RefreshToken.objects.count()


def expire_access(account: SmartcarAccount) -> SmartcarAccount:
    SmartcarAccount.objects.filter(pk=account.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    return SmartcarAccount.objects.get(pk=account.pk)


def test_a_fresh_access_token_is_used_without_asking_smartcar(account):
    before = issued_refresh_tokens()
    assert get_access_token(account) == account.access_token
    assert issued_refresh_tokens() == before


def test_an_expired_access_token_is_refreshed_and_stored(account, record_signal):
    refreshed = record_signal("tokens_refreshed")
    account = expire_access(account)
    old_access, old_refresh = account.access_token, account.refresh_token
    before = issued_refresh_tokens()

    token = get_access_token(account)

    assert token != old_access and issued_refresh_tokens() == before + 1
    stored = SmartcarAccount.objects.get(pk=account.pk)
    assert stored.access_token == token and stored.refresh_token != old_refresh
    assert stored.access_expires_at > timezone.now() + timedelta(hours=1)
    assert [c["account"].pk for c in refreshed.calls] == [account.pk]


def test_the_new_token_reaches_smartcar(account):
    token = get_access_token(expire_access(account))
    assert client.get_user_id(token, transport=get_transport()) == account.smartcar_user_id


def test_rotation_waits_for_the_window_then_renews_for_sixty_days(account):
    before = issued_refresh_tokens()
    assert rotate_tokens(account) is False
    assert issued_refresh_tokens() == before

    SmartcarAccount.objects.filter(pk=account.pk).update(
        refresh_expires_at=timezone.now() + timedelta(days=9)
    )
    account.refresh_from_db()
    assert rotate_tokens(account) is True
    assert issued_refresh_tokens() == before + 1
    account.refresh_from_db()
    assert account.refresh_expires_at > timezone.now() + timedelta(days=59, hours=23)


def test_a_dead_refresh_token_moves_the_account_to_reauth_required(
    account, record_signal, one_minute_refresh_grace
):
    reauth = record_signal("reauth_required")
    # The refresh token was used elsewhere, and Smartcar's one-minute grace for the old one has passed.
    get_auth_client().exchange_refresh_token(account.refresh_token)
    clock.advance(120)
    account = expire_access(account)

    with pytest.raises(ReauthenticationRequired):
        get_access_token(account)

    account.refresh_from_db()
    assert account.status == Status.REAUTH_REQUIRED and account.last_refresh_error
    assert [c["account"].pk for c in reauth.calls] == [account.pk]
    # It stays refused without asking Smartcar again.
    before = issued_refresh_tokens()
    with pytest.raises(ReauthenticationRequired):
        get_access_token(account)
    assert issued_refresh_tokens() == before


def test_a_transient_failure_keeps_the_account_usable(account, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=1)}
    account = expire_access(account)
    faults.inject("server_errors", target="token", statuses=[502])

    with pytest.raises(client.SmartcarException) as excinfo:
        get_access_token(account)
    assert excinfo.value.retryable
    account.refresh_from_db()
    assert account.status == Status.REFRESH_FAILING and account.consecutive_failures == 1

    faults.clear()
    assert get_access_token(account)
    account.refresh_from_db()
    assert account.status == Status.ACTIVE and account.consecutive_failures == 0


def test_refreshing_inside_a_callers_transaction_is_refused(account):
    account = expire_access(account)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        get_access_token(account)


def test_ten_concurrent_callers_cause_exactly_one_refresh(account):
    """Threads with their own database connections race for an expired token (PostgreSQL in CI's second leg).

    Each caller holds the account as read before the race, expired, so each must go for the lock; the token
    endpoint answers slowly, so every caller is inside ``get_access_token`` while the first one refreshes (the
    test fails if they were not: then the lock was never contended).
    """
    account = expire_access(account)
    faults.inject("latency", target=FaultTarget.TOKEN, latency_ms=RACE_LATENCY_MS)
    before = issued_refresh_tokens()
    results: list[str] = []
    errors: list[BaseException] = []
    stale = [SmartcarAccount.objects.get(pk=account.pk) for _ in range(10)]
    start = threading.Barrier(10, timeout=30)
    sections = CriticalSections()

    def caller(mine: SmartcarAccount) -> None:
        try:
            start.wait()
            with sections.inside():
                results.append(get_access_token(mine))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=caller, args=(mine,)) for mine in stale]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sections.assert_all_inside_at_once(10)
    assert issued_refresh_tokens() == before + 1
    assert len(results) == 10 and len(set(results)) == 1
    account.refresh_from_db()
    assert account.status == Status.ACTIVE and account.access_token == results[0]


def token_requests(sent: list[tuple[str, str]]) -> int:
    return sum(1 for method, path in sent if method == "POST" and path == "/oauth/token")


def test_a_lost_token_answer_is_repeated_at_once_and_the_account_stays_active(
    account, smartcar_requests, record_signal, one_minute_refresh_grace
):
    """Smartcar rotates, the answer is lost (504): the page's own call presents the old token again at once."""
    refreshed = record_signal("tokens_refreshed")
    account = expire_access(account)
    old_refresh = account.refresh_token
    faults.inject("lose_token_response", remaining=1)

    token = get_access_token(account)

    assert token_requests(smartcar_requests) == 2
    stored = SmartcarAccount.objects.get(pk=account.pk)
    assert stored.status == Status.ACTIVE and stored.consecutive_failures == 0
    assert stored.token_exchange_started_at is None
    assert stored.access_token == token and stored.refresh_token != old_refresh
    assert client.get_user_id(token, transport=get_transport()) == account.smartcar_user_id
    assert [call["account"].pk for call in refreshed.calls] == [account.pk]
    # Long after the reuse window, the stored refresh token is still the live one.
    clock.advance(120)
    assert rotate_tokens(stored, force=True) is True


def test_repeats_stop_inside_the_reuse_window_and_leave_the_exchange_marked(
    account, settings, smartcar_requests
):
    settings.SMARTCAR = {**settings.SMARTCAR, "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=2)}
    account = expire_access(account)
    faults.inject("server_errors", target="token", statuses=[502])
    started = timezone.now()

    with pytest.raises(client.SmartcarException):
        get_access_token(account)

    # Several attempts, none of them starting after the window (each pause is at most 4 s).
    assert token_requests(smartcar_requests) >= 2
    assert timezone.now() - started < timedelta(seconds=2 + 4 + 5)
    stored = SmartcarAccount.objects.get(pk=account.pk)
    # A 502 may have come after Smartcar rotated: the marker stays so that the exchange is resumed.
    assert stored.status == Status.REFRESH_FAILING and stored.token_exchange_started_at is not None

    faults.clear()
    assert get_access_token(stored)
    stored.refresh_from_db()
    assert stored.status == Status.ACTIVE and stored.token_exchange_started_at is None


def test_invalid_grant_is_never_repeated(account, smartcar_requests, one_minute_refresh_grace):
    get_auth_client().exchange_refresh_token(account.refresh_token)
    clock.advance(120)
    account = expire_access(account)
    before = token_requests(smartcar_requests)

    with pytest.raises(ReauthenticationRequired):
        get_access_token(account)

    assert token_requests(smartcar_requests) == before + 1
    account.refresh_from_db()
    assert account.status == Status.REAUTH_REQUIRED and account.token_exchange_started_at is None


def test_a_rate_limit_longer_than_the_window_is_not_waited_for(account, smartcar_requests):
    account = expire_access(account)
    faults.inject("rate_limit", target="token", retry_after=120)
    started = timezone.now()

    with pytest.raises(client.RateLimitingException):
        get_access_token(account)

    assert token_requests(smartcar_requests) == 1 and timezone.now() - started < timedelta(seconds=5)
    account.refresh_from_db()
    # Smartcar refused before rotating: nothing is in flight, nothing to resume.
    assert account.status == Status.REFRESH_FAILING and account.token_exchange_started_at is None


def test_a_short_rate_limit_is_waited_for_within_the_window(account, smartcar_requests):
    account = expire_access(account)
    faults.inject("rate_limit", target="token", retry_after=1, remaining=2)

    assert get_access_token(account)

    assert token_requests(smartcar_requests) == 3
    account.refresh_from_db()
    assert account.status == Status.ACTIVE


def test_a_smartcar_failing_fast_gets_a_bounded_number_of_attempts(account, settings, smartcar_requests):
    from django_smartcar.services.tokens import MAX_EXCHANGE_ATTEMPTS

    settings.SMARTCAR = {**settings.SMARTCAR, "TOKEN_EXCHANGE_RETRY_WINDOW": timedelta(seconds=60)}
    account = expire_access(account)
    # "Retry-After: 0" is no invitation to hammer: the pauses still back off.
    faults.inject("rate_limit", target="token", retry_after=0)
    started = timezone.now()

    with pytest.raises(client.RateLimitingException):
        get_access_token(account)

    assert token_requests(smartcar_requests) == MAX_EXCHANGE_ATTEMPTS
    assert timezone.now() - started > timedelta(seconds=0.25 + 0.5 + 1 + 2 + 2)
