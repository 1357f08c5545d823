"""Values that only the words before them identify: secrets without a known prefix, names,
postal addresses and dates of birth.

Guarantee: a finding here needs both a trigger phrase ("api key", "my password is", "my name is",
"I live at", "born on" ...) and a value shaped as that phrase's kind right after it: a secret is
random-looking (letters *and* digits, 12 characters or more) unless a password label names it, a
name is capitalised words, an address holds a number, a birth date is a date. Whatever follows a
trigger but lacks the shape ("the token bucket", "my name is not important", "I live in London")
is left alone.

Passwords: after ``password:`` the whole passphrase goes, up to the end of its clause
(``PASSWORD: correct horse battery staple``); after ``password=`` one token; after ``password is``
one word that is not plain lowercase prose (``hunter2`` goes, ``incorrect`` stays). No value is
cut at a length: a 4,000-character secret goes whole.

The gates (``may_hold_secret``: substring tests; ``may_hold_personal``: one split and a set test)
read the lowered text, so prose without a trigger word costs a few hundred nanoseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agent_audit.core.redaction.patterns import TOKEN

__all__ = ["find_personal", "find_secrets", "may_hold_personal", "may_hold_secret"]

_SECRET_TRIGGER = re.compile(
    r"(?<![^\W_])(?:"
    r"(?P<pw>pass(?:word|phrase|wd|wort|code)|pwd|mot de passe)"
    r"|(?P<key>(?:api|access|secret|private|signing|license|licence|my|the|your|our)[ _\-]?key|token|secret)"
    r")(?=[\s:=\"'])", re.IGNORECASE)
# Each alternative holds one of _PERSONAL_WORDS as a whole whitespace-parted word, and a trigger
# stands between whitespace (or the text's ends): the gate's word test then never hides one.
_SECRET_STEMS = ("key", "token", "secret", "pass", "pwd")  # every secret trigger holds one (a test checks)
_FOLLOWS = frozenset(" \t\n\r:=\"'")  # what may follow a trigger (its lookahead)
_PERSONAL_TRIGGER = re.compile(
    r"(?<!\S)(?:"
    r"(?P<name>my (?:full )?name is|(?:full|customer|patient|legal) name[ \t]*:|mein name ist"
    r"|ich hei(?:ß|ss)e|je m['\u2019]appelle|me llamo|mi chiamo|mijn naam is|meu nome é|i am called)"
    r"|(?P<addr>i live (?:at|on)|my (?:home |postal |mailing |billing |shipping )?address is"
    r"|(?:home |postal |mailing |billing |shipping |delivery |street )?address[ \t]*:"
    r"|ich wohne in der|wohnhaft in der|j['\u2019]habite au|vivo en la calle|abito in via|moro na rua)"
    r"|(?P<dob>born on|born|date of birth|birth ?date|dob|birthday(?: is)?|geboren am|n[ée]e? le"
    r"|nacid[oa] el|nat[oa] il|nascid[oa] em|fecha de nacimiento|date de naissance|geburtsdatum)"
    r")(?=\s|$|:(?:\s|$))", re.IGNORECASE)
_PERSONAL_WORDS = frozenset(
    w + end for w in (
        "name", "naam", "nome", "heiße", "heisse", "m'appelle", "m\u2019appelle", "llamo", "chiamo", "called",
        "live", "address", "wohne", "wohnhaft", "j'habite", "j\u2019habite", "vivo", "abito", "moro",
        "born", "birth", "birthdate", "dob", "birthday", "geboren", "né", "née", "ne", "nee", "nacido",
        "nacida", "nato", "nata", "nascido", "nascida", "nacimiento", "naissance", "geburtsdatum")
    for end in ("", ":"))
# What joins a trigger to its value: ':' or '=', or a verb ("is", German "ist", French "est",
# Spanish "es", Portuguese "é", Italian "è"; "provided", "used" in API errors).
_CONNECTOR = re.compile(r"[ \t]*(?:[\"']?[ \t]*(?P<op>[:=])"
                        r"|(?P<verb>is|ist|est|es|é|è|was|provided|used|of|on|am)\b)?"
                        r"(?:[ \t]+(?:is|was)\b)?[ \t]*:?[ \t]*")
_QUOTED = re.compile(r"\"([^\"\n]+)\"|'([^'\n]+)'|`([^`\n]+)`")
_WORD = re.compile(r"[^\s\"'`<>\[\]{}]+")  # a password may hold any other printable character
_CLAUSE = re.compile(r"[^\n,;\"'<>\[\]{}|]+")
_SECRETISH = re.compile(r"[A-Za-z0-9_\-+/=.~]+")
# O'Neil, Jean-Luc, J., and titles: Dipl.-Ing., Univ.Prof.
_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|[.'\u2019\-](?=[^\W\d_])|\.-(?=[^\W\d_]))*\.?"
_NAME = re.compile(rf"{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,4}}")
_ADDRESS = re.compile(r"[^\n;()\[\]{}\"<>|]{4,160}")
_SENTENCE_END = re.compile(r"[.!?](?:[ \t]+(?=[A-Z])|[ \t]*$)")
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}[./\-][0-9]{1,2}[./\-][0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:19|20)?[0-9]{2}"
    r"|[0-9]{1,2}(?:st|nd|rd|th|er|\.)?[ \t]+(?:of[ \t]+|de[ \t]+)?[^\W\d_]{3,10}\.?,?[ \t]+(?:de[ \t]+)?"
    r"(?:19|20)[0-9]{2}|[^\W\d_]{3,10}\.?[ \t]+[0-9]{1,2}(?:st|nd|rd|th)?,?[ \t]+(?:19|20)[0-9]{2}")
_PARTICLES = frozenset({"de", "del", "della", "der", "den", "van", "von", "da", "di", "du", "le", "la", "bin",
                        "ibn", "y", "dos", "das", "ter", "zu"})

Finding = tuple[int, int, str]


def may_hold_secret(low: str) -> bool:
    """Whether the lowered text holds a secret trigger's stem (spelled out: substring tests are the
    cheapest gate Python has; a test holds them in step with ``_SECRET_TRIGGER``)."""
    return "key" in low or "token" in low or "secret" in low or "pass" in low or "pwd" in low


def may_hold_personal(low: str) -> bool:
    """Whether the lowered text holds a name, address or birth-date trigger's word: one split and
    one set test, six times cheaper than thirty substring tests."""
    return not _PERSONAL_WORDS.isdisjoint(low.split())


def find_secrets(text: str, low: str | None = None) -> Iterator[Finding]:
    """(start, end, SECRET) of each secret a password or key phrase introduces. The trigger regex
    (case-blind, a dozen branches) is slow over a whole text, so it runs only in a short window
    around each occurrence of a stem, found by ``str.find`` in C."""
    if low is None:
        low = text.lower()
    if len(low) != len(text):  # lower() changed the length (a dotted İ): positions would not map
        return _find(_SECRET_TRIGGER, text)
    starts: set[int] = set()
    for stem in _SECRET_STEMS:
        at = low.find(stem)
        while at != -1:
            after = low[at + len(stem):at + len(stem) + 1]
            if stem != "pass" and after and after not in _FOLLOWS:
                at = low.find(stem, at + 1)  # tokens_used, keyboard: the stem inside a longer word
                continue
            m = _SECRET_TRIGGER.search(text, max(0, at - 9), at + 12)
            if m is not None:
                starts.add(m.start())
            at = low.find(stem, at + 1)
    return _find(_SECRET_TRIGGER, text, sorted(starts))


def find_personal(text: str) -> Iterator[Finding]:
    """(start, end, kind) of each name, postal address or birth date a phrase introduces."""
    return _find(_PERSONAL_TRIGGER, text)


def _find(trigger: re.Pattern[str], text: str, starts: list[int] | None = None) -> Iterator[Finding]:
    floor = 0
    found_triggers = trigger.finditer(text) if starts is None else (
        m for at in starts if (m := trigger.match(text, at)) is not None)
    for m in found_triggers:
        if m.start() < floor or _inside_token(text, m.start()):
            continue
        conn = _CONNECTOR.match(text, m.end())
        at = conn.end() if conn else m.end()
        group = m.lastgroup
        if group == "pw":
            found = _password(text, at, conn.group("op") if conn else None, bool(conn and conn.group("verb")))
        elif group == "key":
            found = _key(text, at)
        elif group == "name":
            found = _name(text, at)
        elif group == "addr":
            found = _address(text, at)
        else:
            date = _DATE.match(text, at)
            found = (date.start(), date.end(), "DOB") if date else None
        if found:
            floor = found[1]
            yield found


def _inside_token(text: str, at: int) -> bool:
    """Whether ``at`` falls inside a placeholder or keyed token ([PRIVATE_KEY:0c67167752a9])."""
    opening = text.rfind("[", max(0, at - 24), at)
    if opening == -1:
        return False
    token = TOKEN.match(text, opening)
    return token is not None and token.end() > at


def _quoted(text: str, at: int) -> tuple[int, int] | None:
    q = _QUOTED.match(text, at)
    if q is None:
        return None
    group = q.lastindex or 1
    return q.start(group), q.end(group)


def _password(text: str, at: int, op: str | None, verb: bool) -> Finding | None:
    span = _quoted(text, at)
    if span is None:
        if op == ":":
            clause = _CLAUSE.match(text, at)  # the whole passphrase, to the end of its clause
            if clause is None:
                return None
            end = at + _sentence(clause.group())
            span = (at, end) if end > at else None
        elif op == "=" or verb:
            word = _WORD.match(text, at)
            if word is None:
                return None
            value = word.group().rstrip(".,;!?:)")
            # After "is": a plain lowercase word is prose ("the password is incorrect"), not a password.
            if not value or (op is None and value.isalpha() and (value.islower() or value.istitle())):
                return None
            span = (at, at + len(value))
    if span is None or text.startswith("[", span[0]):
        return None
    return span[0], span[1], "SECRET"


def _key(text: str, at: int) -> Finding | None:
    """A random-looking token: 12+ characters holding letters and digits, or 20+ of base64's."""
    span = _quoted(text, at)
    start, end = span if span else (at, at)
    word = _SECRETISH.match(text, start)
    if word is None:
        return None
    value = word.group().rstrip(".:")
    if span and len(value) != end - start:
        return None  # a quoted phrase, not a token
    n = len(value)
    mixed = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    if (n >= 12 and mixed) or (n >= 20 and not value.isalpha()) or n >= 32:
        return start, start + n, "SECRET"
    return None


