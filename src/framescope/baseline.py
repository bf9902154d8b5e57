"""The reference baselines an evaluation reports beside the model.

- :class:`TfidfBaseline`: TF-IDF + one-vs-rest logistic regression, trained in the same run as
  the evaluation on the model's own training data (:func:`tfidf_for_model`), with its decision
  thresholds tuned on the same dev data (:func:`framescope.thresholds.tune_thresholds`), so the
  fine-tuned model is compared with a simple, strong-enough bag-of-words model on equal terms.
- :class:`CueBaseline`: matching the cue words listed for each label in the taxonomy file; no
  training at all. A model that does not beat it has learnt little beyond the taxonomy's
  keywords.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from framescope.data.dataset import expand_inputs, load_labelled
from framescope.data.errors import DataError
from framescope.data.fingerprint import fingerprint, normalise_text
from framescope.data.provenance import carve_dev, load_recorded, recorded_paths
from framescope.data.records import ReadOptions
from framescope.data.schema import Passage
from framescope.data.taxonomy import Taxonomy, label_matrix
from framescope.inference import decide
from framescope.thresholds import tune_thresholds

__all__ = ["CueBaseline", "TfidfBaseline", "tfidf_for_model"]

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
        return decide(probs, self.thresholds_, single_label=self.single_label)

    # ------------------------------------------------------------------ storage (no pickle)
    def to_arrays(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """The fitted multi-label model as plain arrays and its vocabulary (terms in column order),
        what :class:`framescope.fusion.StoredTfidf` predicts with:
        ``idf`` ``(V,)``, ``coef`` ``(L, V)``, ``intercept`` ``(L,)`` and ``constant`` ``(L,)``
        (the fixed score of a label with no positive or no negative training text, else -1).

        Raises:
            RuntimeError: before :meth:`fit`; ValueError: for a single-label baseline.
        """
        if not hasattr(self, "model_"):
            raise RuntimeError("TfidfBaseline is not fitted yet; call fit() first")
        if self.single_label:
            raise ValueError("only a multi-label TF-IDF baseline can be stored")
        vocab = self.vectorizer_.vocabulary_
        terms = [""] * len(vocab)
        for term, col in vocab.items():
            terms[col] = term
        n_labels, n_terms = len(self.labels), len(terms)
        coef = np.zeros((n_labels, n_terms), dtype=np.float32)
        intercept = np.zeros(n_labels, dtype=np.float32)
        constant = np.full(n_labels, -1.0, dtype=np.float32)
        for j, est in enumerate(self.model_.estimators_):
            if hasattr(est, "coef_"):
                coef[j] = np.asarray(est.coef_, dtype=np.float32).ravel()
                intercept[j] = float(np.ravel(est.intercept_)[0])
            else:  # sklearn's constant predictor: the label never (or always) occurred
                constant[j] = float(np.ravel(est.y_)[0])
        return {"idf": np.asarray(self.vectorizer_.idf_, dtype=np.float32), "coef": coef,
                "intercept": intercept, "constant": constant,
                "thresholds": np.asarray(self.thresholds_, dtype=np.float32)}, terms

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


class CueBaseline:
    """Cue-word matching: a label scores by how many of its taxonomy cues a text contains.

    Each cue (a word or phrase from the label's ``cues`` list) is matched case-insensitively as a
    whole word or phrase; a label's score is ``m / (m + 1)`` for ``m`` distinct cues found, so
    one match gives 0.5 and the default threshold 0.5 means "any cue". Single-label: the label
    with the most matches (the first in taxonomy order on ties).

    Raises:
        DataError: when no label of the taxonomy lists cues.

    Example:
        >>> tax = Taxonomy.from_dict({"labels": [{"id": "a", "cues": ["proxy war"]}, {"id": "b"}]})
        >>> CueBaseline(tax).predict_proba(["A proxy war, they said."]).tolist()
        [[0.5, 0.0]]
    """

    def __init__(self, taxonomy: Taxonomy, *, single_label: bool = False) -> None:
        self.labels = taxonomy.ids
        self.single_label = single_label
        self.patterns = [[re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, c.lower().split())) + r"(?!\w)")
                          for c in lab.cues if c.strip()] for lab in taxonomy.labels]
        if not any(self.patterns):
            raise DataError(f"taxonomy {taxonomy.id!r} lists no cue words for any label, so the cue "
                            "baseline has nothing to match; add 'cues' to the taxonomy file or "
                            "drop --baseline cues")
        self.thresholds_ = np.full(len(self.labels), 0.5)
        self.threshold_sources_ = ["default"] * len(self.labels)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Scores ``(len(texts), n_labels)``."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        for i, text in enumerate(texts):
            low = text.lower()
            for j, pats in enumerate(self.patterns):
                m = sum(1 for pat in pats if pat.search(low))
                out[i, j] = m / (m + 1)
        return out

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Any cue (multi-label), or the label with the most cues (single-label)."""
        return decide(probs, self.thresholds_, single_label=self.single_label)

    def describe(self) -> dict[str, Any]:
        """Settings, for ``metrics.json``."""
        return {"kind": "cues", "description": "cue-word matching from the taxonomy file (a label "
                "is predicted when any of its cues occurs as a word or phrase)",
                "cues": {lab: len(p) for lab, p in zip(self.labels, self.patterns)}}


def tfidf_for_model(art: Any, *, train: Sequence[str] = (), dev: Sequence[str] = (),
                    eval_passages: Sequence[Passage] = (), seed: int = 0, on_error: str = "stop",
                    errors_path: Path | None = None) -> tuple[TfidfBaseline, dict[str, Any], list[str]]:
    """Fit the TF-IDF baseline on a model's own training data; returns (baseline, info, notes).

    The data comes from the artifact's record (:func:`framescope.data.provenance.load_recorded`,
    the reader training itself uses, so a dev split carved at training time is carved again
    identically), or from ``train``/``dev`` paths when given.

    Raises:
        DataError: when the training data cannot be read (the message says how to pass it).
    """
    meta, tax, notes = art.meta, art.taxonomy, []
    fallback = ReadOptions(labels_required=True)
    hint = "pass --baseline-train PATH [--baseline-dev PATH] or --baseline none"
    dev_passages: list[Passage] | None = None
    info: dict[str, Any] = {"dev": None}

    def read(paths: Sequence[str], what: str) -> Any:
        missing = [str(p) for p in expand_inputs(paths) if not p.exists()]
        if missing:
            raise DataError(f"{what}: not found: {missing}")
        return load_labelled(list(paths), fallback, what=what, on_error=on_error,  # type: ignore[arg-type]
                             errors_path=errors_path)

    if train:
        data = read(train, "--baseline-train")
        train_passages = data.passages
        info["train"] = {"paths": list(train), "source": "command line",
                         "passages": len(train_passages), "fingerprint": data.fingerprint}
    else:
        paths, _ = recorded_paths(meta, "train")
        if not paths:
            raise DataError(f"model {art.name!r} records no training data paths (framescope.json "
                            f"data.train.paths); {hint}")
        try:
            train_passages = load_recorded(meta, artifact_path=art.path, which="train")
        except DataError as exc:
            raise DataError(f"cannot train the baseline on the model's training data: {exc}; {hint}") from exc
        info["train"] = {"paths": paths, "source": "artifact", "passages": len(train_passages),
                         "fingerprint": fingerprint(train_passages)}
    if dev:
        data = read(dev, "--baseline-dev")
        dev_passages = data.passages
        info["dev"] = {"paths": list(dev), "passages": len(dev_passages),
                       "fingerprint": data.fingerprint, "carved": None}
    elif not train:
        dev_paths, dev_sec = recorded_paths(meta, "dev")
        carved = dev_sec.get("carved_from") == "train"
        if dev_paths or carved:
            try:
                dev_passages = load_recorded(meta, artifact_path=art.path, which="dev")
            except DataError as exc:
                raise DataError(f"cannot read the model's dev data for the baseline: {exc}; {hint}") from exc
            info["dev"] = {"paths": [] if carved else dev_paths, "passages": len(dev_passages),
                           "fingerprint": fingerprint(dev_passages),
                           "carved": (f"carved from the training data as at training time "
                                      f"({dev_sec.get('ratio')} grouped by {dev_sec.get('group_by')}, "
                                      f"seed {dev_sec.get('seed')})") if carved else None}
    if dev_passages is None and not art.single_label and len({p.group for p in train_passages}) >= 5:
        train_passages, dev_passages, _ = carve_dev(train_passages, ratio=0.1, group_by="article_id", seed=13)
        info["dev"] = {"paths": [], "passages": len(dev_passages), "fingerprint": fingerprint(dev_passages),
                       "carved": "10% of the training data, grouped by article_id, seed 13 (no dev "
                                 "data recorded or given)"}
        notes.append("No dev data was recorded or given, so the baseline's thresholds were tuned on "
                     "a 10% grouped split carved from its training data.")
    seen = {normalise_text(p.text) for p in train_passages}
    seen.update(normalise_text(p.text) for p in dev_passages or [])
    overlap = sum(normalise_text(p.text) in seen for p in eval_passages)
    info["overlap_with_evaluation_data"] = overlap
    if overlap:
        notes.append(f"{overlap} of {len(eval_passages)} evaluation records have the same text as a "
                     "record of the training or dev data: scores on them may be optimistic.")
    outside = sorted({lab for p in train_passages for lab in (p.labels or []) if lab not in tax})
    if outside:
        notes.append(f"The baseline's training data has labels outside the model's taxonomy, "
                     f"ignored: {outside}")
    t0 = time.perf_counter()
    base = TfidfBaseline(tax.ids, single_label=art.single_label, seed=seed)
    base.fit([p.text for p in train_passages], label_matrix(train_passages, tax),
             [p.text for p in dev_passages] if dev_passages is not None else None,
             label_matrix(dev_passages, tax) if dev_passages is not None else None)
    info["train"]["units"] = len(train_passages)
    info["fit_seconds"] = round(time.perf_counter() - t0, 2)
    info.update(base.describe())
    return base, info, notes
