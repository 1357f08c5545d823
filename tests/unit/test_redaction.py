"""Redaction: golden cases per detector, hard negatives, keyed tokens, events, and the value walk."""

from __future__ import annotations

import copy

import pytest

from agent_audit.core.contract import validate_event
from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.redactor import MAX_DEPTH, STRUCTURAL
from tests.factories import event

R = Redactor()


@pytest.mark.parametrize(("text", "expected"), [
    ("mail jane.doe@example.com now", "mail [EMAIL] now"),
    ("<Jane.Doe+news@Mail.Example.CO.UK>", "<[EMAIL]>"),
    ("josé.garcía@müller-bau.de schrieb", "[EMAIL] schrieb"),
    ("see ?user=jane@example.com&x=1", "see ?user=[EMAIL]&x=1"),
    ("card 4111 1111 1111 1111.", "card [CARD]."),
    ("card 5500-0000-0000-0004", "card [CARD]"),
    ("amex 3782 822463 10005 ok", "amex [CARD] ok"),
    ("card 4111111111111111 exp 12/27", "card [CARD] exp 12/27"),
    ("card 4111 1111 1111 1111 12/27", "card [CARD] 12/27"),
    ("order 12345 555-123-4567 2 times", "order 12345 [PHONE] 2 times"),
    ("iban DE89 3704 0044 0532 0130 00 ok", "iban [IBAN] ok"),
    ("iban GB82WEST12345698765432", "iban [IBAN]"),
    ("ssn 123-45-6789", "ssn [SSN]"),
    ("SSN: 123456789", "SSN: [SSN]"),
    ("from 192.168.10.24 to", "from [IP] to"),
    ("v6 2001:db8::8a2e:370:7334 here", "v6 [IP] here"),
    ("http://[2001:db8::1:2]:8080/", "http://[[IP]]:8080/"),
    ("key AKIAIOSFODNN7EXAMPLE", "key [SECRET]"),
    ("ghp_" + "a1" * 18, "[SECRET]"),
    ("use sk-ant-api03-abcdefghijklmnopqrstuv1", "use [SECRET]"),
    ("Authorization: Bearer abc.def-ghi_jkl123", "Authorization: Bearer [SECRET]"),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "curl -H 'Authorization: Basic [SECRET]'"),
    ("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "t=[JWT]"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----", "[PRIVATE_KEY]"),
    ("x -----BEGIN PRIVATE KEY-----\nMIIEow (cut off", "x [PRIVATE_KEY]"),
    ("db postgres://admin:hunter2@db.internal:5432/x", "db postgres://[CREDENTIALS]@db.internal:5432/x"),
    ("DB_PASSWORD=hunter2 next", "DB_PASSWORD=[SECRET] next"),
    ('{"api_key": "abc def"}', '{"api_key": "[SECRET]"}'),
    ("https://api.example.com/v1?access_token=abc123&page=2", "https://api.example.com/v1?access_token=[SECRET]&page=2"),
])
def test_pii_is_replaced_by_a_typed_placeholder(text: str, expected: str) -> None:
    """Each detector replaces what it finds, and only that, by [TYPE]."""
    assert R.redact_text(text)[0] == expected


@pytest.mark.parametrize("phone", [
    "+1 415 555 0132", "(415) 555-0132", "415.555.0132", "1-800-555-0199", "+44 20 7946 0958",
    "020 7946 0958", "07700 900123", "+44 (0)161 496 0000", "(+44) 20 7946 0958", "+49 30 901820",
    "030 1234567", "030/1234567", "0151 23456789", "(089) 1234567", "+33 6 12 34 56 78",
    "01.23.45.67.89", "612 34 56 78", "91 123 45 67", "+39 06 1234 5678", "333 123 4567",
    "+31 6 12345678", "020-1234567", "03-1234-5678", "090-1234-5678", "(02) 1234 5678", "0412 345 678",
    "+91 98765 43210", "98765 43210", "(11) 91234-5678", "+86 138 0013 8000", "+442079460958",
    "0044 20 7946 0958", "+7 495 123-45-67", "+82 10-1234-5678",
    "8 067 203 61 90", "8 (954) 220-58-79", "8 144 180 0686", "511 289 161", "08-14 41 80",
])
def test_phones_of_many_locales_are_found(phone: str) -> None:
    """International and common national formats (US, UK, DE, FR, ES, IT, NL, JP, AU, IN, BR, CN;
    Russia's trunk 8, Poland's 3-3-3 mobiles, Stockholm's eight digits in groups)."""
    assert R.redact_text(f"call {phone} today") == ("call [PHONE] today", {"PHONE": 1})


