"""A labelled synthetic corpus for measuring the redactor: PII of several locales and hard negatives.

Deterministic for a seed. Each sample is a sentence with zero or one planted value and its label;
the hard negatives (order numbers, UUIDs, timestamps, versions, hashes, prices, tracking numbers,
metric keys) are values a careless redactor would take for PII.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Sample", "generate"]


@dataclass(frozen=True)
class Sample:
    text: str
    kind: str | None  # the planted type, None for a hard negative
    value: str


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = digits + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _card(rng: random.Random) -> str:
    raw = _luhn_complete(rng.choice(["4", "51", "55", "37", "6011"]), rng.choice([16, 16, 15]), rng)
    sep = rng.choice(["", " ", "-"])
    return sep.join(raw[i:i + 4] for i in range(0, len(raw), 4)) if sep else raw


def _iban(rng: random.Random) -> str:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24)])
    bban = "".join(rng.choice(string.digits) for _ in range(length - 4))
    if country in ("GB", "NL"):
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + bban[4:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    iban = f"{country}{check:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _phone(rng: random.Random) -> str:
    options: list[Callable[[], str]] = [
        lambda: f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
        lambda: f"+1-{rng.randint(201, 989)}-555-{rng.randint(1000, 9999):04d}",
        lambda: f"({rng.randint(201, 989)}) 555-{rng.randint(1000, 9999):04d}",
        lambda: f"+49 30 {rng.randint(100000, 999999)}",
        lambda: "+33 6 " + " ".join(str(rng.randint(10, 99)) for _ in range(4)),
        lambda: "06 " + " ".join(str(rng.randint(10, 99)) for _ in range(4)),
        lambda: f"+91 {rng.randint(70000, 99999)} {rng.randint(10000, 99999)}",
    ]
    return rng.choice(options)()


def _secret(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits

    def pick(n: int) -> str:
        return "".join(rng.choice(alnum) for _ in range(n))

    options: list[Callable[[], str]] = [
        lambda: "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        lambda: "ghp_" + pick(36),
        lambda: "xoxb-" + pick(12) + "-" + pick(24),
        lambda: "sk-proj-" + pick(40),
        lambda: "sk_live_" + pick(24),
        lambda: "glpat-" + pick(20),
    ]
    return rng.choice(options)()


_NAMES = ["jane.doe", "ravi.patel", "chen.wei", "maria.garcia", "lars.jensen", "amara.okafor", "o'neil"]
_DOMAINS = ["example.com", "mail.example.co.uk", "example.de", "example.fr", "corp.example.in"]

POSITIVES: dict[str, Callable[[random.Random], str]] = {
    "EMAIL": lambda r: f"{r.choice(_NAMES)}{r.randint(1, 99)}@{r.choice(_DOMAINS)}",
    "CARD": _card,
    "IBAN": _iban,
    "SSN": lambda r: f"{r.randint(100, 665):03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999):04d}",
    "IP": lambda r: r.choice([f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}."
                              f"{r.randint(1, 254)}",
                              f"2001:db8:{r.randint(1, 9999):x}::{r.randint(1, 65535):x}"]),
    "PHONE": _phone,
    "SECRET": _secret,
}

NEGATIVES: list[Callable[[random.Random], str]] = [
    lambda r: f"order #{r.randint(10000, 99999999)}",
    lambda r: str(uuid.UUID(int=r.getrandbits(128))),
    lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
              f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00Z",
    lambda r: f"v{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
    lambda r: f"{r.getrandbits(160):040x}",
    lambda r: f"${r.randint(1, 9999)}.{r.randint(0, 99):02d}",
    lambda r: f"1Z{r.randint(100000, 999999)}{r.randint(10000000, 99999999)}",
    lambda r: f"tokens_used={r.randint(10, 99999)}",
    lambda r: f"{r.randint(1, 59)} ms at {r.randint(10, 99)}%",
    lambda r: f"build {r.randint(1000, 99999)} took {r.randint(1, 999)} s",
]

_TEMPLATES = ["Please check {} today.", "The value was {} (from the form)", "{}", "note: {}; thanks",
              "Bitte prüfen Sie {} noch heute.", "Merci de vérifier {} rapidement.", "ref={} status=ok"]


def generate(n: int, seed: int = 13) -> Iterator[Sample]:
    """n samples: about two thirds planted PII spread over the types, one third hard negatives."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not cryptography
    kinds = list(POSITIVES)
    for i in range(n):
        template = rng.choice(_TEMPLATES)
        if i % 3 == 2:
            value = rng.choice(NEGATIVES)(rng)
            yield Sample(template.format(value), None, value)
        else:
            kind = kinds[i % len(kinds)]
            value = POSITIVES[kind](rng)
            yield Sample(template.format(value), kind, value)
