"""The redactor remembers short texts: a repeated string costs a lookup, with the same result."""

from __future__ import annotations

from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction import redactor as redactor_module


def test_a_repeated_text_gives_the_same_result_and_counts_every_time() -> None:
    """The second and later sightings of a text redact it the same and count its findings again."""
    r = Redactor(key=b"k", key_version="v1")
    text = "write to jane@example.com or call +44 20 7946 0958"
    first = r.redact_text(text)
    assert r.redact_text(text) == first and first[1] == {"EMAIL": 1, "PHONE": 1}
    ev = {"session_id": "s", "user_id": "u", "payload": {"a": text, "b": text}}
    _, counts = r.redact_event(ev)
    assert counts == {"EMAIL": 2, "PHONE": 2}


def test_memo_and_fresh_redactor_agree_and_the_memo_stays_bounded() -> None:
    """Past its size the memo starts over; results never depend on what it holds."""
    warm, cold = Redactor(memo_size=3), Redactor(memo_size=0)
    texts = [f"user{i}@example.com said hi" for i in range(10)] + ["nothing to see here"] * 3
    for text in texts + texts:
        assert warm.redact_text(text) == cold.redact_text(text)
        assert len(warm._memo) <= 3
    assert not cold._memo


def test_long_texts_are_not_remembered() -> None:
    """Only short texts (ids, names, stock phrases) are kept: long ones would hold memory for little."""
    r = Redactor()
    r.redact_text("x" * (redactor_module._MEMO_TEXT + 1))
    assert not r._memo
