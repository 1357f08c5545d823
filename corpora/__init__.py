"""Measurement corpora for redaction: our own generator, Faker's formats, and the scoring of both.

Development code, used by ``tests/`` and ``bench/`` only: it is not part of the installed package
(Faker is a dev dependency).
"""
