"""Key-name rules: the last word of a key decides; metric names that mention tokens are not secrets."""

from __future__ import annotations

import pytest

from agent_audit.core.redaction.keys import key_kind


@pytest.mark.parametrize("key", [
    "password", "passwd", "pwd", "db_password", "DB_PASSWORD", "userPassword", "password2", "password_hash",
    "secret", "client_secret", "clientSecret", "token", "access_token", "refresh_token", "id_token",
    "X-Auth-Token", "sessionToken", "accesstoken", "api_key", "apiKey", "APIKey", "apikey", "x-api-key",
    "private_key", "privateKey", "private_key_pem", "AWS_SECRET_ACCESS_KEY", "AccountKey",
    "authorization", "Authorization", "auth", "basic_auth", "credentials", "credential", "cookie",
    "Set-Cookie", "passphrase", "Passwort", "mot_de_passe", "contraseña", "jwt", "cvv",
])
def test_secret_like_keys_are_secrets(key: str) -> None:
    """Keys naming a password, secret, token, key, credential or cookie mask their value."""
    assert key_kind(key) == "SECRET"


@pytest.mark.parametrize("key", [
    "tokens_used", "max_tokens", "token_count", "tokenCount", "prompt_tokens", "completion_tokens",
    "total_tokens", "input_token_count", "token_usage", "token_limit", "token_type", "tokenizer",
    "auth_method", "auth_type", "authenticated", "author", "password_policy", "password_changed_at",
    "secret_name", "cookie_consent", "key", "primary_key", "cache_key", "sort_key",
    "keyboard", "session_id", "user_id", "event_id", "oauth", "secretary", "passwordless", "ship", "zip",
    "email_verified", "phone_count", "description", "",
])
def test_metric_and_ordinary_keys_are_not_secrets(key: str) -> None:
    """Whole words decide, not substrings: tokens_used and max_tokens are LLM metrics."""
    assert key_kind(key) is None


@pytest.mark.parametrize(("key", "kind"), [
    ("email", "EMAIL"), ("user_email", "EMAIL"), ("emailAddress", "EMAIL"), ("phone", "PHONE"),
    ("phone_number", "PHONE"), ("mobile", "PHONE"), ("ssn", "SSN"), ("iban", "IBAN"),
    ("card_number", "CARD"), ("creditCard", "CARD"), ("client_ip", "IP"), ("ip_address", "IP"),
])
def test_personal_data_keys_name_their_kind(key: str, kind: str) -> None:
    """A value under 'phone' or 'email' is masked as that kind, whatever its format."""
    assert key_kind(key) == kind


def test_every_secret_word_holds_a_hint_the_text_prefilter_looks_for() -> None:
    """The assignment detector skips texts holding none of KEY_HINTS: every secret word, pair and
    suffix of the key tables must contain one, or its assignments would be missed."""
    from agent_audit.core.redaction import keys  # noqa: PLC0415
    from agent_audit.core.redaction.detectors import _may_assign  # noqa: PLC0415

    words = [w for w, kind in {**keys._WORDS, **keys._PAIRS}.items() if kind == keys.SECRET]
    words += [w for w, kind in keys._SUFFIXES if kind == keys.SECRET]
    for word in words:
        assert any(h in word for h in keys.KEY_HINTS), word
        assert _may_assign(f"{word}=x"), word
