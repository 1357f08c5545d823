"""Evidence an auditor can check with the stream's public key alone (pure; no Kafka, no Elasticsearch).

- ``canonical``: the bytes a digest and a link cover (stdlib only).
- ``merkle``: RFC 9162-shaped Merkle trees, audit paths, inclusion checks (stdlib only).
- ``signing``: Ed25519 keys, key ids, the keyring of public keys (``cryptography``).
- ``checkpoint``: the signed per-partition checkpoints and the stream's open one.
- ``verdicts``: one session's answer from its stored events and checkpoints.
- ``proof``: a self-contained proof for one event; ``offline``: its standalone verifier.

Nothing is imported here, so ``python -m agent_audit.core.evidence.offline`` needs only
``cryptography``.
"""

__all__: list[str] = []
