"""A TF-IDF model fused with a network's record scores, as stored in a model folder.

A passage model sees one window of text at a time; a TF-IDF + logistic-regression model sees a
whole article as a bag of words. On article-level labels (the SemEval frames) the two make
different errors, and a weighted mean of their article scores beats either alone (see
``bench/fusion.py``). ``framescope fuse`` (:mod:`framescope.fusion_fit`) chooses the weight; a
fused model folder holds ``tfidf.safetensors`` (idf, coefficients, intercepts) and
``tfidf-vocabulary.json`` beside the weights, and the weight and thresholds in
``framescope.json`` (``fusion``). Nothing is pickled.

The fusion applies to record scores, wherever they are computed from a record's text
(:func:`framescope.inference.record_scores`): ``evaluate``, article rows of ``score`` and
``serve``, :func:`framescope.inference.predict`. Passage rows keep the network's own scores and
thresholds, and evidence spans explain the network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ARRAYS_FILE", "VOCABULARY_FILE", "Fusion", "StoredTfidf"]

ARRAYS_FILE = "tfidf.safetensors"
VOCABULARY_FILE = "tfidf-vocabulary.json"
#: TF-IDF settings kept in ``framescope.json`` (what :meth:`TfidfBaseline.describe` reports)
_SETTINGS = ("kind", "description", "C", "ngram_range", "min_df", "max_features", "class_weight",
             "seed", "vocabulary", "train_units", "dev_units", "untrained_labels")


class StoredTfidf:
    """TF-IDF word n-grams and one logistic regression per label, from stored arrays.

    It predicts what the fitted :class:`framescope.baseline.TfidfBaseline` it was stored from
    (:meth:`~framescope.baseline.TfidfBaseline.to_arrays`) predicts: the sigmoid of
    ``tfidf(text) @ coef.T + intercept``, or a label's constant score when it had no positive
    (or no negative) training text.

    Raises:
        ValueError: when the arrays' shapes disagree with the labels or the vocabulary.
    """

    def __init__(self, labels: Sequence[str], arrays: dict[str, np.ndarray], terms: Sequence[str],
                 settings: dict[str, Any]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.labels = list(labels)
        n_labels, n_terms = len(self.labels), len(terms)
        shapes = {"idf": (n_terms,), "coef": (n_labels, n_terms), "intercept": (n_labels,),
                  "constant": (n_labels,), "thresholds": (n_labels,)}
        for name, shape in shapes.items():
            got = tuple(arrays[name].shape) if name in arrays else None
            if got != shape:
                raise ValueError(f"TF-IDF array {name!r} should have shape {shape}, got {got}")
        if len(set(terms)) != n_terms:
            raise ValueError("the TF-IDF vocabulary lists a term twice")
        self.arrays = {k: np.asarray(arrays[k]) for k in shapes}
        self.terms = list(terms)
        self.settings = {k: settings[k] for k in _SETTINGS if k in settings}
        self.vectorizer = TfidfVectorizer(ngram_range=tuple(settings.get("ngram_range", (1, 2))),
                                          sublinear_tf=True, strip_accents="unicode", lowercase=True,
                                          vocabulary={t: i for i, t in enumerate(self.terms)})
        self.vectorizer.idf_ = self.arrays["idf"].astype(np.float64)
        self._coef = self.arrays["coef"].astype(np.float64)
        self._intercept = self.arrays["intercept"].astype(np.float64)
        self._constant = self.arrays["constant"].astype(np.float64)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Scores ``(len(texts), n_labels)`` (float64)."""
        from scipy.special import expit

        if not len(texts):
            return np.zeros((0, len(self.labels)))
        x = self.vectorizer.transform(list(texts))
        probs = expit(np.asarray(x @ self._coef.T) + self._intercept)
        fixed = self._constant >= 0
        probs[:, fixed] = self._constant[fixed]
        return probs


@dataclass
class Fusion:
    """A TF-IDF model fused with a network's record scores.

    Attributes:
        tfidf: the stored TF-IDF model.
        weight: the network's share ``w`` of the fused score.
        thresholds: the fused scores' per-label thresholds, in label order.
        info: what ``framescope.json`` records of the fusion (dev data, weight table, ...).
    """

    tfidf: StoredTfidf
    weight: float
    thresholds: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def scores(self, model_scores: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Fused unit scores from the network's unit scores ``(n_units, L)`` and each unit's whole
        text (what the TF-IDF model scores)."""
        model_scores = np.asarray(model_scores, dtype=np.float64)
        tfidf = self.tfidf.predict_proba(list(texts))
        if tfidf.shape != model_scores.shape:
            raise ValueError(f"TF-IDF scores {tfidf.shape} do not match the model's {model_scores.shape}")
        return self.weight * model_scores + (1 - self.weight) * tfidf

    def describe(self) -> dict[str, Any]:
        """The ``fusion`` block of ``framescope.json``."""
        labels = self.tfidf.labels
        return {**self.info, "kind": "tfidf", "weight": self.weight,
                "thresholds": {lab: float(t) for lab, t in zip(labels, self.thresholds)},
                "files": [ARRAYS_FILE, VOCABULARY_FILE], "tfidf": self.tfidf.settings}

    def save(self, folder: Path) -> None:
        """Write the TF-IDF arrays (safetensors) and vocabulary (JSON) into ``folder``."""
        from safetensors.numpy import save_file

        save_file(self.tfidf.arrays, str(folder / ARRAYS_FILE))
        (folder / VOCABULARY_FILE).write_text(json.dumps(self.tfidf.terms, ensure_ascii=False),
                                              encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, block: dict[str, Any], labels: Sequence[str]) -> Fusion:
        """The fusion stored in a model folder (``block``: its ``framescope.json`` entry).

        Raises:
            ValueError: when a file is missing or damaged, or does not fit the labels (the
                message names the problem; :func:`framescope.modeling.load_artifact` adds the
                folder and the fix).
        """
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(folder / ARRAYS_FILE))
            terms = json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8"))
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                raise ValueError(f"{VOCABULARY_FILE} should hold a JSON list of terms")
            tfidf = StoredTfidf(labels, arrays, terms, block.get("tfidf") or {})
            weight = float(block["weight"])
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"weight {weight} is outside [0, 1]")
            stored = block.get("thresholds") or {}
            thresholds = np.array([float(stored.get(lab, 0.5)) for lab in labels])
        except ValueError:
            raise
        except Exception as exc:  # missing files, safetensors' own error type for damaged ones
            raise ValueError(f"{type(exc).__name__}: {str(exc)[:300]}") from None
        info = {k: v for k, v in block.items()
                if k not in ("kind", "weight", "thresholds", "files", "tfidf")}
        return cls(tfidf, weight, thresholds, info)
