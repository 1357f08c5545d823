"""An outside corpus: personal data made by Faker, whose locale providers others wrote, not with
our detectors in view; set in Faker's own sentences, beside hard negatives that Faker also makes
(barcodes, ISBNs, UUIDs, hashes, timestamps, user agents, paths, URLs, prices).

Our own corpus (``corpus.py``) was written together with the detectors, so its perfect scores guard
against regressions and prove little; this one measures what we did not plan for. It is scored by
the same function (``evaluation.score``) in ``tests/unit/test_redaction_outside.py`` (a floor per
kind) and in ``bench/redaction`` (beside Presidio). Faker is a dev dependency: this module is for
tests and benchmarks, never imported by the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from faker import Faker

from corpora.corpus import Sample

__all__ = ["CARD_TYPES", "LOCALES", "generate"]

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "ja_JP", "pt_BR", "en_IN",
           "en_AU", "zh_CN")
# Faker's IBANs for en_IN and zh_CN are a character short of the GB length they claim.
_IBAN_LOCALES = frozenset({"en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR"})
# Every card type Faker knows but 'visa13': 13-digit Visa numbers are no longer issued and every one
# has expired; we do not take them (``checks.card_number`` says why). zh_CN knows only a few.
CARD_TYPES = ("maestro", "mastercard", "visa16", "visa19", "amex", "discover", "diners", "jcb15", "jcb16",
              "unionpay")


def _positives(fake: Faker, locale: str) -> dict[str, Callable[[], str]]:
    known = next(p.credit_card_types for p in fake.get_providers() if hasattr(p, "credit_card_types"))
    cards = [t for t in CARD_TYPES if t in known]
    made: dict[str, Callable[[], str]] = {
        "EMAIL": fake.email,
        "PHONE": fake.phone_number,
        "CARD": lambda: fake.credit_card_number(card_type=fake.random_element(cards)),
        "IP": lambda: fake.ipv4_public() if fake.pybool() else fake.ipv6(),
    }
    if locale in _IBAN_LOCALES:
        made["IBAN"] = fake.iban
    if locale == "en_US":
        made["SSN"] = fake.ssn
    return made


def _negatives(fake: Faker) -> tuple[Callable[[], str], ...]:
    return (fake.ean13, fake.isbn13, lambda: str(fake.uuid4()), fake.sha1, fake.iso8601,
            fake.user_agent, fake.file_path, fake.url, fake.pricetag, fake.license_plate,
            lambda: fake.date_time().strftime("%d.%m.%Y %H:%M"), lambda: str(fake.port_number()),
            lambda: f"{fake.pyint(1, 9)}.{fake.pyint(0, 30)}.{fake.pyint(0, 99)}")


def generate(per_kind: int = 100, seed: int = 17) -> Iterator[Sample]:
    """For each locale, ``per_kind`` samples of each kind it has and as many hard negatives, each set
    between two of the locale's sentences. Deterministic for a seed (and a Faker version)."""
    for offset, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + offset)
        for kind, make in _positives(fake, locale).items():
            for _ in range(per_kind):
                value = make()
                yield Sample(f"{fake.sentence()} {value} {fake.sentence()}", kind, value)
        negatives = _negatives(fake)
        for i in range(per_kind):
            value = negatives[i % len(negatives)]()
            yield Sample(f"{fake.sentence()} {value} {fake.sentence()}", None, value)
