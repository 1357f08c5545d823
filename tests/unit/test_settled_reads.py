"""Reads over an index pattern ride out the 503 of a daily index whose shard is starting."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, BadRequestError

from agent_audit.sinks.queries import settled


def _error(status: int) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    kind = BadRequestError if status == 400 else ApiError
    return kind("search_phase_execution_exception", meta=meta, body={})


class Cluster:
    """The part of the client ``settled`` uses between attempts: health waits, counted."""

    def __init__(self) -> None:
        self.health_calls = 0
        self.cluster = self

    def options(self, **_: Any) -> Cluster:
        return self

    def health(self, **_: Any) -> dict[str, str]:
        self.health_calls += 1
        return {"status": "yellow"}


def test_a_503_is_retried_after_waiting_for_the_shards_and_the_answer_comes_back() -> None:
    """Two 503s, then an answer: the answer is returned, after a health wait per failure."""
    es, answers = Cluster(), [_error(503), _error(503), {"hits": []}]

    def read() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert settled(es, "events", read) == {"hits": []}  # type: ignore[arg-type]
    assert es.health_calls == 2


def test_other_errors_and_a_503_past_the_patience_are_raised() -> None:
    """A 400 is a real answer (raised at once); a 503 that lasts longer than the patience too."""
    es = Cluster()

    def bad() -> Any:
        raise _error(400)

    def starting() -> Any:
        raise _error(503)

    with pytest.raises(BadRequestError):
        settled(es, "events", bad)  # type: ignore[arg-type]
    assert es.health_calls == 0
    with pytest.raises(ApiError):
        settled(es, "events", starting, patience_s=0.0)  # type: ignore[arg-type]