def _name(text: str, at: int) -> Finding | None:
    m = _NAME.match(text, at)
    if m is None:
        return None
    taken: list[str] = []
    for word in m.group().split():
        if word[0].isupper() or (word.lower() in _PARTICLES and taken):
            taken.append(word)
        else:
            break
    while taken and taken[-1].lower() in _PARTICLES:
        taken.pop()
    if not taken:
        return None
    written = text[at:m.end()]
    end = at
    for word in taken:  # the end of the last capitalised word, as written
        end = written.index(word, end - at) + at + len(word)
    value = text[at:end].rstrip(".")
    return at, at + len(value), "NAME"


def _address(text: str, at: int) -> Finding | None:
    m = _ADDRESS.match(text, at)
    if m is None:
        return None
    end = at + _sentence(m.group())
    value = text[at:end]
    if not any(c.isdigit() for c in value) or len(value.split()) < 2 or "[" in value:
        return None  # a city alone, or a memory or network address already taken
    return at, end, "ADDRESS"


def _sentence(clause: str) -> int:
    """Where the first sentence of ``clause`` ends, trailing punctuation and spaces left out."""
    stop = _SENTENCE_END.search(clause)
    cut = stop.start() if stop else len(clause)
    return len(clause[:cut].rstrip(" \t.!?:"))
