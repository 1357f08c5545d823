"""National identifiers, bank routing and crypto wallets: by shape and checksum, or by the label before them.

Guarantee: a value is taken either
- by its own shape *and* its check digit where the scheme has one: Brazil's CPF written
  ``123.456.789-09`` (two mod-11 digits), India's Aadhaar (12 digits spaced 4-4-4 as printed,
  not after a card word; bare, only after its label: a tenth of all 12-digit ids would pass its
  Verhoeff digit), a US ITIN
  (``9XX-7X-XXXX``, its middle group's ranges), India's PAN (``ABCPE1234F``: the fourth letter
  a holder type, or any letter after the word "PAN"), Spain's DNI/NIE (mod-23 letter),
  Italy's codice fiscale (its check letter), Singapore's NRIC/FIN (weighted check letter), the
  UK's National Insurance number (two letters, six digits, a letter: ``AB 12 34 56 C``,
  ``ZZ123456T``; any letters, as test numbers have), Bitcoin addresses
  (base58check, or bech32's ``bc1`` alphabet) and Ethereum addresses (``0x`` and 40 hex digits);
- or by a label just before it ("passport no.", "driver's licence", "MRN", "NHS number", "BSN",
  "PESEL", "tax id", "routing number", "national id" ...): then a value of 5 to 24 letters and
  digits, or digit groups parted by single spaces or dashes, with at least five digits and a run
  of five digits and separators (``X48291057``, ``12 34 56``), goes.
A value of such a shape without its check digit or its label stays: most 9- to 12-digit numbers
in agent traffic are order numbers, timestamps and ids, not people.

Kinds: ``NATIONAL_ID`` (identity, tax, health and travel documents), ``BANK_ACCOUNT`` (routing,
sort code, account numbers named as such) and ``CRYPTO_WALLET``. Every pattern is linear-time.
"""

from __future__ import annotations

import hashlib
import re

from agent_audit.core.redaction.numbers import card_named

__all__ = ["LABEL_STEMS", "find_national"]

Finding = tuple[int, int, str]
NATIONAL, BANK, WALLET = "NATIONAL_ID", "BANK_ACCOUNT", "CRYPTO_WALLET"

# Each shape's first character is read before the start boundary is checked (no word, number,
# "+", placeholder or digit group before it: +4428 9018 0442 is a phone, and the first twelve
# digits of a spaced card are not an Aadhaar), so the engine skips straight to digits and
# capitals; the end is checked likewise.
_SHAPES = re.compile(
    r"[0-9A-Zb](?<![\w\-./\]+].)(?<![0-9] .)(?:"
    r"(?<=[0-9])(?P<cpf>[0-9]{2}\.[0-9]{3}\.[0-9]{3}-[0-9]{2})"
    r"|(?<=[2-9])(?P<aadhaar>[0-9]{3} [0-9]{4} [0-9]{4})"
    r"|(?<=9)(?P<itin>[0-9]{2}(?P<sep>[\- ])(?:5[0-9]|6[0-5]|7[0-9]|8[0-8]|9[0-2]|9[4-9])(?P=sep)[0-9]{4})"
    r"|(?<=[0-9])(?P<dni>[0-9]{7}-?[A-Z])"
    r"|(?<=[XYZ])(?P<nie>-?[0-9]{7}-?[A-Z])"
    r"|(?<=[STFG])(?P<nric>[0-9]{7}[A-Z])"
    r"|(?<=[A-Z])(?P<pan>[A-Z]{4}[0-9]{4}[A-Z])"
    r"|(?<=[A-Z])(?P<cf>[A-Z]{5}[0-9]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z])"
    r"|(?<=[A-Z])(?P<nino>[A-Z](?: ?[0-9]{2}){3} ?[A-Z]|[A-Z] [0-9]{6} [A-Z])"
    r"|(?<=[13])(?P<btc>[1-9A-HJ-NP-Za-km-z]{25,34})"
    r"|(?<=b)(?P<bech32>c1[02-9ac-hj-np-z]{38,58})"
    r"|(?<=0)(?P<eth>x[0-9a-fA-F]{40})"
    r")(?![\w\-]|\.\w| [0-9])")
