"""Duplicate and overlap checks: exact (normalised) duplicates, near-duplicates by word
n-gram overlap, and long verbatim runs shared with another corpus."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from framescope.data.fingerprint import normalise_text
from framescope.data.schema import Passage

__all__ = ["exact_duplicates", "near_duplicates", "shared_runs", "word_ngrams"]

_WORDS = re.compile(r"\w+", re.UNICODE)


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """Lower-cased word n-grams of ``text``."""
    words = _WORDS.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def exact_duplicates(passages: Sequence[Passage]) -> list[tuple[str, str]]:
    """Pairs of ids whose normalised texts are identical."""
    first: dict[str, str] = {}
    out = []
    for p in passages:
        key = normalise_text(p.text)
        if key in first:
            out.append((first[key], p.id))
        else:
            first[key] = p.id
    return out


def near_duplicates(passages: Sequence[Passage], *, n: int = 5,
                    threshold: float = 0.5) -> list[tuple[str, str, float]]:
    """Pairs whose word ``n``-gram sets overlap with Jaccard similarity ≥ ``threshold``."""
    grams = [word_ngrams(p.text, n) for p in passages]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            index[gram].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for ids in index.values():
        if 1 < len(ids) < 50:
            for a in range(len(ids)):
                for b in range(a + 1, len(ids)):
                    shared[(ids[a], ids[b])] += 1
    out = []
    for (a, b), k in shared.items():
        jac = k / (len(grams[a]) + len(grams[b]) - k)
        if jac >= threshold:
            out.append((passages[a].id, passages[b].id, round(jac, 3)))
    return sorted(out)


def shared_runs(texts: Iterable[str], corpus: Iterable[str], *, n: int = 12) -> list[tuple[int, str]]:
    """(index, run) for each text sharing a verbatim run of ``n`` words with any corpus text."""
    seen: set[int] = set()
    for doc in corpus:
        words = _WORDS.findall(doc.lower())
        for i in range(len(words) - n + 1):
            seen.add(hash(tuple(words[i:i + n])))
    out = []
    for k, text in enumerate(texts):
        words = _WORDS.findall(text.lower())
        for i in range(len(words) - n + 1):
            if hash(tuple(words[i:i + n])) in seen:
                out.append((k, " ".join(words[i:i + n])))
                break
    return out
