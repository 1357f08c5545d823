"""A labelled synthetic corpus for measuring redaction: PII of several locales and hard negatives.

Deterministic for a seed. Each sample is a sentence (in one of eight languages) with one planted
value and its kind, or a hard negative: a value a careless redactor takes for PII (order numbers,
UUIDs, timestamps, versions, hashes, prices, tracking numbers, metric names, hex addresses ...).
Values follow the real formats: cards pass Luhn in issuer ranges, IBANs carry their country's
length and mod-97 check digits, phones are written as people of each locale write them.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from agent_audit.core.redaction.checks import IBAN_LENGTHS, luhn

__all__ = ["KINDS", "NEGATIVES", "POSITIVES", "Sample", "generate", "planted"]

Gen = Callable[[random.Random], str]
ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Sample:
    text: str
    kind: str | None  # the planted kind, None for a hard negative
    value: str  # the planted value: it must not survive redaction
    key: str | None = None  # the dict key the text sits under, if any (corpora/context.py)


def _pick(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def _digits(r: random.Random, n: int) -> str:
    return _pick(r, string.digits, n)


def _card(r: random.Random) -> str:
    prefix, length, groups = r.choice([
        ("4", 16, (4, 4, 4, 4)), ("5" + r.choice("12345"), 16, (4, 4, 4, 4)),
        (str(r.randint(2221, 2720)), 16, (4, 4, 4, 4)), ("3" + r.choice("47"), 15, (4, 6, 5)),
        ("6011", 16, (4, 4, 4, 4)), ("65", 16, (4, 4, 4, 4)),
        ("35" + str(r.randint(28, 89)), 16, (4, 4, 4, 4)),
        ("36", 14, (4, 6, 4)), ("62", 19, (4, 4, 4, 4, 3)),
    ])
    body = prefix + _digits(r, length - len(prefix) - 1)
    raw = next(body + c for c in string.digits if luhn(body + c))
    sep = r.choice(["", " ", "-"])
    if not sep:
        return raw
    parts, at = [], 0
    for g in groups:
        parts.append(raw[at:at + g])
        at += g
    return sep.join(parts)


def _iban(r: random.Random) -> str:
    country = r.choice(["DE", "GB", "FR", "NL", "ES", "IT", "BE", "CH", "PL", "PT", "AT", "IE", "SE", "NO"])
    bban = _digits(r, IBAN_LENGTHS[country] - 4)
    if country in ("GB", "NL", "IE"):
        bban = _pick(r, string.ascii_uppercase, 4) + bban[4:]
    elif country == "IT":
        bban = r.choice(string.ascii_uppercase) + bban[1:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if r.random() < 0.5 else iban


def _phone(r: random.Random) -> str:
    d, n = _digits, r.randint
    formats: list[Callable[[], str]] = [
        lambda: f"+1 {n(201, 989)} 555 {d(r, 4)}", lambda: f"+1-{n(201, 989)}-555-{d(r, 4)}",
        lambda: f"({n(201, 989)}) 555-{d(r, 4)}", lambda: f"{n(201, 989)}-555-{d(r, 4)}",
        lambda: f"{n(201, 989)}.555.{d(r, 4)}", lambda: f"1-800-{n(200, 999)}-{d(r, 4)}",
        lambda: f"+44 20 {d(r, 4)} {d(r, 4)}", lambda: f"020 {d(r, 4)} {d(r, 4)}",
        lambda: f"07{d(r, 3)} {d(r, 6)}", lambda: f"+44 (0)161 {d(r, 3)} {d(r, 4)}",
        lambda: f"+49 30 {d(r, 7)}", lambda: f"030 {d(r, 7)}", lambda: f"0151 {d(r, 8)}",
        lambda: f"(089) {d(r, 7)}", lambda: f"030/{d(r, 7)}",
        lambda: "+33 6 " + " ".join(d(r, 2) for _ in range(4)),
        lambda: "06 " + " ".join(d(r, 2) for _ in range(4)),
        lambda: "01." + ".".join(d(r, 2) for _ in range(4)),
        lambda: f"+34 612 {d(r, 3)} {d(r, 3)}", lambda: f"6{d(r, 2)} {d(r, 2)} {d(r, 2)} {d(r, 2)}",
        lambda: f"91 {d(r, 3)} {d(r, 2)} {d(r, 2)}", lambda: f"+39 06 {d(r, 4)} {d(r, 4)}",
        lambda: f"333 {d(r, 3)} {d(r, 4)}", lambda: f"+31 6 {d(r, 8)}", lambda: f"020-{d(r, 7)}",
        lambda: f"+81 3-{d(r, 4)}-{d(r, 4)}", lambda: f"090-{d(r, 4)}-{d(r, 4)}",
        lambda: f"+61 4{d(r, 2)} {d(r, 3)} {d(r, 3)}", lambda: f"(02) {d(r, 4)} {d(r, 4)}",
        lambda: f"+91 {n(70000, 99999)} {d(r, 5)}", lambda: f"{n(70000, 99999)} {d(r, 5)}",
        lambda: f"+55 11 9{d(r, 4)}-{d(r, 4)}", lambda: f"(11) 9{d(r, 4)}-{d(r, 4)}",
        lambda: f"+86 138 {d(r, 4)} {d(r, 4)}", lambda: f"+4420{d(r, 8)}",
        lambda: f"0044 20 {d(r, 4)} {d(r, 4)}", lambda: f"+1.{n(201, 989)}.555.{d(r, 4)}",
        lambda: f"(+44) 20 {d(r, 4)} {d(r, 4)}", lambda: f"+49-30-{d(r, 7)}", lambda: f"+49 (0) 30 {d(r, 7)}",
        lambda: f"{n(201, 989)} 555 {d(r, 4)}", lambda: f"+7 495 {d(r, 3)}-{d(r, 2)}-{d(r, 2)}",
        lambda: f"+82 10-{d(r, 4)}-{d(r, 4)}", lambda: f"+27 82 {d(r, 3)} {d(r, 4)}",
        lambda: f"+52 55 {d(r, 4)} {d(r, 4)}", lambda: f"+44 7700 {d(r, 6)}",
        lambda: f"({n(201, 989)}) 555-{d(r, 4)} ext. {d(r, 3)}",
    ]
    return r.choice(formats)()


def _secret(r: random.Random) -> str:
    p = _pick
    shapes: list[Callable[[], str]] = [
        lambda: "AKIA" + p(r, string.ascii_uppercase + "234567", 16), lambda: "ghp_" + p(r, ALNUM, 36),
        lambda: "github_pat_" + p(r, ALNUM, 22) + "_" + p(r, ALNUM, 59), lambda: "glpat-" + p(r, ALNUM, 20),
        lambda: f"xoxb-{_digits(r, 11)}-{_digits(r, 12)}-{p(r, ALNUM, 24)}",
        lambda: "sk-proj-" + p(r, ALNUM, 48),
        lambda: "sk-ant-api03-" + p(r, ALNUM + "_-", 93) + "AA", lambda: "sk_live_" + p(r, ALNUM, 24),
        lambda: "rk_live_" + p(r, ALNUM, 24), lambda: "AIza" + p(r, ALNUM + "_-", 35),
        lambda: "hf_" + p(r, ALNUM, 34), lambda: "npm_" + p(r, ALNUM, 36),
        lambda: f"SG.{p(r, ALNUM, 22)}.{p(r, ALNUM, 43)}", lambda: "ya29." + p(r, ALNUM + "_-", 60),
    ]
    return r.choice(shapes)()


_JWT_HEADER = b'{"alg":"HS256","typ":"JWT"}'


def _jwt(r: random.Random) -> str:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    payload = f'{{"sub":"{r.randint(1, 10**6)}","exp":{r.randint(1_700_000_000, 1_900_000_000)}}}'
    return f"{part(_JWT_HEADER)}.{part(payload.encode())}.{part(r.randbytes(32))}"


def _private_key(r: random.Random) -> str:
    label = r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = "\n".join(base64.b64encode(r.randbytes(48)).decode() for _ in range(r.randint(3, 8)))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def _password(r: random.Random) -> str:
    return _pick(r, ALNUM, r.randint(6, 10)) + r.choice("!#%&*+") + _digits(r, 2)


def _credentials(r: random.Random) -> str:
    return f"{r.choice(['admin', 'svc_app', 'jane', 'root'])}:{_pick(r, ALNUM + '!*%', r.randint(8, 20))}"


_NAMES = ["jane.doe", "ravi.patel", "chen.wei", "maria.garcia", "lars.jensen", "amara.okafor", "o'neil",
          "josé.garcía", "müller", "yuki.tanaka", "j.smith+billing", "ANNA.KOWALSKA"]
_DOMAINS = ["example.com", "mail.example.co.uk", "example.de", "example.fr", "corp.example.in",
            "example.com.br", "example.co.jp", "müller-bau.de", "sub.example.io"]

def _email(r: random.Random) -> str:
    return r.choice(["{}", "<{}>", "mailto:{}", "{}.", "({})"]).format(
        f"{r.choice(_NAMES)}{r.randint(1, 99)}@{r.choice(_DOMAINS)}")


POSITIVES: dict[str, Gen] = {
    "EMAIL": _email,
    "PHONE": _phone,
    "CARD": _card,
    "IBAN": _iban,
    "SSN": lambda r: r.choice(["{}-{}-{}", "{} {} {}"]).format(
        r.randint(100, 665), r.randint(10, 99), f"{r.randint(1, 9999):04d}"),
    "IP": lambda r: r.choice([
        f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        f"2001:db8:{r.randint(1, 0xffff):x}::{r.randint(1, 0xffff):x}",
        ":".join(f"{r.randint(0, 0xffff):x}" for _ in range(8)),
        f"fe80::{r.randint(1, 0xffff):x}:{r.randint(1, 0xffff):x}:{r.randint(1, 0xffff):x}"]),
    "SECRET": _secret,
    "PASSWORD": _password,
    "JWT": _jwt,
    "PRIVATE_KEY": _private_key,
    "CREDENTIALS": _credentials,
}
# Generators whose values count as another kind: a password is a SECRET found by its key name.
_COUNTED_AS = {"PASSWORD": "SECRET"}
KINDS: tuple[str, ...] = tuple(k for k in POSITIVES if k not in _COUNTED_AS)

# How a planted value sits in its sentence, per kind ({} is the value).
_FRAMES: dict[str, list[str]] = {
    "SECRET": ["{}", "export OPENAI_API_KEY={}", "token: {}", "Authorization: Bearer {}", "key={}&v=2"],
    "PASSWORD": ["password={}", 'login {{"user": "jane", "password": "{}"}}', "DB_PASSWORD={}",
                 "passwd: {}", "client_secret: '{}'", "Passwort: {}", "mot_de_passe={}"],
    "IP": ["{}", "http://{}:8080/health", "from {} port 22"],
    "CREDENTIALS": ["postgres://{}@db.internal:5432/app", "https://{}@git.example.com/repo.git",
                    "redis://{}@cache:6379/0", "mongodb+srv://{}@cluster0.example.net/"],
    "JWT": ["{}", "Authorization: Bearer {}", "id_token={}"],
}
_TEMPLATES = ["Please check {} today.", "The value was {} (from the form)", "{}", "note: {}; thanks",
              "Bitte prüfen Sie {} noch heute.", "Merci de vérifier {} rapidement.", "ref={} status=ok",
              "Por favor, confirme {} hoy.", "Controlla {} per favore.", "Kun je {} nakijken?",
              "Verifique {} amanhã.", "{} を確認してください。", "tool returned: [{}]", "- {}\n- done"]

NEGATIVES: list[Gen] = [
    lambda r: f"order #{r.randint(10000, 99999999)}", lambda r: f"order {r.randint(10**9, 10**10)}",
    lambda r: str(uuid.UUID(int=r.getrandbits(128))),
    lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:"
              f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999):03d}Z",
    lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:"
              f"{r.randint(0, 59):02d}",
    lambda r: f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.2026 {r.randint(0, 23):02d}:00",
    lambda r: f"{r.randint(1, 12):02d}/{r.randint(1, 28):02d}/2026",
    lambda r: f"v{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
    lambda r: f"{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}-rc.{r.randint(1, 9)}",
    lambda r: f"10.0.{r.randint(10000, 26000)}.{r.randint(1000, 9999)}",  # a Windows build number
    lambda r: f"{r.getrandbits(160):040x}", lambda r: f"{r.getrandbits(28):07x}",
    lambda r: f"sha256:{r.getrandbits(256):064x}", lambda r: f"0x{r.getrandbits(48):012x}",
    lambda r: f"${r.randint(1, 9999)}.{r.randint(0, 99):02d}",
    lambda r: f"€ {r.randint(1, 999)},{r.randint(0, 99):02d}",
    lambda r: f"{r.randint(1, 999)},{r.randint(100, 999)},{r.randint(100, 999)}.{r.randint(0, 99):02d} USD",
    lambda r: f"1Z{_pick(r, string.ascii_uppercase + string.digits, 16)}",
    lambda r: f"9400 1{_digits(r, 3)} {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 2)}",
    lambda r: f"tokens_used={r.randint(10, 99999)}", lambda r: f"max_tokens: {r.choice([256, 1024, 4096])}",
    lambda r: f"token_count={r.randint(1, 9999)}", lambda r: f"prompt_tokens: {r.randint(1, 9999)}",
    lambda r: f"{r.randint(1, 59)} ms at {r.randint(10, 99)}%", lambda r: f"took {r.randint(1000, 99999)} ms",
    lambda r: f"build {r.randint(1000, 99999)} took {r.randint(1, 999)} s",
    lambda r: f"ts={r.randint(1_700_000_000, 1_800_000_000)}", lambda r: f"{r.randint(10**12, 10**13)} ns",
    lambda r: f"line {r.randint(1, 9999)}, column {r.randint(1, 200)}",
    lambda r: f"port {r.randint(1024, 65535)}", lambda r: f"{r.randint(1, 10**7)} bytes",
    lambda r: f"{r.uniform(-90, 90):.4f}, {r.uniform(-180, 180):.4f}",
    lambda r: f"web-{r.getrandbits(36):09x}-{_pick(r, string.ascii_lowercase + string.digits, 5)}",
    lambda r: "password policy updated", lambda r: "auth_method: oauth",
    lambda r: "the token bucket refilled",
    lambda r: "basic authentication is disabled", lambda r: "the bearer of this letter",
    lambda r: f"risk-assessment-{r.randint(2020, 2030)}-final-report", lambda r: f"10:{r.randint(10, 59)}:00",
    lambda r: f"{r.randint(1, 9)}.{r.randint(0, 9)} out of 10", lambda r: f"room {r.randint(100, 999)}",
    lambda r: f"ISBN 978-{r.randint(0, 1)}-{_digits(r, 3)}-{_digits(r, 5)}-{r.randint(0, 9)}",
    lambda r: f"std::vector<int> at {r.randint(1, 99)}", lambda r: f"call #{r.randint(1, 999)} of 1000",
]


def generate(n: int, seed: int = 13) -> Iterator[Sample]:
    """n samples: about two thirds planted values spread over the kinds, one third hard negatives."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not cryptography
    for i in range(n):
        if i % 3 == 2:
            value = rng.choice(NEGATIVES)(rng)
            yield Sample(rng.choice(_TEMPLATES).format(value), None, value)
            continue
        yield planted(rng, list(POSITIVES)[(i - i // 3) % len(POSITIVES)])


def planted(rng: random.Random, source: str) -> Sample:
    """One sentence holding a value from ``source`` (a key of POSITIVES), framed as people write it."""
    value = POSITIVES[source](rng)
    framed = rng.choice(_FRAMES.get(source, ["{}"])).format(value)
    text = rng.choice(_TEMPLATES).replace("{}", framed)
    return Sample(text, _COUNTED_AS.get(source, source), value.strip("<>().").removeprefix("mailto:"))
