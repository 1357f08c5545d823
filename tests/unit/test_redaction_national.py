"""National identifiers, bank routing numbers and crypto wallets (``core/redaction/national.py``).

Two sources: values made by hand from each scheme's published rules (check digits computed), and
Faker's generators for the schemes it knows, in the locales that issue them. Negatives: the same
shapes with a wrong check digit, long numbers without a label, and the cards and phones the other
detectors own.
"""

from __future__ import annotations

import inspect
import re

import pytest
from faker import Faker

from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.national import LABEL_STEMS, _may_label, find_national

R = Redactor()


@pytest.mark.parametrize(("text", "kind"), [
    ("CPF do cliente: 529.982.247-25", "NATIONAL_ID"),  # Brazil, both mod-11 digits right
    ("Aadhaar 2345 6789 0124 on file", "NATIONAL_ID"),  # India, spaced as printed
    ("PAN ABCDE1234F", "NATIONAL_ID"),  # India's PAN: any fourth letter after the word PAN
    ("holder ABCPE1234F", "NATIONAL_ID"),  # ... or P (a person) without it
    ("su DNI es 12345678Z", "NATIONAL_ID"),  # Spain, mod-23 letter
    ("NIE X1234567L", "NATIONAL_ID"),
    ("codice fiscale RSSMRA85T10A562S", "NATIONAL_ID"),  # Italy, check letter
    ("NRIC S1234567D", "NATIONAL_ID"),  # Singapore
    ("NI number AB 12 34 56 C", "NATIONAL_ID"),  # UK
    ("nino ZZ123456T", "NATIONAL_ID"),  # UK test numbers, unspaced
    ("ITIN 912-78-1234", "NATIONAL_ID"),  # US, a 7x middle group
    ("passport number 533380006", "NATIONAL_ID"),
    ("Driver's license: D1234-56789", "NATIONAL_ID"),
    ("MRN: 00123456", "NATIONAL_ID"),
    ("NHS number 943 476 5919", "NATIONAL_ID"),  # a label wins over a phone shape
    ("BSN 111222333", "NATIONAL_ID"),
    ("PESEL 44051401359", "NATIONAL_ID"),
    ("EIN 12-3456789", "NATIONAL_ID"),
    ("ABA routing 021000021", "BANK_ACCOUNT"),
    ("sort code 12-34-56 account number 31926819", "BANK_ACCOUNT"),
    ("send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "CRYPTO_WALLET"),  # base58check
    ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "CRYPTO_WALLET"),
    ("wallet 0x52908400098527886E0F7030069857D2E4169EE7", "CRYPTO_WALLET"),
])
def test_identifiers_are_found_by_checksum_or_label(text: str, kind: str) -> None:
    """Each scheme's value goes, under its kind; the words around it stay."""
    clean, counts = R.redact_text(text)
    assert kind in counts, (text, clean, counts)
    assert not re.search(r"[0-9]{4}", clean.replace(f"[{kind}]", "")), clean


@pytest.mark.parametrize("text", [
    # Shapes with a wrong check digit and no label (a labelled value goes, typo or not):
    "client 529.982.247-26",  # CPF, wrong second check digit
    "ref 12345678A",  # DNI, wrong letter
    "code RSSMRA85T10A562T",  # codice fiscale, wrong check letter
    "ticket S1234567A",  # NRIC
    "send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # base58check fails
    "tx 0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060",  # a 32-byte hash, not an address
    "order 533380006 shipped", "invoice 2345678901 is due", "took 1234567890 ms",
    "code ABCDE1234F",  # PAN's shape, fourth letter not a holder type, no "PAN" before it
    "sin 30 degrees", "ein 20 24 Stück", "setting 12345678",  # short label-like words, short values
    "paid with card 6763 1491 2871",  # a 12-digit card, 4-4-4, after "card": not an Aadhaar
    "4111 1111 1111 1111",  # a card's first twelve digits are no Aadhaar
    "call +4428 9018 0442",  # nor a phone's after its "+"
])
def test_wrong_check_digits_unlabelled_numbers_and_other_detectors_values_are_not_ids(text: str) -> None:
    """No national id, bank account or wallet without its check digit or label."""
    counts = R.redact_text(text)[1]
    assert not {"NATIONAL_ID", "BANK_ACCOUNT", "CRYPTO_WALLET"} & set(counts), (text, counts)


