"""The reference baseline every evaluation reports: TF-IDF + one-vs-rest logistic regression.

It is trained in the same run as the evaluation, on the model's own training data, with its
decision thresholds tuned on the same dev data (:func:`framescope.metrics.tune_thresholds`), so
the fine-tuned model is compared with a simple, strong-enough bag-of-words model on equal terms.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from framescope.metrics import tune_thresholds

__all__ = ["TfidfBaseline"]

logger = logging.getLogger(__name__)


class TfidfBaseline:
    """TF-IDF word uni+bigrams and one logistic regression per label (scikit-learn).

    Parameters:
        labels: label ids, in the model's column order.
        single_label: train one multinomial regression (softmax) instead of one per label.
        C: inverse regularisation strength of the logistic regressions.
        ngram_range, min_df, max_features: TF-IDF vocabulary settings (sub-linear TF).
        class_weight: ``"balanced"`` (default) re-weights rare labels.
        min_positives: fewest dev positives a label needs to get a tuned threshold.
        seed: random state of the solvers.

    Attributes (after :meth:`fit`):
        thresholds_: per-label thresholds; threshold_sources_: ``"tuned"``/``"default"``.
        untrained_labels_: labels without a single training positive (they always score 0).
        train_units_, dev_units_: how many texts each stage saw.

    Example:
        >>> b = TfidfBaseline(["a", "b"]).fit(["apple pie", "boat trip"] * 5,
        ...                                   np.array([[1, 0], [0, 1]] * 5))
        >>> b.predict_proba(["apple"]).shape
        (1, 2)
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        single_label: bool = False,
        C: float = 4.0,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 1,
        max_features: int | None = 100_000,
        class_weight: str | None = "balanced",
        min_positives: int = 5,
        seed: int = 0,
    ) -> None:
        self.labels = list(labels)
        self.single_label = single_label
        self.C = C
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.class_weight = class_weight
        self.min_positives = min_positives
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: Sequence[str], y: np.ndarray, dev_texts: Sequence[str] | None = None,
            y_dev: np.ndarray | None = None) -> TfidfBaseline:
        """Fit on ``texts`` / multi-hot ``y``; tune thresholds on the dev pair when given.

        Raises:
            ValueError: when shapes disagree or the training data has no positive at all.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        y = np.asarray(y)
        if y.ndim != 2 or y.shape != (len(texts), len(self.labels)):
            raise ValueError(f"The 'y' parameter must have shape ({len(texts)}, {len(self.labels)}). "
                             f"Got {y.shape} instead.")
        if not y.any():
            raise ValueError("the baseline's training data has no positive label at all; "
                             "check that it is labelled with the model's taxonomy")
        self.vectorizer_ = TfidfVectorizer(ngram_range=self.ngram_range, min_df=self.min_df,
                                           max_features=self.max_features, sublinear_tf=True,
                                           strip_accents="unicode", lowercase=True)
        x = self.vectorizer_.fit_transform(texts)
        self.untrained_labels_ = [lab for lab, n in zip(self.labels, y.sum(0)) if n == 0]
        if self.single_label:
            bad = np.flatnonzero(y.sum(1) != 1)
            if len(bad):
                raise ValueError(f"single-label training data needs exactly one label per text; "
                                 f"{len(bad)} text(s) have none or several (rows {bad[:5].tolist()})")
            self.classes_ = np.unique(y.argmax(1))
            self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight,
                                             max_iter=2000, random_state=self.seed)
            self.model_.fit(x, y.argmax(1))
        else:
            self.model_ = OneVsRestClassifier(
                LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear",
                                   max_iter=2000, random_state=self.seed))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not present in all training examples.*")
                warnings.filterwarnings("ignore", message="Label .* is present in all training")
                self.model_.fit(x, y.astype(int))
        self.train_units_ = len(texts)
        self.dev_units_ = 0
        self.thresholds_ = np.full(len(self.labels), 0.5)
        self.threshold_sources_ = ["default"] * len(self.labels)
        if dev_texts is not None and y_dev is not None and not self.single_label:
            y_dev = np.asarray(y_dev)
            if y_dev.shape != (len(dev_texts), len(self.labels)):
                raise ValueError(f"The 'y_dev' parameter must have shape ({len(dev_texts)}, "
                                 f"{len(self.labels)}). Got {y_dev.shape} instead.")
            self.thresholds_, self.threshold_sources_ = tune_thresholds(
                y_dev, self.predict_proba(dev_texts), min_positives=self.min_positives)
            self.dev_units_ = len(dev_texts)
        for lab in self.untrained_labels_:
            logger.warning("baseline: label %r has no training positives; it always scores 0", lab)
        return self

    # ------------------------------------------------------------------ inference
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Scores ``(len(texts), n_labels)``: sigmoid per label, or softmax for single-label."""
        if not hasattr(self, "model_"):
            raise RuntimeError("TfidfBaseline is not fitted yet; call fit() first")
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not len(texts):
            return out
        x = self.vectorizer_.transform(texts)
        if self.single_label:
            out[:, self.classes_] = self.model_.predict_proba(x)
            return out
        probs = self.model_.predict_proba(x)
        out[:] = probs
        return out

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Boolean decisions: thresholds (multi-label) or argmax (single-label)."""
        probs = np.asarray(probs)
        if self.single_label:
            d = np.zeros(probs.shape, dtype=bool)
            if len(probs):
                d[np.arange(len(probs)), probs.argmax(1)] = True
            return d
        return probs >= self.thresholds_

    def describe(self) -> dict[str, Any]:
        """Settings and fitted facts, for ``metrics.json``."""
        info: dict[str, Any] = {
            "kind": "tfidf-logreg",
            "description": "TF-IDF (word 1-2 grams, sub-linear TF) + one-vs-rest logistic regression"
                           if not self.single_label else
                           "TF-IDF (word 1-2 grams, sub-linear TF) + multinomial logistic regression",
            "C": self.C, "ngram_range": list(self.ngram_range), "min_df": self.min_df,
            "max_features": self.max_features, "class_weight": self.class_weight,
            "seed": self.seed,
        }
        if hasattr(self, "model_"):
            info.update(vocabulary=len(self.vectorizer_.vocabulary_), train_units=self.train_units_,
                        dev_units=self.dev_units_, untrained_labels=self.untrained_labels_,
                        thresholds=dict(zip(self.labels, map(float, self.thresholds_))),
                        threshold_source=dict(zip(self.labels, self.threshold_sources_)))
        return info
