"""Evidence spans by occlusion: which words or phrases drive a predicted label.

For a passage and each label it was given, every word (or, in long passages, every group of
neighbouring words) is masked in turn and the passage is scored again; a span's *weight* is the
drop in that label's probability when the span is masked:

    weight(span, label) = p(label | passage) - p(label | passage with span masked)

The strongest words are then merged with adjacent strong words into phrases, and each phrase is
measured again by masking it as a whole, so every reported weight is a measured probability drop,
never an attention weight or a sum of guesses. Offsets are character offsets into the passage
text: ``text[span.start:span.end] == span.text``.

Cost: one extra forward pass per word or word group (at most ``max_units``) plus one per merged
phrase, for every passage that has at least one label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["WORD", "Span", "explain_passages", "occlude", "word_units"]

#: A word: letters/digits, with inner apostrophes or hyphens (``Kyiv's``, ``full-scale``).
WORD = re.compile(r"\w+(?:['’\-]\w+)*")

Predict = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Span:
    """A piece of a passage that drives a label.

    Attributes:
        start, end: character offsets into the passage text.
        text: ``passage_text[start:end]``.
        weight: measured drop in the label's probability when the span is masked.
    """

    start: int
    end: int
    text: str
    weight: float

    def to_dict(self, digits: int = 4) -> dict[str, object]:
        """A JSON-ready dict; the weight keeps ``digits`` significant digits."""
        d = asdict(self)
        d["weight"] = float(f"{float(self.weight):.{digits}g}")
        return d


def word_units(text: str, max_units: int = 32) -> list[list[tuple[int, int]]]:
    """The occlusion units of ``text``: one word each, or groups of neighbouring words when the
    text has more than ``max_units`` words (so the cost stays bounded).

    Example:
        >>> word_units("Tanks rolled in.")
        [[(0, 5)], [(6, 12)], [(13, 15)]]
    """
    words = [(m.start(), m.end()) for m in WORD.finditer(text)]
    if not words:
        return []
    size = max(1, -(-len(words) // max_units))
    return [words[i:i + size] for i in range(0, len(words), size)]


def occlude(text: str, words: Sequence[tuple[int, int]], mask: str) -> str:
    """``text`` with each of ``words`` (character spans) replaced by ``mask``."""
    parts, pos = [], 0
    for start, end in sorted(words):
        parts.append(text[pos:start])
        parts.append(mask)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def explain_passages(
    predict: Predict,
    texts: Sequence[str],
    probs: np.ndarray,
    targets: Sequence[Sequence[int]],
    *,
    mask: str = "[MASK]",
    top_k: int = 5,
    max_units: int = 32,
) -> list[dict[int, list[Span]]]:
    """Evidence spans for the target labels of each passage.

    Args:
        predict: maps a list of texts to probabilities ``(n, n_labels)``.
        texts: the passages.
        probs: their probabilities ``(len(texts), n_labels)`` (from ``predict``).
        targets: for each passage, the label columns to explain (usually its predicted labels).
        mask: what replaces a masked word (the tokenizer's mask token; ``""`` deletes).
        top_k: at most this many spans per label, strongest first; only spans whose masking
            lowers the label's probability are kept.
        max_units: words per passage above which neighbouring words are masked in groups.

    Returns:
        for each passage, ``{label column: [Span, ...]}`` (empty when it has no targets).
    """
    if len(texts) != len(targets) or len(texts) != len(probs):
        raise ValueError(f"texts, probs and targets must have the same length; got {len(texts)}, "
                         f"{len(probs)} and {len(targets)}")
    if top_k < 1:
        raise ValueError(f"The 'top_k' parameter must be a positive integer. Got {top_k!r} instead.")
    units = [word_units(t, max_units) if len(tg) else [] for t, tg in zip(texts, targets)]
    variants: list[str] = []
    owner: list[tuple[int, int]] = []
    for i, (text, us) in enumerate(zip(texts, units)):
        for u, words in enumerate(us):
            variants.append(occlude(text, words, mask))
            owner.append((i, u))
    drops: list[np.ndarray] = [np.zeros((len(us), probs.shape[1])) for us in units]
    if variants:
        occluded = predict(variants)
        for (i, u), row in zip(owner, occluded):
            drops[i][u] = probs[i] - row

    # merge the strongest units of each label into phrases of adjacent units
    phrases: list[dict[int, list[tuple[int, int]]]] = []  # passage -> label -> [(first, last)]
    remeasure: list[str] = []
    remeasure_key: list[tuple[int, int, int]] = []
    for i, tg in enumerate(targets):
        per_label: dict[int, list[tuple[int, int]]] = {}
        for label in tg:
            d = drops[i][:, label]
            strong = sorted((u for u in range(len(d)) if d[u] > 0), key=lambda u: -d[u])[:2 * top_k]
            runs: list[tuple[int, int]] = []
            for u in sorted(strong):
                if runs and runs[-1][1] == u - 1:
                    runs[-1] = (runs[-1][0], u)
                else:
                    runs.append((u, u))
            per_label[label] = runs
            for first, last in runs:
                if last > first:
                    words = [w for us in units[i][first:last + 1] for w in us]
                    remeasure.append(occlude(texts[i], words, mask))
                    remeasure_key.append((i, label, first))
        phrases.append(per_label)
    measured: dict[tuple[int, int, int], float] = {}
    if remeasure:
        again = predict(remeasure)
        for (i, label, first), row in zip(remeasure_key, again):
            measured[(i, label, first)] = float(probs[i][label] - row[label])

    out: list[dict[int, list[Span]]] = []
    for i, per_label in enumerate(phrases):
        result: dict[int, list[Span]] = {}
        for label, runs in per_label.items():
            spans = []
            for first, last in runs:
                weight = (measured[(i, label, first)] if last > first
                          else float(drops[i][first, label]))
                if weight <= 0:
                    continue
                start, end = units[i][first][0][0], units[i][last][-1][1]
                spans.append(Span(start, end, texts[i][start:end], weight))
            spans.sort(key=lambda s: (-s.weight, s.start))
            result[label] = spans[:top_k]
        out.append(result)
    return out
