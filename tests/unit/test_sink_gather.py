"""The sink's batching: full batches under load, prompt small ones when Elasticsearch is free."""

from __future__ import annotations

from collections.abc import Callable

from agent_audit.sinks.gather import gather


def _arrivals(*slices: list[int]) -> Callable[[int, float], list[int]]:
    """A consumer whose successive calls find these records (then nothing), at most n per call."""
    pending = [list(s) for s in slices]

    def consume(n: int, _wait: float) -> list[int]:
        if not pending:
            return []
        got, rest = pending[0][:n], pending[0][n:]
        if rest:
            pending[0] = rest
        else:
            pending.pop(0)
        return got

    return consume


def test_while_elasticsearch_is_busy_records_gather_until_the_batch_is_full() -> None:
    """A busy Elasticsearch gets a full batch next, never more than the batch size."""
    consume = _arrivals([1, 2], [3], [4, 5, 6], [7])
    assert gather(consume, 5, lambda _records: False, timeout=10) == [1, 2, 3, 4, 5]
    assert consume(10, 0) == [6]


def test_a_free_elasticsearch_gets_what_has_come_at_once() -> None:
    """Ready as soon as records exist (nothing in flight): the first slice's records go alone."""
    consume = _arrivals([], [1, 2], [3])
    assert gather(consume, 100, bool, timeout=10) == [1, 2]


def test_a_finished_batch_in_flight_ends_gathering_even_with_nothing_new() -> None:
    """When the batch in flight is done, gathering stops so it is acknowledged without waiting."""
    consume = _arrivals([], [1])
    assert gather(consume, 100, lambda _records: True, timeout=10) == []


def test_without_records_gathering_ends_at_the_timeout() -> None:
    """An idle topic and a free Elasticsearch: the call returns empty once its time is up."""
    assert gather(_arrivals(), 100, bool, timeout=0.05) == []


def test_a_free_elasticsearch_still_waits_the_linger_for_more_records() -> None:
    """With a linger, the first records wait that long for more (fewer, fuller bulk requests);
    the batch then goes with everything that came meanwhile."""
    calls: list[int] = []

    def consume(n: int, _wait: float) -> list[int]:
        calls.append(n)
        return [len(calls)] if len(calls) <= 3 else []

    got = gather(consume, 100, bool, timeout=10, linger=0.05)
    assert got == [1, 2, 3] and len(calls) > 3  # it kept reading after the first record came


def test_a_full_batch_goes_before_the_linger_ends() -> None:
    """The linger only holds small batches back: a full one goes at once."""
    assert gather(_arrivals([1, 2, 3]), 3, bool, timeout=10, linger=60) == [1, 2, 3]
