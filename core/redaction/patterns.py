"""The regular expressions, kept apart from the logic so each can be read (and reviewed) alone.

All are linear-time: character classes that never overlap the character that must follow them,
bounded repeats, and no nested quantifier over a shared class. Patterns that begin with a literal
or a class let the regex engine skip ahead to candidate characters; boundaries are therefore
checked just after the first character (``X(?<![\\w].)``) rather than with a leading lookbehind.
"""

from __future__ import annotations

import re

__all__ = [
    "ASSIGNMENT", "AZURE_SECRET", "BASIC", "BEARER", "EMAIL_DOMAIN", "EMAIL_LOCAL_REVERSED",
    "IBAN", "IBAN_PROBE", "IPV4", "IPV4_PROBE", "IPV6", "IPV6_PROBE", "JWT", "KEY_NAME_REVERSED",
    "NUMBER_PROBE", "SECRET_PROBE", "SECRET_SHAPES", "TOKEN", "URL_CREDENTIALS", "VALUE", "VERSION_BEFORE",
]

# What the redactor writes: [EMAIL] or [EMAIL:3f9a1c2b0d4e]. Never matched by any detector.
TOKEN = re.compile(r"\[[A-Z][A-Z0-9_]*(?::[0-9a-f]{6,64})?\]")

SECRET_SHAPES = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|A3T[0-9A-Z]{17}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_\-]{35}|ya29\.[0-9A-Za-z_\-]{20,}|GOCSPX-[0-9A-Za-z_\-]{24,}"  # Google
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
    r"|gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt|agent)-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|hooks\.slack\.com/services/[A-Za-z0-9/_\-]{20,}"  # Slack webhook
    r"|sk-[A-Za-z0-9_\-]{20,}"  # OpenAI (sk-proj-), Anthropic (sk-ant-), most LLM providers
    r"|sk_live_[A-Za-z0-9]{16,}|sk_test_[A-Za-z0-9]{16,}|rk_live_[A-Za-z0-9]{16,}"  # Stripe
    r"|rk_test_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}"
    r"|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_\-]{50,}"  # Hugging Face, npm, PyPI
    r"|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}|dop_v1_[a-f0-9]{64}"  # SendGrid, DigitalOcean
)
# What every shape above holds: an AWS or Google prefix, a Slack webhook, or a separator followed by
# ten key characters. Led by four characters only, rare in prose, so the engine skips most text in
# C; the full alternation (led by a dozen common lowercase letters) runs only where this matches.
SECRET_PROBE = re.compile(r"[_\-.A](?:(?<=A)(?:KIA|SIA|3T|Iza)|(?<=[_\-.])[A-Za-z0-9_\-]{10}"
                          r"|(?<=hooks\.)slack)")
AZURE_SECRET = re.compile(r"(?<![\w~.\-])[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}")  # Entra ID
JWT = re.compile(r"eyJ(?<![\w\-]eyJ)[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*")
BEARER = re.compile(r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/=\-]{12,})")
BASIC = re.compile(r"(?i:basic)[ \t]+([A-Za-z0-9+/]{8,}={0,2})")
URL_CREDENTIALS = re.compile(r"://([^\s/:@\[\]]{1,128}:[^\s/@\[\]]{1,256})@")

# name=value inside free text: find the operator, read the name backward, the value forward.
ASSIGNMENT = re.compile(r"[:=]")
KEY_NAME_REVERSED = re.compile(r"[ \t]{0,3}(?:\"\\|'\\|[\"'])?([A-Za-z0-9_.\-]{1,64})")
VALUE = re.compile(
    r"[ \t]{0,3}(?:\\?\"([^\"\\\n]+)|'([^'\n]+)'"  # no length cap: a long secret goes whole
    r"|(?:(?i:bearer|basic|token|digest)[ \t]+)?([^\s\"',;&<>=(){}][^\s\"',;&<>]*))"
)

# Emails are anchored on '@': the local part is matched on the reversed text before it.
EMAIL_LOCAL_REVERSED = re.compile(r"[\w.!#$%&'*+\-/=?^`{|}~]{1,256}")
EMAIL_DOMAIN = re.compile(r"[^\W_][\w\-]{0,62}(?:\.[\w\-]{1,63}){0,8}\.[^\W\d_]{2,63}")

IBAN_PROBE = re.compile(r"[A-Z][A-Z][0-9][0-9]")
IBAN = re.compile(r"([A-Z](?<![\w].)[A-Z])[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?")
IPV4_PROBE = re.compile(r"\.[0-9]{1,3}\.[0-9]")  # led by a literal: the engine jumps from dot to dot
# A version word just before a dotted quad (searched in a slice): rv:1.9.0.20, version 6.18.5.36,
# "agent version is 6.18.5.36", build 5.1.0.12, firmware v2.4.0.1, release: 10.0.1.2.
VERSION_BEFORE = re.compile(r"(?i:\brv:|\b(?:ver|vers|version|versión|versione|versao|versão|build|release"
                            r"|revision|rev|firmware|fw|kernel|patch|sdk|driver|bios)\b"
                            r"[ \t]*(?:is|was|:|=|/|#|no\.?)?[ \t]*(?:is[ \t]+)?v?)\Z")
IPV4 = re.compile(r"[0-9](?<![\w.].)[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![\w]|\.[0-9])")
IPV6 = re.compile(r"[0-9A-Fa-f:](?<![\w:.].)[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{0,4}){1,8}"
                  r"(?:\.[0-9]{1,3}){0,3}(?![\w:])")
# Two colons at most four hex digits apart: every IPv6 address we report has them. Led by a literal,
# so the engine jumps from colon to colon; a colon in prose ("note: ...") fails at once.
IPV6_PROBE = re.compile(r":[0-9A-Fa-f]{0,4}:")
# Seven digits, each pair at most two separators apart: every card, SSN or phone has that much.
NUMBER_PROBE = re.compile(r"[0-9](?:[ .\-/()]{0,2}[0-9]){6}")
