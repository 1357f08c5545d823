"""The cold tier: redacted, chained events as date-partitioned Parquet on object storage (or a folder).

The user's content stays sealed under their data key as it came from Kafka (``rows``), so forget
reaches immutable objects by destroying the key (``erasure``); readers open rows at read time
(``unsealing``). ``worker`` writes (exactly once through crashes), ``compaction`` merges closed days,
``reader`` and ``queries`` answer SQL through DuckDB, ``restore`` re-indexes a range into
Elasticsearch, ``verification`` checks a session like ``agent-audit verify``, ``retention`` expires
old days (legal holds win). Settings: ``config``.
"""
