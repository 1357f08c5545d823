"""The cold tier: redacted, chained events as date-partitioned Parquet on object storage (or a folder).

``worker`` writes (exactly once through crashes), ``compaction`` merges closed days, ``reader`` and
``queries`` answer SQL through DuckDB, ``restore`` re-indexes a range into Elasticsearch,
``retention`` expires old days (legal holds win). Settings: ``config``.
"""
