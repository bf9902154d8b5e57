"""Stable content fingerprints of datasets, stored with every artifact made from them."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable

from framescope.data.schema import Passage

__all__ = ["fingerprint", "normalise_text", "ordered_fingerprint", "text_sha1"]


def normalise_text(text: str) -> str:
    """NFC, lower-case, whitespace collapsed: the form used for hashing and duplicate checks."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().lower()


def text_sha1(text: str) -> str:
    """The sha1 hex digest of a text's exact UTF-8 bytes: how a passage is named without its
    text (data/real/*.tsv rows, the ``text_sha1`` of a labelling batch).

    Example:
        >>> text_sha1("abc")
        'a9993e364706816aba3e25717850c26c9cd0d89d'
    """
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def fingerprint(passages: Iterable[Passage]) -> str:
    """A stable hash of the normalised texts and labels, independent of record order.

    Example:
        >>> a = [Passage(id="1", text="A  b", labels=["x"])]
        >>> fingerprint(a) == fingerprint([Passage(id="1", text="a b", labels=["x"])])
        True
    """
    digests = sorted(
        hashlib.sha256(json.dumps([p.id, normalise_text(p.text), sorted(p.labels or [])],
                                  ensure_ascii=False).encode()).hexdigest()
        for p in passages
    )
    total = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return f"sha256:{total[:16]}"


def ordered_fingerprint(passages: Iterable[Passage]) -> str:
    """A hash of the passages' ids, exact texts and labels *in order* (for caches whose rows
    follow the input order; :func:`fingerprint` ignores order and normalises text)."""
    digest = hashlib.sha256()
    for p in passages:
        digest.update(json.dumps([p.id, p.text, p.labels], ensure_ascii=False).encode())
        digest.update(b"\n")
    return f"sha256:{digest.hexdigest()[:16]}"
