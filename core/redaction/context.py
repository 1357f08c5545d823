"""What a dict key says about the string under it: a context that admits or excludes a finding.

Guarantee: a key's context only ever decides what a *whole* value is (``{"ssn_number": "123456789"}``
is an SSN, ``{"billing_address": "1 Main St, Springfield"}`` an address) or keeps one detector away
(a ``version`` is never an IP). It never hides anything else: a value that is not of the key's kind
goes through every detector as usual.

Keys are split into words like ``keys.py`` splits them (``_ - . : /``, spaces, camelCase) and judged
by their last words. Secret-like keys (``password``, ``api_key``) and keys that name a kind outright
(``email``, ``phone``, ``ssn``) are ``keys.py``'s: their values are masked whatever they hold, so
they never reach this module.
"""

from __future__ import annotations

import functools
import re

from agent_audit.core.redaction.checks import card_number, ssn

__all__ = ["ADDRESS", "CARD", "DOB", "NAME", "PERSON", "PHONE", "RECIPIENT", "SSN", "VERSION", "key_context",
           "whole_value"]

VERSION, NAME, PERSON, ADDRESS, DOB = "VERSION", "NAME", "PERSON", "ADDRESS", "DOB"
PHONE, RECIPIENT, SSN, CARD = "PHONE", "RECIPIENT", "SSN", "CARD"

_SPLIT = re.compile(r"[\s_.:/\-]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[^\W\dA-Z_]+|[A-Z]+|[0-9]+")
_LAST: dict[str, str] = {
    **dict.fromkeys(["version", "ver", "vsn", "build", "release", "revision", "firmware", "useragent"],
                    VERSION),
    **dict.fromkeys(["firstname", "lastname", "fullname", "surname", "forename", "givenname", "familyname",
                     "middlename", "maidenname", "cardholder", "nombre", "apellido", "vorname", "nachname",
                     "prenom", "nom", "cognome"], NAME),
    **dict.fromkeys(["address", "street", "addr", "streetaddress", "adresse", "direccion", "indirizzo",
                     "endereco", "strasse"], ADDRESS),
    **dict.fromkeys(["dob", "birthdate", "birthday", "dateofbirth", "geburtsdatum"], DOB),
    **dict.fromkeys(["cell", "whatsapp", "sms", "telefono", "telefone", "handy"], PHONE),
    **dict.fromkeys(["to", "contact", "recipient", "callee", "caller"], RECIPIENT),
    **dict.fromkeys(["pan", "card", "cc"], CARD),
}
# The last two words joined.
_PAIRS: dict[str, str] = {
    "useragent": VERSION, "birthdate": DOB, "ofbirth": DOB, "dobdate": DOB,
    "socialsecurity": SSN, "securitynumber": SSN, "mobileno": PHONE, "phoneno": PHONE,
    "contactnumber": PHONE, "contactno": PHONE, "cellnumber": PHONE, "mobilenumber": PHONE,
    "cardno": CARD, "cardnum": CARD, "cardpan": CARD,
}
# ``<word> name`` is a person's name after these; ``tool_name``, ``file_name`` are not.
_PERSON_WORDS = frozenset({
    "first", "last", "full", "given", "family", "middle", "maiden", "customer", "contact", "patient",
    "person", "holder", "cardholder", "recipient", "sender", "legal", "real", "billing", "shipping",
    "client", "employee", "guest", "passenger", "member", "owner", "account", "user", "buyer", "student",
    "applicant"})
# ``<word> address`` is no postal address after these.
_NOT_POSTAL = frozenset({"mail", "email", "ip", "mac", "remote", "host", "server", "web", "url", "wallet",
                         "contract", "memory", "bind", "listen", "return", "base", "hw", "ether", "local",
                         "peer", "proxy", "gateway", "broadcast", "node", "advertised", "public", "private",
                         "socket", "virtual", "bitcoin", "eth", "mem", "start", "end", "load", "physical"})


@functools.lru_cache(maxsize=4096)  # keys repeat across events: judge each one once
def key_context(key: str) -> str | None:  # noqa: PLR0911 - one rule per return
    """The context a key gives its value, or None for an ordinary key."""
    words = [w.lower() for part in _SPLIT.split(key[-128:]) for w in _CAMEL.findall(part)]
    while words and words[-1].isdigit():
        words.pop()  # address_line2, phone2
    if not words:
        return None
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if words[0].startswith("ssn") or last.startswith("ssn"):
        return SSN  # ssn_number, ssnLast9
    if before and (kind := _PAIRS.get(before + last)):
        return kind
    if last == "name":
        if not before:
            return PERSON  # a bare "name": a person's only when the value is written as one
        return NAME if before in _PERSON_WORDS else None
    if last == "line" and before == "address":
        return ADDRESS  # address_line1
    kind = _LAST.get(last)
    if kind == ADDRESS and before in _NOT_POSTAL:
        return None
    return kind


