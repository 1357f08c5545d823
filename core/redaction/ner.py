"""The optional NER stage: a spaCy pipeline's PERSON entities as NAME findings, for free text.

Off by default: ``Redactor(names=spacy_finder())`` turns it on. The rules find names where context
makes them precise (keys, "my name is"); a statistical model also finds names in running prose, at
a cost in speed and with its own errors, measured in ``bench/redaction``. The model is loaded from
an installed package (``spacy.load``), never downloaded: without spaCy or the model this raises
``LookupError`` saying which is missing. spaCy is not a dependency of the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["spacy_finder"]

_LABELS = {"PERSON": "NAME"}


def spacy_finder(model: str = "en_core_web_sm") -> Callable[[str], Iterator[tuple[int, int, str]]]:
    """A name finder over an installed spaCy model (only its NER component runs)."""
    try:
        import spacy  # noqa: PLC0415 - optional, heavy: imported only when asked for
    except ImportError as exc:
        raise LookupError("the NER stage needs spaCy: pip install spacy") from exc
    try:
        nlp: Any = spacy.load(model, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger"])
    except OSError as exc:
        raise LookupError(f"spaCy model {model!r} is not installed") from exc

    def find(text: str) -> Iterator[tuple[int, int, str]]:
        for ent in nlp(text).ents:
            kind = _LABELS.get(ent.label_)
            if kind is not None and not ent.text.startswith("["):
                yield ent.start_char, ent.end_char, kind
    return find