def test_a_bare_digit_run_is_a_phone_only_after_a_context_word_or_with_a_trunk_zero() -> None:
    """2025550123 alone may be an id; after 'mobile' it is a phone number. A national number written
    with its trunk 0 (07700900123, 0261359775) is one anyway; a zero-padded id (0000123456) is not."""
    assert R.redact_text("ref 2025550123")[1] == {}
    assert R.redact_text("my mobile is 2025550123")[0] == "my mobile is [PHONE]"
    assert R.redact_text("ref 07700900123")[0] == "ref [PHONE]"
    assert R.redact_text("appelez le 0261359775")[0] == "appelez le [PHONE]"
    assert R.redact_text("invoice 0000123456")[1] == {}


def test_phones_as_forms_and_crms_write_them() -> None:
    """A trunk 0 in parentheses right after the country code, and an extension after an 'x'."""
    assert R.redact_text("+49(0)4270 31617")[0] == "[PHONE]"
    assert R.redact_text("+44(0)1314960315 (office)")[0] == "[PHONE] (office)"
    assert R.redact_text("+31(0)44-7447375")[0] == "[PHONE]"
    assert R.redact_text("call 001-981-270-6964x5669")[0] == "call [PHONE]x5669"
    assert R.redact_text("(390)583-6308x3898")[0] == "[PHONE]x3898"
    assert R.redact_text("box 7x9 m")[1] == {}  # an x between small numbers is a dimension


def test_brazilian_and_chinese_numbers_without_their_usual_dress() -> None:
    """Brazil's area code without parentheses (11 98643-4820, 67 8643-4820); a Chinese mobile bare
    (eleven digits from 13x to 19x). Other digit runs of those sizes stay."""
    assert R.redact_text("ligue 67 8643-4820")[0] == "ligue [PHONE]"
    assert R.redact_text("ligue 11 98643-4820")[0] == "ligue [PHONE]"
    assert R.redact_text("请拨打 18337597352")[0] == "请拨打 [PHONE]"
    for text in ("id 12337597352", "id 10337597352", "grid 67 8643 4820", "pages 67 8643-48201"):
        assert R.redact_text(text)[1] == {}, text


def test_maestro_and_older_jcb_numbers_are_cards() -> None:
    """Maestro's own prefixes run from 12 digits; JCB issued 15-digit numbers from 1800 and 2131. A
    13-digit duration from Maestro's wider range stays (it passes Luhn)."""
    for number in ("676314912871", "639089279249", "180016952291522", "213136587517504"):
        assert R.redact_text(f"paid with {number}")[0] == "paid with [CARD]", number
    assert R.redact_text("paid with 676314912872")[1] == {}  # fails Luhn
    assert R.redact_text("took 5740904785066 ns")[1] == {}


@pytest.mark.parametrize("text", [
    "order 12345 shipped", "released v1.2.3 on 2026-11-25", "uuid 0b7c6c1e-8d4a-4f7e-9a59-3c1d2e4f5a6b",
    "card-like 4111 1111 1111 1112 fails Luhn", "tokens_used=812", "max_tokens: 4096", "token_count=3",
    "at 10:30:00 on 2026-11-25T10:30:00Z", "logged 2026-11-25 10:30:12.123", "am 25.11.2026 14:00",
    "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "https://example.com/path?q=1", "1Z999AA10123456784",
    "USPS 9400 1000 0000 0000 0000 00", "ts=1764057600 and 1764057600123 ms", "price $1,234.56 or € 12,50",
    "build 10.0.19045.3803", "ISBN 978-0-306-40615-7", "std::vector<int> v; a::b::c", "0x7ffd5f3c2a10",
    "password policy updated", "basic authentication is disabled", "the bearer of this letter",
    "risk-assessment-2026-final-report", "auth_method: oauth", "coords 48.8566, 2.3522",
    "MAC 00:1a:2b:3c:4d:5e", "Mozilla/5.0 (X11; Linux x86_64; rv:1.9.0.20) Gecko/20100101 Firefox/3.6",
    "version 1.2.3.4 released",
    "item 2 067 203 61 90", "part 411 289 161", "room 0812-3456",  # the phone shapes' neighbours
])
def test_hard_negatives_are_left_alone(text: str) -> None:
    """Order numbers, versions, dates, UUIDs, hashes, tracking numbers and metrics are not PII."""
    assert R.redact_text(text) == (text, {})


def test_a_mistyped_iban_is_not_labelled_an_iban_nor_split_into_a_phone() -> None:
    """A failed checksum is not an IBAN, and its digits must not become a '0044...' phone."""
    _, counts = R.redact_text("iban-like DE89 3704 0044 0532 0130 01 fails mod-97")
    assert "IBAN" not in counts and "PHONE" not in counts


def test_keyed_tokens_are_stable_per_value_and_key_and_ignore_formatting() -> None:
    """With a key the same value gives the same token (joins survive), whatever its case or
    separators; another value or another key gives another token."""
    a, b = Redactor(key=b"k1", key_version="v1"), Redactor(key=b"k2", key_version="v2")
    t1 = a.redact_text("x@example.com")[0]
    assert t1 == a.redact_text("X@Example.COM")[0] != a.redact_text("y@example.com")[0]
    assert t1.startswith("[EMAIL:") and len(t1) == len("[EMAIL:]") + 12
    assert b.redact_text("x@example.com")[0] != t1
    assert a.redact_text("4111 1111 1111 1111")[0] == a.redact_text("4111-1111-1111-1111")[0]
    assert "x@example.com" not in t1