_LABEL = re.compile(
    r"(?<![^\W_])(?:"
    r"(?P<bank>routing(?: number| no| #)?|aba(?: routing)?(?: number)?|sort code|bsb|bank account(?: number)?"
    r"|account number|kontonummer|numéro de compte|n[uú]mero de cuenta)"
    r"|(?P<id>passport|pass(?:port)? no|reisepass|passeport|pasaporte|passaporto"
    r"|driver'?s? licen[cs]e|driving licen[cs]e|licen[cs]e number|dl(?: number| no)?|führerschein"
    r"|mrn|medical record(?: number)?|patient id|health (?:card|insurance) number|nhs(?: number| no)?"
    r"|tax id|tax identification number|taxpayer id|tin|ein|itin|steuer-?id|steuernummer"
    r"|steueridentifikationsnummer|national id(?:entity)?(?: number| card)?|national insurance(?: number)?"
    r"|ni number|nino|social insurance number|sin|bsn|burgerservicenummer|pesel|personnummer|cpf|cnpj"
    r"|aadhaar|aadhar|pan(?: card| number)|dni|nie|nif|codice fiscale|personalausweis(?:nummer)?"
    r"|identity card(?: number)?|id card(?: number)?|id number|identification number"
    r"|sécurité sociale|securite sociale|insee|carte d'identité|voter id|citizen id)"
    r")(?=[\s:#=.\-]|$)", re.IGNORECASE | re.ASCII)  # ASCII: no long s read as "s" behind the gate
# Every label holds one of these stems (a test checks): the substring tests before the label search.
LABEL_STEMS = ("rout", "aba", "sort code", "bsb", "account", "konto", "compte", "cuenta", "pas", "licen",
               "dl", "führer", "mrn", "medical", "patient", "health", "nhs", "tax", "tin", "ein", "steuer",
               "national", "ni number", "nino", "sin", "insurance", "bsn", "burger", "pesel", "personnummer",
               "cpf", "cnpj", "aadha", "pan", "dni", "nie", "nif", "fiscale", "ausweis", "identi", "id card",
               "id number", "sociale", "insee", "voter", "citizen")
_CONNECTOR = re.compile(r"\.?[ \t]*(?:(?:number|num|nr|no|n°|#)\.?[ \t]*)?(?:is[ \t]+|was[ \t]+)?"
                        r"[:#=\-]?[ \t]*")
_LABELLED_DIGITS = 5  # documents' numbers are long: "sin 30" or "ein 20 24" are not one
_LABELLED = re.compile(r"(?:[0-9]{2,6}(?:[ \-][0-9]{2,6}){1,4}"
                       r"|[A-Za-z]{1,3}[ \-]?[0-9]{2,6}(?:[ \-][0-9]{2,6}){1,4}(?:[ \-]?[A-Za-z](?![\w\-]))?"
                       r"|[A-Za-z0-9](?:[A-Za-z0-9./\-]{3,22})[A-Za-z0-9])"
                       r"(?![\w\-])")


def find_national(text: str, low: str | None = None) -> list[Finding]:
    """``low``: ``text`` lower-cased, when the caller has it. Labels are searched only where one of
    their stems is in it (a few substring tests; the label pattern costs several µs per text)."""
    taken: list[Finding] = []
    first = _SHAPES.search(text)  # most texts hold none: one call, no iterator
    for m in _SHAPES.finditer(text, first.start()) if first is not None else ():
        shape = m.lastgroup or ""
        found = m.group(0)
        if shape == "pan" and not _pan(found, text[max(0, m.start() - 24):m.start()]):
            continue
        if shape == "aadhaar" and card_named(text, m.start()):
            continue  # 4-4-4 after "card": a 12-digit card (Maestro), for the card detector
        if _CHECKS[shape](found):
            taken.append((m.start(), m.end(), WALLET if shape in _WALLETS else NATIONAL))
    # A labelled value holds a run of digits: a text without one spares the stem tests (most texts
    # with a digit, in bench/redaction's corpus; this search jumps from digit to digit in C).
    if _DIGIT_RUN.search(text) is not None and _may_label(text.lower() if low is None else low):
        _labelled(text, taken)
        taken.sort()
    return taken


_DIGIT_RUN = re.compile(r"[0-9][0-9 \-./]{3,}[0-9]")  # five characters or more


