"""Merkle trees shaped as RFC 9162 (Certificate Transparency 2.0) section 2.1: a proof checks offline.

Leaves and interior nodes are hashed with different one-byte prefixes (0x00 / 0x01), so a leaf can
never pass for a node; the tree over n leaves splits at the largest power of two below n. ``Frontier``
builds the same root incrementally from O(log n) subtree roots, which is all the stream keeps.
Only ``hashlib``: the offline verifier imports this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["Frontier", "audit_path", "leaf_hash", "node_hash", "root", "root_from_path"]


_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (already ``leaf_hash``-ed); the empty tree is SHA-256 of nothing."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf ``index`` up to the root, nearest first."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} outside a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*audit_path(index, leaves[:k]), root(leaves[k:])]
    return [*audit_path(index - k, leaves[k:]), root(leaves[:k])]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves for leaf hash ``leaf`` at ``index`` in a tree of ``size``
    (RFC 9162 2.1.3.2), or None when the path has the wrong length for that position."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(sibling, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, sibling)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


class Frontier:
    """The roots of the perfect subtrees that make up a growing tree, largest first."""

    __slots__ = ("nodes", "size")

    def __init__(self, nodes: Sequence[tuple[int, bytes]] = ()) -> None:
        self.nodes: list[tuple[int, bytes]] = list(nodes)  # (subtree size, root)
        self.size = sum(n for n, _ in self.nodes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash; equal-sized neighbours merge, as in a binary counter."""
        nodes, size, node = self.nodes, 1, leaf
        while nodes and nodes[-1][0] == size:
            node = _sha256(b"\x01" + nodes.pop()[1] + node).digest()
            size *= 2
        nodes.append((size, node))
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return hashlib.sha256(b"").digest()
        acc = self.nodes[-1][1]
        for _, node in reversed(self.nodes[:-1]):
            acc = node_hash(node, acc)
        return acc
