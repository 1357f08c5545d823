"""Pure heart of the pipeline: contract, wire format, redaction, sketches, settings, errors.

Nothing in this package performs I/O or imports Kafka, Faust or Elasticsearch clients
(``tests/unit/test_core_purity.py`` enforces it).
"""