def _may_label(low: str) -> bool:
    # Spelled out for speed (a generator over LABEL_STEMS costs three times as much); a test holds
    # the two in step.
    return ("rout" in low or "aba" in low or "sort code" in low or "bsb" in low or "account" in low
            or "konto" in low or "compte" in low or "cuenta" in low or "pas" in low or "licen" in low
            or "dl" in low or "führer" in low or "mrn" in low or "medical" in low or "patient" in low
            or "health" in low or "nhs" in low or "tax" in low or "tin" in low or "ein" in low
            or "steuer" in low or "national" in low or "ni number" in low or "nino" in low
            or "sin" in low or "insurance" in low or "bsn" in low or "burger" in low or "pesel" in low
            or "personnummer" in low or "cpf" in low or "cnpj" in low or "aadha" in low or "pan" in low
            or "dni" in low or "nie" in low or "nif" in low or "fiscale" in low or "ausweis" in low
            or "identi" in low or "id card" in low or "id number" in low or "sociale" in low
            or "insee" in low or "voter" in low or "citizen" in low)


def _labelled(text: str, taken: list[Finding]) -> None:
    for m in _LABEL.finditer(text):
        joined = _CONNECTOR.match(text, m.end())
        value = _LABELLED.match(text, joined.end() if joined else m.end())
        if (value is None or sum(c.isdigit() for c in value.group(0)) < _LABELLED_DIGITS
                or _DIGIT_RUN.search(value.group(0)) is None):
            continue
        if any(s < value.end() and value.start() < e for s, e, _ in taken):
            continue
        taken.append((value.start(), value.end(), BANK if m.group("bank") else NATIONAL))


def _digits(text: str) -> list[int]:
    return [int(c) for c in text if c.isdigit()]


def _cpf(text: str) -> bool:
    d = _digits(text)
    if len(set(d)) == 1:
        return False
    first = sum(d[i] * (10 - i) for i in range(9)) * 10 % 11 % 10
    second = sum(d[i] * (11 - i) for i in range(10)) * 10 % 11 % 10
    return d[9] == first and d[10] == second


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _dni(text: str) -> bool:
    compact = text.replace("-", "")
    return _DNI_LETTERS[int(compact[:8]) % 23] == compact[8]


def _nie(text: str) -> bool:
    compact = text.replace("-", "")
    return _dni(str("XYZ".index(compact[0])) + compact[1:])


_CF_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)


def _cf_value(c: str, odd: bool) -> int:
    index = int(c) if c.isdigit() else ord(c) - 65
    return _CF_ODD[index] if odd else index


def _codice_fiscale(text: str) -> bool:
    total = sum(_cf_value(c, i % 2 == 0) for i, c in enumerate(text[:15]))
    return chr(65 + total % 26) == text[15]


_NRIC_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)


def _nric(text: str) -> bool:
    total = sum(int(c) * w for c, w in zip(text[1:8], _NRIC_WEIGHTS, strict=True))
    total += 4 if text[0] in "TG" else 0
    letters = "JZIHGFEDCBA" if text[0] in "ST" else "XWUTRQPNMLK"
    return letters[total % 11] == text[8]


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _bitcoin(text: str) -> bool:
    """Base58check: the last four bytes are the first four of the double SHA-256 of the rest."""
    number = 0
    for c in text:
        number = number * 58 + _BASE58.index(c)
    raw = number.to_bytes(25, "big") if number.bit_length() <= 200 else b""
    return len(raw) == 25 and hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


def _always(_text: str) -> bool:
    return True


def _pan(text: str, before: str) -> bool:
    """The fourth letter names the holder (P a person, C a company ...); any letter there when the
    word "PAN" comes just before."""
    return text[3] in "ABCFGHLJPT" or _PAN_WORD.search(before) is not None


_PAN_WORD = re.compile(r"(?<![^\W_])pan(?![^\W_])", re.IGNORECASE | re.ASCII)
_CHECKS = {"cpf": _cpf, "aadhaar": _always, "itin": _always, "pan": _always, "dni": _dni, "nie": _nie,
           "cf": _codice_fiscale, "nric": _nric, "nino": _always, "btc": _bitcoin, "bech32": _always,
           "eth": _always}
_WALLETS = frozenset({"btc", "bech32", "eth"})
