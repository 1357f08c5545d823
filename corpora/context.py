"""A corpus for the values that only context identifies, and for their look-alikes.

Not one generator's output: the values come from Faker in eight locales (names, street addresses,
birth dates, phone numbers, SSNs, passwords, Maestro numbers, emails) and from the formats'
definitions written out here (Maestro's 6390/6759/6762 ranges with Luhn, NANP numbers, 40-hex and
base64 keys, a 600-character secret, a four-word passphrase); the settings are hand-written: the
key names agents put such values under, the phrases people and APIs write before them ("my number
is", "401 Unauthorized: invalid api key", "Ich heiße", "née le"), and the encodings that hide them
(fullwidth, zero-width, NBSP, ``%40``, ``[at]``, base64). Hard negatives sit alongside: versions under
version keys and after version words, UUIDs, order and invoice numbers, 19-digit ids, hashes,
timestamps, prices, and the trigger words with nothing secret after them.

A sample may carry a ``key``: it is then redacted as ``{key: text}`` (``evaluation.score_values``),
as the stream sees tool parameters and results. The rules in ``core/redaction`` were written from
the formats' definitions, not from this corpus; ``tests/unit/test_redaction_context.py`` holds
floors per kind a little under what this version scores.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from collections.abc import Callable, Iterator

from faker import Faker

from agent_audit.core.redaction.checks import luhn
from corpora.corpus import Sample

__all__ = ["KINDS", "LOCALES", "generate"]

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR")
KINDS = ("SECRET", "SSN", "PHONE", "CARD", "NAME", "ADDRESS", "DOB", "EMAIL", "IP")

Made = tuple[str, str, str | None]  # text, planted value, key (None: free text)


def _luhn_number(r: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return next(body + c for c in string.digits if luhn(body + c))


def _nanp(r: random.Random) -> str:
    return f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}{r.randint(2, 9)}{r.randint(0, 99):02d}" \
           f"{r.randint(0, 9999):04d}"


def _secret(fake: Faker, r: random.Random) -> Made:
    hexkey = f"{r.getrandbits(160):040x}"
    b64 = base64.b64encode(r.randbytes(24)).decode()
    long_secret = base64.urlsafe_b64encode(r.randbytes(450)).decode()  # 600 characters
    passphrase = " ".join(fake.words(4))
    password = fake.password(length=r.randint(10, 16))
    choices: list[tuple[str, str]] = [
        ("401 Unauthorized: invalid api key {}", hexkey), ("Error: Incorrect API key provided: {}.", b64),
        ("my api key is {} please keep it safe", hexkey), ("use the token {} for the webhook", b64),
        ("the client secret is {}", hexkey), ("PASSWORD: {}", passphrase), ("Passphrase: {}", passphrase),
        ("my password is {}", password), ("password is {} for the admin account", password),
        ("here is my key {}", hexkey), ("token {} expired, refreshing", long_secret),
        ("Mein Passwort ist: {}", password), ("mot de passe : {}", password),
        ("Authentication failed (invalid token {})", b64),
    ]
    template, value = r.choice(choices)
    return template.format(value), value, None


_US = Faker("en_US")  # an SSN is a US number whatever the locale around it


def _ssn(fake: Faker, r: random.Random) -> Made:
    _US.seed_instance(r.getrandbits(32))
    value = _US.ssn().replace("-", "")
    key = r.choice(["ssn_number", "ssnDigits", "social_security_number", "SSN_NO", "ssn_full"])
    return value, value, key


def _phone(fake: Faker, r: random.Random) -> Made:
    bare = _nanp(r)
    if r.random() < 0.5:
        key = r.choice(["to", "contact", "mobile_no", "contact_number", "whatsapp", "cell", "recipient"])
        value = r.choice([bare, "".join(c for c in fake.phone_number() if c.isdigit() or c == "+")])
        if key in ("to", "contact", "recipient") and not (value.startswith(("+", "0")) or value == bare):
            value = bare  # a bare national number without a prefix is not dialled by the plan's rules
        return value, value, key
    template = r.choice(["my number is {}", "call me on {} after six", "you can reach me at {}",
                         "text me at {} tomorrow", "My number is {}."])
    return template.format(bare), bare, None


def _card(fake: Faker, r: random.Random) -> Made:
    value = r.choice([_luhn_number(r, r.choice(["6390", "6759", "6762"]), 12),
                      fake.credit_card_number(card_type="maestro")])
    if r.random() < 0.5:
        return value, value, r.choice(["pan", "card", "card_pan", "cardNo"])
    spaced = " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if r.random() < 0.3 else value
    template = r.choice(["paid with card {}", "card {} was declined", "Karte {} abgelehnt", "PAN: {}"])
    return template.format(spaced), spaced, None


def _name(fake: Faker, r: random.Random) -> Made:
    value = fake.name()
    if r.random() < 0.5:
        return value, value, r.choice(["full_name", "first_name_last_name", "customer_name", "name",
                                       "contactName", "patient_name", "cardholder"])
    template = r.choice(["my name is {}", "Hi, my name is {} and I need help", "Ich heiße {}.",
                         "Je m'appelle {}", "Me llamo {}", "Mi chiamo {}", "Mijn naam is {}",
                         "Meu nome é {}", "Full name: {}"])
    return template.format(value), value, None


def _address(fake: Faker, r: random.Random) -> Made:
    value = fake.address().replace("\n", ", ")
    if r.random() < 0.5:
        key = r.choice(["address", "street", "billing_address", "shipping_address", "home_address",
                        "address_line1", "streetAddress"])
        return value, value, key
    value = fake.street_address()
    if not any(c.isdigit() for c in value):
        value = f"{value} {r.randint(1, 200)}"
    template = r.choice(["I live at {}", "my address is {}, please ship there", "Shipping address: {}",
                         "Home address: {}", "Address: {}"])
    return template.format(value), value, None


def _dob(fake: Faker, r: random.Random) -> Made:
    born = fake.date_of_birth(minimum_age=18, maximum_age=90)
    value = r.choice([born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%m/%d/%Y"),
                      born.strftime("%d.%m.%Y"), born.strftime("%d %B %Y"), born.strftime("%B %d, %Y")])
    if r.random() < 0.5:
        return value, value, r.choice(["dob", "date_of_birth", "birth_date", "birthday", "DateOfBirth"])
    template = r.choice(["born on {}", "Date of birth: {}", "DOB: {}", "geboren am {}", "née le {}",
                         "nacido el {}", "my birthday is {}"])
    return template.format(value), value, None


_ZERO_WIDTH = "\u200b"


def _email(fake: Faker, r: random.Random) -> Made:
    email = fake.email()
    local, domain = email.split("@")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in email)
    value = r.choice([
        fullwidth, f"{local}\ufe6b{domain}", f"{local[:2]}{_ZERO_WIDTH}{local[2:]}@{domain}",
        f"{local}%40{domain}", f"{local}[at]{domain}", f"{local} (at) {domain.replace('.', ' (dot) ')}",
        base64.b64encode(email.encode()).decode(), f"'{email}'"])
    template = r.choice(["contact {} today", "reply to {}", "payload={} sent", "{}"])
    return template.format(value), value.strip("'"), None


def _ip(fake: Faker, r: random.Random) -> Made:
    address = fake.ipv4_public()
    value = r.choice([address.replace(".", "\u3002"), address.replace(".", "\uff0e"),
                      "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in address)])
    return f"request from {value} blocked", value, None


_POSITIVES: dict[str, Callable[[Faker, random.Random], Made]] = {
    "SECRET": _secret, "SSN": _ssn, "PHONE": _phone, "CARD": _card, "NAME": _name, "ADDRESS": _address,
    "DOB": _dob, "EMAIL": _email, "IP": _ip,
}


def _negative(fake: Faker, r: random.Random) -> Made:
    version = f"{r.randint(1, 12)}.{r.randint(0, 30)}.{r.randint(0, 99)}.{r.randint(0, 255)}"
    snowflake = "1" + "".join(r.choice(string.digits) for _ in range(18))
    choices: list[Made] = [
        (version, version, r.choice(["version", "agent_version", "sdkVersion", "build", "firmware"])),
        (f"agent version {version} deployed", version, None),
        (f"upgraded to version {version}", version, None),
        (str(uuid.UUID(int=r.getrandbits(128))), "uuid", None),
        (f"request {uuid.UUID(int=r.getrandbits(128))} failed", "uuid", None),
        (f"call about order {_nanp(r)}", "order", None), (f"Order #{_nanp(r)} shipped", "order", None),
        (f"invoice no. {_nanp(r)} is due", "invoice", None), (f"id {snowflake}", snowflake, None),
        (f"commit {fake.sha1()}", "sha", None), (fake.sha256(), "sha", "checksum"),
        (fake.iso8601(), "ts", "to"), (str(r.randint(1_600_000_000, 1_900_000_000)), "ts", "to"),
        (f"ts={r.randint(1_600_000_000_000, 1_900_000_000_000)}", "ts", None),
        (fake.pricetag(), "price", None), (f"total {fake.pricetag()} incl. VAT", "price", None),
        ("the token bucket refilled", "token", None), ("password policy updated", "password", None),
        ("my name is not important here", "name", None), ("I live in London", "live", None),
        ("api key rotated yesterday", "key", None), ("card declined by the issuer", "card", None),
        ("search_kb", "name", "name"), ("report_2025.pdf", "file", "file_name"),
        ("00:1a:2b:3c:4d:5e", "mac", "mac_address"), ("0x7ffd5f3c2a10", "hex", "address"),
        (fake.date(), "date", "to"), (f"born in {r.randint(1950, 2005)}", "born", None),
        (fake.sentence(), "prose", None), (f"retrying in {r.randint(1, 60)} s", "prose", "message"),
    ]
    return r.choice(choices)


def generate(per_kind: int = 60, seed: int = 23) -> Iterator[Sample]:
    """For each locale, ``per_kind`` samples of each kind and as many hard negatives. Deterministic
    for a seed (and a Faker version)."""
    for offset, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + offset)
        r = random.Random(seed * 100 + offset)  # noqa: S311 - a reproducible corpus, not cryptography
        for kind, make in _POSITIVES.items():
            for _ in range(per_kind):
                text, value, key = make(fake, r)
                yield Sample(text, kind, value, key)
        for _ in range(per_kind):
            text, value, key = _negative(fake, r)
            yield Sample(text, None, value, key)
