"""Tokens are encrypted at rest, hidden from repr, and survive an encryption key rotation."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from django_smartcar import crypto
from django_smartcar.models import SmartcarAccount

OLD_KEY = "K-ewv9ECXCtSPUrXvMbUmDLIeQ-WLN1qw8CmKXJE3cE="
NEW_KEY = "uo-U2VotAXZM5w9kAalyuM5E4sT2l2kW4L7yn6BCCss="
ACCESS = "access-token-plaintext-1234"
REFRESH = "refresh-token-plaintext-5678"


@pytest.fixture
def account(db, django_user_model, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [OLD_KEY]}
    account = SmartcarAccount(
        owner=django_user_model.objects.create(username="ann"), smartcar_user_id="user-1"
    )
    account.access_token = ACCESS
    account.refresh_token = REFRESH
    account.access_expires_at = account.refresh_expires_at = timezone.now()
    account.save()
    return account


def raw_columns(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, refresh_token_encrypted FROM django_smartcar_smartcaraccount "
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_the_database_holds_no_plaintext_token(account):
    access_column, refresh_column = raw_columns(account.pk)
    assert ACCESS not in access_column and REFRESH not in refresh_column
    reloaded = SmartcarAccount.objects.get(pk=account.pk)
    assert (reloaded.access_token, reloaded.refresh_token) == (ACCESS, REFRESH)


def test_repr_and_str_never_show_tokens(account):
    for text in (repr(account), str(account)):
        assert ACCESS not in text and REFRESH not in text
        assert account.access_token_encrypted not in text


def test_a_new_key_first_still_reads_tokens_written_with_the_old_one(account, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY, OLD_KEY]}
    assert SmartcarAccount.objects.get(pk=account.pk).refresh_token == REFRESH


def test_reencrypt_command_moves_every_token_to_the_newest_key(account, settings, capsys):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY, OLD_KEY]}
    call_command("smartcar_reencrypt_tokens")
    assert "1 account(s) re-encrypted" in capsys.readouterr().out

    # Only the new key is needed from now on.
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY]}
    reloaded = SmartcarAccount.objects.get(pk=account.pk)
    assert (reloaded.access_token, reloaded.refresh_token) == (ACCESS, REFRESH)


def test_reencrypt_dry_run_writes_nothing(account, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY, OLD_KEY]}
    before = raw_columns(account.pk)
    call_command("smartcar_reencrypt_tokens", "--dry-run")
    assert raw_columns(account.pk) == before


def test_reencrypt_reports_tokens_no_key_can_read(account, settings, capsys):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY]}
    call_command("smartcar_reencrypt_tokens")
    output = capsys.readouterr()
    assert "0 account(s) re-encrypted, 1 failed" in output.out
    assert f"Account {account.pk}: no configured key decrypts its tokens." in output.err


def test_reencrypt_fails_the_command_on_request(account, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY]}
    with pytest.raises(CommandError, match="1 account") as excinfo:
        call_command("smartcar_reencrypt_tokens", "--fail-on-error")
    assert excinfo.value.returncode == 1
    assert account.refresh_token_encrypted not in str(excinfo.value)


def test_reencrypt_with_fail_on_error_succeeds_when_every_row_is_readable(account, settings, capsys):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY, OLD_KEY]}
    call_command("smartcar_reencrypt_tokens", "--fail-on-error")
    assert "1 account(s) re-encrypted, 0 failed" in capsys.readouterr().out


def test_a_lost_key_is_a_clear_error_without_the_ciphertext(account, settings):
    settings.SMARTCAR = {**settings.SMARTCAR, "ENCRYPTION_KEYS": [NEW_KEY]}
    with pytest.raises(crypto.EncryptionKeyError) as excinfo:
        SmartcarAccount.objects.get(pk=account.pk).refresh_token
    assert account.refresh_token_encrypted not in str(excinfo.value)
