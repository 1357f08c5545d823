"""The pure rules behind queries and compliance: index names, expiry, seq gaps, identifiers, dead letters."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_audit.core.errors import ConfigError
from agent_audit.core.redaction import Redactor
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.families import DailyIndex, parse_daily_index
from agent_audit.sinks.compliance.holds import Hold, held_query
from agent_audit.sinks.compliance.identifiers import identifier_query, stored_form, subject_digest
from agent_audit.sinks.compliance.retention import RetentionPolicy, due_for_seal, expired
from agent_audit.sinks.dlq import DeadLetter, replay_group, summarize
from agent_audit.sinks.queries import seq_completeness

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(("name", "expected"), [
    ("agent-events-2026.11.25", DailyIndex(date(2026, 11, 25), "events", "agent-events-2026.11.25")),
    ("agent-metrics-2026.01.02", DailyIndex(date(2026, 1, 2), "metrics", "agent-metrics-2026.01.02")),
    ("agent-eu-events-2026.11.25", None),  # another deployment whose prefix starts with ours
    ("agent-access-log", None),
    ("agent-erasure-receipts", None),
    ("agent-events-2026.13.40", None),
    ("other-events-2026.11.25", None),
])
def test_daily_indices_are_recognised_by_name_only_for_our_prefix(name: str,
                                                                  expected: DailyIndex | None) -> None:
    """Only ``{prefix}-{one-word family}-YYYY.MM.DD`` with a real date is a daily index of ours."""
    assert parse_daily_index(name, "agent") == expected


def _index(family: str, day: date) -> DailyIndex:
    return DailyIndex(day, family, f"agent-{family}-{day:%Y.%m.%d}")


def test_an_index_expires_when_its_age_exceeds_its_familys_limit() -> None:
    """Age counts whole days from the name's date; the per-family limit overrides the default."""
    policy = RetentionPolicy.parse(90, "metrics=30")
    indices = [_index("events", date(2026, 8, 27)), _index("events", date(2026, 8, 26)),
               _index("metrics", date(2026, 10, 26)), _index("metrics", date(2026, 10, 25))]
    assert [d.name for d in expired(indices, policy, TODAY)] == [
        "agent-events-2026.08.26", "agent-metrics-2026.10.25"]


@pytest.mark.parametrize("spec", ["events", "events=", "events=0", "=5", "events=x", "events=-3"])
def test_a_malformed_family_limit_is_a_config_error(spec: str) -> None:
    """Retention deletes data: a limit it cannot read stops it before anything happens."""
    with pytest.raises(ConfigError):
        RetentionPolicy.parse(90, spec)


def test_sealing_leaves_recent_and_already_sealed_indices_alone() -> None:
    """Only days older than the grace that are not sealed yet are due."""
    indices = [_index("events", date(2026, 11, d)) for d in (21, 22, 23, 24, 25)]
    due = due_for_seal(indices, 2, TODAY, sealed={"agent-events-2026.11.21"})
    assert [d.name for d in due] == ["agent-events-2026.11.22"]


@pytest.mark.parametrize(("seqs", "gaps", "duplicates"), [
    ([0, 1, 2, 3], (), ()),
    ([0, 1, 4, 5, 7], ((2, 3), (6, 6)), ()),
    ([2, 3], ((0, 1),), ()),
    ([0, 1, 1, 2, 2, 2], (), (1, 2)),
    ([], (), ()),
])
def test_seq_completeness_reports_holes_as_ranges_and_duplicates(
        seqs: list[int], gaps: tuple[tuple[int, int], ...], duplicates: tuple[int, ...]) -> None:
    """A session's seqs run 0,1,2,...: each hole is one inclusive range, repeats are listed once."""
    report = seq_completeness(seqs)
    assert (report.gaps, report.duplicates) == (gaps, duplicates)
    assert report.complete == (not gaps and not duplicates)


@given(st.sets(st.integers(0, 300), max_size=120))
def test_present_and_missing_seqs_partition_the_range(present: set[int]) -> None:
    """Stored plus missing seqs are exactly 0..last, with no overlap."""
    report = seq_completeness(sorted(present))
    missing = {s for lo, hi in report.gaps for s in range(lo, hi + 1)}
    assert not missing & present
    assert missing | present == set(range(max(present) + 1 if present else 0))
    assert report.missing == len(missing)