_DIALLED = re.compile(r"\+?[0-9 ()./\-]{7,24}")
_DIGITS_ONLY = str.maketrans("", "", " ()./-+")
_DATE = re.compile(r"(?:19|20)[0-9]{2}[./\-][0-9]{1,2}[./\-][0-9]{1,2}"
                   r"|[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:19|20)?[0-9]{2}")
# A written date: numeric, or a day and a month name (several languages) and a year.
_WRITTEN_DATE = re.compile(
    r"(?:19|20)[0-9]{2}[./\-][0-9]{1,2}[./\-][0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:19|20)?[0-9]{2}"
    r"|(?i:[0-9]{1,2}(?:st|nd|rd|th|er|\.)?[ \t]+(?:of[ \t]+|de[ \t]+)?[^\W\d_]{3,10}\.?,?[ \t]+(?:de[ \t]+)?"
    r"(?:19|20)[0-9]{2}|[^\W\d_]{3,10}\.?[ \t]+[0-9]{1,2}(?:st|nd|rd|th)?,?[ \t]+(?:19|20)[0-9]{2})")
# O'Neil, Jean-Luc, J., and the titles people write around names: Dipl.-Ing., Univ.Prof., B.Sc.
_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|[.'\u2019\-](?=[^\W\d_])|\.-(?=[^\W\d_]))*\.?"
_NAME_VALUE = re.compile(rf"{_NAME_WORD}(?:,? {_NAME_WORD}){{0,7}}")
_PARTICLES = frozenset({"de", "del", "della", "der", "den", "van", "von", "da", "di", "du", "le", "la", "bin",
                        "ibn", "y", "dos", "das", "ter", "zu"})


def whole_value(context: str, value: str) -> str | None:
    """The kind the whole ``value`` is under a key with this context, or None (then the detectors
    judge it as usual)."""
    text = value.strip()
    if not text or len(text) > 300 or text.startswith("["):
        return None  # empty, or already a placeholder or token
    if context in (PHONE, RECIPIENT, SSN, CARD):
        return _number(context, text)
    if context in (NAME, PERSON):
        return "NAME" if _person_name(text, strict=context == PERSON) else None
    if context == ADDRESS:
        # An address is words and, nearly always, a house number or postcode; an email, URL or IP
        # under an "address" key is left to the detectors.
        words = text.split()
        postal = len(words) >= 2 and any(c.isalpha() for c in text) and "@" not in text and "://" not in text
        return "ADDRESS" if postal else None
    if context == DOB:
        return "DOB" if _WRITTEN_DATE.search(text) else None
    return None


def _number(context: str, text: str) -> str | None:  # noqa: PLR0911 - one rule per return
    if _DIALLED.fullmatch(text) is None:
        return None
    digits = text.translate(_DIGITS_ONLY)
    if not digits.isdigit():
        return None
    n = len(digits)
    if context == SSN:
        return "SSN" if n == 9 and ssn(digits[:3], digits[3:5], digits[5:]) else None
    if context == CARD:
        return "CARD" if card_number(digits, named=True) else None
    if _DATE.fullmatch(text):
        return None  # {"to": "2026-11-25"}
    if context == RECIPIENT:
        # "to" and "contact" also hold dates, amounts and timestamps: a number that is dialled, by the
        # numbering plans' rules (an international or trunk prefix; NANP's 2-9 area and exchange).
        dialled = text.startswith("+") or (digits[0] == "0" and 10 <= n <= 12) or (
            n == 10 and digits[0] in "23456789" and digits[3] in "23456789")
        return "PHONE" if dialled and n <= 15 else None
    return "PHONE" if 7 <= n <= 15 else None


def _person_name(text: str, *, strict: bool) -> bool:
    """A name as people write one: up to eight words of letters (``O'Neil``, ``Jean-Luc``, ``J. R.``).
    Under a bare ``name`` key (``strict``) it takes two words or more, each capitalised but for
    particles (``van``, ``de``), or a script without case: a tool or file name is not written so."""
    if len(text) > 80 or _NAME_VALUE.fullmatch(text) is None:
        return False
    if not strict:
        return True
    words = text.replace(",", " ").split()
    if len(words) < 2:
        return False
    return all(w[0].isupper() or w.lower() in _PARTICLES or not w[0].islower() for w in words) \
        and not text.isupper()