def test_cards_and_phones_keep_their_kinds() -> None:
    """The detectors before and after this one keep what they own."""
    assert R.redact_text("card 4111 1111 1111 1111")[1] == {"CARD": 1}
    assert R.redact_text("call (415) 555-0132")[1] == {"PHONE": 1}
    assert R.redact_text("SSN 123-45-6789")[1] == {"SSN": 1}


@pytest.mark.parametrize(("locale", "make", "label"), [
    ("pt_BR", "cpf", ""), ("es_ES", "nif", ""), ("es_ES", "nie", ""), ("it_IT", "ssn", ""),
    ("en_GB", "ssn", ""), ("en_US", "itin", ""), ("nl_NL", "ssn", "BSN "), ("pl_PL", "pesel", "PESEL "),
    ("en_CA", "ssn", "SIN "), ("en_US", "ein", "EIN "), ("en_US", "passport_number", "passport no. "),
    ("de_DE", "passport_number", "Reisepass "), ("en_US", "aba", "routing number "),
    ("en_US", "bban", "account number "), ("en_IN", "aadhaar_id", "Aadhaar "),
])
def test_fakers_identifiers_are_all_found(locale: str, make: str, label: str) -> None:
    """A second source: 100 of Faker's values of each scheme, inside a sentence, are all removed."""
    fake = Faker(locale)
    fake.seed_instance(11)
    missed = []
    for _ in range(100):
        value = str(getattr(fake, make)())
        if value in R.redact_text(f"Customer record: {label}{value} was updated.")[0]:
            missed.append(value)
    assert not missed, missed[:5]


def test_the_spelled_out_stem_test_is_the_stem_list() -> None:
    """``_may_label`` tests exactly LABEL_STEMS: each stem alone passes it, and its text names each."""
    source = inspect.getsource(_may_label)
    assert set(re.findall(r'"([^"]+)" in low', source)) == set(LABEL_STEMS)
    for stem in LABEL_STEMS:
        assert _may_label(f"xx {stem} yy")
    assert not _may_label("the order was shipped on monday")


def test_keys_name_identifiers() -> None:
    """Under such a key the whole value goes, whatever its shape."""
    event = {"payload": {"parameters": {"passport_number": "X1", "tax_id": "12", "routing_number": "0210",
                                        "wallet_address": "abc", "order_id": "A-123"}}}
    params = R.redact_event(event)[0]["payload"]["parameters"]
    assert params == {"passport_number": "[NATIONAL_ID]", "tax_id": "[NATIONAL_ID]",
                      "routing_number": "[BANK_ACCOUNT]", "wallet_address": "[CRYPTO_WALLET]",
                      "order_id": "A-123"}


def test_keyed_tokens_join_an_identifier_written_two_ways() -> None:
    """Separators do not change the token: one person, one token."""
    keyed = Redactor(key=b"k" * 32, key_version="v1")
    dotted = keyed.redact_text("CPF 529.982.247-25")[0]
    plain = keyed.redact_text("CPF: 52998224725")[0]
    assert dotted.split()[-1] == plain.split()[-1]


LABELS = (
    "routing number", "ABA", "sort code", "BSB", "bank account", "account number", "Kontonummer",
    "numéro de compte", "número de cuenta", "passport", "pass no", "Reisepass", "passeport", "pasaporte",
    "passaporto", "driver's license", "driving licence", "licence number", "DL", "Führerschein", "MRN",
    "medical record number", "patient id", "health card number", "NHS no", "tax id",
    "tax identification number", "taxpayer id", "TIN", "EIN", "ITIN", "Steuer-ID", "Steuernummer",
    "Steueridentifikationsnummer", "national id", "national identity card", "national insurance number",
    "NI number", "NINO", "social insurance number", "SIN", "BSN", "burgerservicenummer", "PESEL",
    "personnummer", "CPF", "CNPJ", "Aadhaar", "aadhar", "PAN card", "DNI", "NIE", "NIF", "codice fiscale",
    "Personalausweisnummer", "identity card", "ID card number", "ID number", "identification number",
    "sécurité sociale", "securite sociale", "INSEE", "carte d'identité", "voter id", "citizen id",
)


@pytest.mark.parametrize("label", LABELS)
def test_every_label_takes_its_value_and_its_gate_lets_it_through(label: str) -> None:
    """Each label takes the value after it (``: ``, ``no.``, ``#`` between them or not), and holds
    one of the stems tested before the label search, which reads them in the lower-cased text."""
    assert any(stem in label.lower() for stem in LABEL_STEMS), label
    for text in (f"{label}: 4829 1057 33", f"{label} no. X48291057", f"their {label} # 48291057"):
        found = list(find_national(text))
        assert len(found) == 1, (text, found)
