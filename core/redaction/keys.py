"""Key-name rules: a value stored under ``password`` or ``api_key`` is masked whatever it holds.

A key is split into words (on ``_ - . : /``, spaces and camelCase), and its *last* word decides,
because that is the noun an English compound names: ``access_token`` is a token, ``token_count``
is a count. Plural ``tokens`` is left out on purpose: ``max_tokens``, ``prompt_tokens`` and
``tokens_used`` are LLM metrics, never secrets. Trailing qualifiers (``password_hash``,
``api_key_value``) and digits (``password2``) are looked through.
"""

from __future__ import annotations

import functools
import re

__all__ = ["KEY_HINTS", "SECRET", "key_kind"]

SECRET = "SECRET"  # noqa: S105 - the name of a kind, not a credential

# The last word of a key -> what its value is.
_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ["password", "passwd", "pwd", "passphrase", "passwort", "kennwort", "passe", "contrasena",
         "contraseña", "senha", "secret", "secrets", "token", "authorization", "auth", "credential",
         "credentials", "creds", "cookie", "cookies", "apikey", "privatekey", "jwt", "bearer", "otp",
         "cvv", "cvc", "cvv2", "pin"], SECRET),
    "email": "EMAIL", "phone": "PHONE", "mobile": "PHONE", "telephone": "PHONE", "tel": "PHONE",
    "fax": "PHONE", "msisdn": "PHONE", "ssn": "SSN", "iban": "IBAN", "ip": "IP",
    **dict.fromkeys(["passport", "nino", "bsn", "pesel", "aadhaar", "cpf", "itin", "mrn"], "NATIONAL_ID"),
}
# The last two words joined, for compounds whose last word alone is too common (``key``, ``number``).
_PAIRS: dict[str, str] = {
    **dict.fromkeys(["apikey", "privatekey", "secretkey", "accesskey", "accountkey", "signingkey",
                     "encryptionkey", "masterkey", "sessionkey", "clientsecret", "apitoken",
                     "sharedaccesskey", "connectionstring"], SECRET),
    "cardnumber": "CARD", "creditcard": "CARD", "ccnumber": "CARD", "phonenumber": "PHONE",
    "emailaddress": "EMAIL", "mailaddress": "EMAIL", "ipaddress": "IP", "remoteaddr": "IP",
    **dict.fromkeys(["passportnumber", "passportno", "taxid", "nationalid", "driverlicense", "driverslicense",
                     "drivinglicense", "licensenumber", "insurancenumber", "nhsnumber", "codicefiscale"],
                    "NATIONAL_ID"),
    **dict.fromkeys(["routingnumber", "sortcode", "bankaccount", "accountnumber"], "BANK_ACCOUNT"),
    "walletaddress": "CRYPTO_WALLET",
}
# One-word keys written without separators (``accesstoken``, ``dbpassword``) end with one of these.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    *((w, SECRET) for w in ("password", "passwd", "passphrase", "secret", "token", "apikey",
                            "privatekey", "secretkey", "accesskey", "credentials", "cookie")),
    ("email", "EMAIL"), ("phone", "PHONE"))
_QUALIFIERS = frozenset({"value", "hash", "header", "b64", "base64", "raw", "plain", "plaintext", "enc",
                         "encrypted", "pem", "hex"})
# Every key judged SECRET contains one of these (a test holds the tables to it): a text with none
# of them, lower-cased, holds no secret assignment, so the assignment detector can skip it.
KEY_HINTS: tuple[str, ...] = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "cookie", "jwt",
                              "bearer", "otp", "cvv", "cvc", "pin", "senha", "contrase", "kennwort",
                              "connection")
_SPLIT = re.compile(r"[\s_.:/\-]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[^\W\dA-Z_]+|[A-Z]+|[0-9]+")
_MAX_KEY = 128  # the words that decide are at the end; a longer key is judged by its tail


def _words(key: str) -> list[str]:
    words = [w.lower() for part in _SPLIT.split(key[-_MAX_KEY:]) for w in _CAMEL.findall(part)]
    while words and (words[-1].isdigit() or (words[-1] in _QUALIFIERS and len(words) > 1)):
        words.pop()
    return words


@functools.lru_cache(maxsize=4096)  # keys repeat across events: judge each one once
def key_kind(key: str) -> str | None:
    """The kind of value this key names (``SECRET``, ``EMAIL``, ...), or None for an ordinary key."""
    words = _words(key)
    if not words:
        return None
    last = words[-1]
    if len(words) > 1 and (kind := _PAIRS.get(words[-2] + last)):
        return kind
    if kind := _WORDS.get(last):
        return kind
    for suffix, kind in _SUFFIXES:
        if last.endswith(suffix):
            return kind
    return None