def test_an_email_user_id_is_looked_up_by_its_keyed_token_but_never_by_a_shared_placeholder() -> None:
    """With a key the stored form names one person; without, ``[EMAIL]`` names everyone."""
    keyed = stored_form("alice@example.com", Redactor(key=b"k", key_version="v1"))
    assert keyed.specific and keyed.stored.startswith("[EMAIL:")
    assert keyed.lookup_values() == ["alice@example.com", keyed.stored]
    keyless = stored_form("alice@example.com", Redactor())
    assert (keyless.stored, keyless.specific) == ("[EMAIL]", False)
    assert keyless.lookup_values() == ["alice@example.com"]
    opaque = stored_form("u-42", Redactor())
    assert (opaque.specific, opaque.redacted, opaque.lookup_values()) == (True, False, ["u-42"])


def test_subject_digest_is_stable_and_does_not_contain_the_identifier() -> None:
    """A receipt can be matched to a request later without storing who it was about; the digest is
    keyed by the master key (a plain hash of a short id could be reversed by trying ids)."""
    s = Settings(master_key="a master key of enough bytes")
    assert subject_digest("alice@example.com", s) == subject_digest("alice@example.com", s)
    assert "alice" not in subject_digest("alice@example.com", s)
    other = Settings(master_key="another master key, enough bytes")
    assert subject_digest("alice@example.com", s) != subject_digest("alice@example.com", other)
    assert not subject_digest("u-1", s).endswith(hashlib.sha256(b"u-1").hexdigest()[:32])


def test_held_query_covers_active_holds_only() -> None:
    """Released holds stay on record but exempt nothing; no active hold means no exemption at all."""
    def hold(scope: str, value: str, status: str = "active") -> Hold:
        return Hold("h", scope, value, True, "case 1", "2026-11-25T00:00:00Z", "me", status)

    assert held_query([hold("user", "u-1", "released")]) is None
    query = held_query([hold("session", "s-1"), hold("user", "u-1"), hold("user", "u-2", "released")])
    assert query == {"bool": {"should": [identifier_query("session_id", ["s-1"]),
                                         identifier_query("user_id", ["u-1"])], "minimum_should_match": 1}}


def _letter(reason: str, source: str | None, offset: int = 0) -> DeadLetter:
    return DeadLetter(0, offset, reason, source, b"{}")


def test_only_the_streams_dead_letters_name_a_raw_partition_to_replay_into() -> None:
    """``source`` is ``<raw topic>/<partition>/<offset>``; the sink's rejects have none."""
    raw = "t1.agent.events.raw"
    assert _letter("json: bad", f"{raw}/2/17").raw_partition(raw) == 2
    assert _letter("sink: mapping", None).raw_partition(raw) is None
    assert _letter("json: bad", "t1.agent.events.raw.old/2/17").raw_partition(raw) is None


def test_summary_counts_matching_reasons_and_shows_the_first_few() -> None:
    """Counts by exact reason, most frequent first; the prefix filters both counts and samples."""
    raw = "agent.events.raw"
    letters = [_letter("json: bad", f"{raw}/0/{i}", i) for i in range(3)] + [
        _letter("schema: seq missing", f"{raw}/1/9", 3), _letter("sink: mapping", None, 4)]
    summary = summarize(letters, raw, limit=2)
    assert (summary.total, summary.matching) == (5, 5)
    assert next(iter(summary.by_reason.items())) == ("json: bad", 3)
    assert [f["offset"] for f in summary.first] == [0, 1]
    only_schema = summarize(letters, raw, "schema")
    assert only_schema.by_reason == {"schema: seq missing": 1}
    assert only_schema.first[0]["replayable"] is True


def test_each_reason_prefix_gets_its_own_default_replay_group() -> None:
    """Replaying one reason must not mark the others as done for a later replay."""
    s = Settings(topic_prefix="t1.")
    assert replay_group(s, "json") != replay_group(s, "schema")
    assert replay_group(s, None) == "t1.agent-audit-dlq-replay.all"
    assert replay_group(s, "size: too big") == "t1.agent-audit-dlq-replay.size_too_big"