def test_values_under_secret_keys_are_masked_but_metric_keys_are_not() -> None:
    """password/apiKey/Authorization are masked whatever they hold (containers keep their shape);
    tokens_used, max_tokens and token_count are metrics; booleans and nulls stay."""
    out, counts = R.redact_value({
        "password": "hunter2", "apiKey": 42, "Authorization": "Bearer x", "tokens_used": 812,
        "max_tokens": 1000, "token_count": 3, "nested": [{"client_secret": "s"}], "has_password": True,
        "refresh_token": None, "credentials": {"user": "u", "pin": 1234}, "phone": "2025550173"})
    assert out == {
        "password": "[SECRET]", "apiKey": "[SECRET]", "Authorization": "[SECRET]", "tokens_used": 812,
        "max_tokens": 1000, "token_count": 3, "nested": [{"client_secret": "[SECRET]"}], "has_password": True,
        "refresh_token": None, "credentials": {"user": "[SECRET]", "pin": "[SECRET]"}, "phone": "[PHONE]"}
    assert counts == {"SECRET": 6, "PHONE": 1}


def test_redact_value_never_mutates_its_input_and_leaves_other_scalars() -> None:
    """A new structure comes back; numbers, booleans and nulls are untouched; a key holding personal
    data is redacted like a value (a tool result keyed by email address)."""
    value = {"a": [1, 2.5, None, True, "jane@example.com"], "jane@example.com": {"n": 3}}
    before = copy.deepcopy(value)
    out, counts = R.redact_value(value)
    assert value == before
    assert out == {"a": [1, 2.5, None, True, "[EMAIL]"], "[EMAIL]": {"n": 3}}
    assert counts == {"EMAIL": 2}


def test_keys_redacted_alike_are_numbered_and_no_value_is_lost() -> None:
    value = {"jane@example.com": "active", "bob@example.org": "blocked", "password": {"x@y.io": "s3cret"}}
    out, counts = R.redact_value(value)
    assert out == {"[EMAIL]": "active", "[EMAIL]#2": "blocked", "password": {"[EMAIL]": "[SECRET]"}}
    assert counts == {"EMAIL": 3, "SECRET": 1}
    keyed = Redactor(key=b"k", key_version="v1")
    out, _ = keyed.redact_value({"Jane@example.com": 1, "jane@example.com": 2})  # one address, one token
    first, second = out
    assert out == {first: 1, second: 2} and second == f"{first}#2" and first.startswith("[EMAIL:")
    again, counts = R.redact_value({"jane@example.com": 1})  # remembered keys still count
    assert again == {"[EMAIL]": 1} and counts == {"EMAIL": 1}


def test_events_keep_their_structure_and_record_what_was_removed() -> None:
    """Structural fields stay; session_id, user_id and payload are redacted; the event records the
    policy, the key version and the counts; it still validates against the contract."""
    ev = event("input", 3, user="jane@example.com",
               payload={"type": "text", "content": "call +1-202-555-0173"})
    ev["trace_id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
    out, counts = Redactor(key=b"k", key_version="v7").redact_event(ev)
    assert {k: out[k] for k in STRUCTURAL - {"redaction"} if k in ev} == {
        k: ev[k] for k in STRUCTURAL - {"redaction"} if k in ev}
    assert out["user_id"].startswith("[EMAIL:")
    assert out["payload"]["content"].startswith("call [PHONE:")
    assert out["redaction"] == {"policy_version": R.policy_version, "key_version": "v7",
                                "counts": {"EMAIL": 1, "PHONE": 1}}
    assert counts == {"EMAIL": 1, "PHONE": 1}
    assert ev["user_id"] == "jane@example.com"  # the input is never mutated
    validate_event(out)


def test_redacting_a_redacted_event_changes_nothing() -> None:
    """The second pass finds nothing and keeps the first pass's record."""
    ev = event("output", 1, user="jane@example.com")
    once, _ = R.redact_event(ev)
    twice, counts = R.redact_event(once)
    assert twice == once and counts == {}


def test_unkeyed_events_record_no_key_version() -> None:
    """Placeholders need no key: key_version is null."""
    out, _ = R.redact_event(event("input", 0))
    assert out["redaction"] == {"policy_version": R.policy_version, "key_version": None, "counts": {}}


def test_nesting_beyond_the_cap_is_replaced_by_a_marker() -> None:
    """Deep containers become [TOO_DEEP] (counted), never recursed into."""
    deep: object = "a@b.co"
    for _ in range(100):
        deep = [deep]
    out, counts = R.redact_value(deep)
    assert counts == {"TOO_DEEP": 1}
    for _ in range(MAX_DEPTH):
        assert isinstance(out, list)
        out = out[0]
    assert out == "[TOO_DEEP]"
