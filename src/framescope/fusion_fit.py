"""Choosing a TF-IDF fusion for a trained model and saving the fused model (``framescope fuse``).

:func:`fuse_artifact` fits a TF-IDF + logistic-regression model on the model's own training data
(:func:`framescope.baseline.tfidf_for_model`), chooses the weight ``w`` of
``w * model + (1 - w) * tfidf`` and then per-label thresholds on the model's dev data
(:func:`choose_weight`), and saves the model with the fusion (:class:`framescope.fusion.Fusion`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from framescope.data.errors import DataError
from framescope.fusion import Fusion, StoredTfidf

__all__ = ["GRID", "choose_weight", "fuse_artifact"]

logger = logging.getLogger(__name__)

#: Candidate weights of the model's scores (0: TF-IDF alone, 1: the model alone).
GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


def _micro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """scikit-learn's micro-F1 of multi-hot decisions (0 when nothing is gold or predicted)."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y, dtype=bool), np.asarray(pred, dtype=bool), average="micro",
                          zero_division=0))


def choose_weight(y_dev: np.ndarray, model_dev: np.ndarray, tfidf_dev: np.ndarray, *,
                  grid: Sequence[float] = GRID, min_positives: int = 5
                  ) -> tuple[float, np.ndarray, list[str], dict[float, float]]:
    """The fusion weight, and its thresholds, with the best dev micro-F1.

    For each ``w`` in ``grid`` the fused dev scores ``w * model + (1 - w) * tfidf`` get per-label
    thresholds tuned on the same dev data (:func:`framescope.thresholds.tune_thresholds`); the
    highest micro-F1 wins, the smallest ``w`` on ties. Returns ``(w, thresholds, sources,
    {w: dev micro-F1})``.

    Example:
        >>> y = np.array([[1], [0], [1], [0]])
        >>> w, th, _, table = choose_weight(y, np.array([[.9], [.1], [.2], [.3]]),
        ...                                 np.array([[.6], [.4], [.7], [.1]]), min_positives=1)
        >>> w, table[1.0] < table[w]
        (0.0, True)
    """
    from framescope.thresholds import tune_thresholds

    if not len(grid) or any(not 0.0 <= w <= 1.0 for w in grid):
        raise ValueError(f"The 'grid' parameter must hold weights in [0, 1]. Got {list(grid)!r} instead.")
    best: tuple[float, float, np.ndarray, list[str]] | None = None
    table: dict[float, float] = {}
    for w in sorted(float(x) for x in grid):
        fused = w * model_dev + (1 - w) * tfidf_dev
        th, sources = tune_thresholds(y_dev, fused, min_positives=min_positives)
        score = _micro_f1(y_dev, fused >= th)
        table[w] = round(score, 4)
        if best is None or score > best[1] + 1e-12:
            best = (w, score, th, sources)
    assert best is not None
    return best[0], best[2], best[3], table


def fuse_artifact(model: str | Path, out: str | Path, *, train: Sequence[str] = (),
                  dev: Sequence[str] = (), grid: Sequence[float] = GRID, min_positives: int = 5,
                  seed: int = 0, precision: str = "auto", progress: bool = False) -> dict[str, Any]:
    """Fit a TF-IDF model for a trained model, choose the fusion weight and thresholds on dev
    data, and save the fused model to ``out`` (atomically; the network is unchanged).

    The TF-IDF model is trained on the model's recorded training data (or ``train`` files) and
    the weight is chosen on its recorded dev data (or ``dev`` files): a model trained with
    ``--dev-ratio`` records the dev split it carved, so the weight is never chosen on data the
    network was trained on. A model that is already fused is fused again from scratch.

    Returns:
        What was done: weight, dev micro-F1 per weight (and of the network alone), thresholds.

    Raises:
        DataError: single-label models, a model without dev data (and no ``dev``), unreadable data.
    """
    from framescope.baseline import tfidf_for_model
    from framescope.data.taxonomy import label_matrix
    from framescope.inference import predict_records
    from framescope.model_card import render_model_card
    from framescope.modeling import load_artifact, save_artifact
    from framescope.thresholds import dev_data_for

    art = load_artifact(model)
    art.fusion = None  # fuse the network's own scores, also when the model was fused before
    if art.single_label:
        raise DataError(f"{model} is a single-label model; TF-IDF fusion is for multi-label models")
    dev_records, dev_source = dev_data_for(art, dev)
    base, info, notes = tfidf_for_model(art, train=train, dev=dev, seed=seed)
    for note in notes:
        logger.warning("%s", note)
    arrays, terms = base.to_arrays()
    stored = StoredTfidf(art.taxonomy.ids, arrays, terms, base.describe())
    y = label_matrix(dev_records, art.taxonomy)
    model_dev = predict_records(art, dev_records, precision=precision, progress=progress).probs
    tfidf_dev = stored.predict_proba([p.text for p in dev_records])
    weight, thresholds, sources, table = choose_weight(y, model_dev, tfidf_dev, grid=grid,
                                                       min_positives=min_positives)
    network_alone = _micro_f1(y, model_dev >= art.threshold_vector())
    record = {"chosen_on": dev_source, "dev_records": len(dev_records), "min_positives": min_positives,
              "dev_micro_f1_by_weight": {f"{w:.2f}": v for w, v in table.items()},
              "dev_micro_f1_network_alone": round(network_alone, 4),
              "threshold_source": dict(zip(art.taxonomy.ids, sources)),
              "tfidf_training": info.get("train")}
    art.fusion = Fusion(stored, weight, thresholds, record)
    meta = dict(art.meta)
    meta["name"] = Path(out).name
    meta.pop("fingerprint", None)
    meta["fusion"] = art.fusion.describe()
    art.meta = meta
    card = render_model_card(dict(meta, taxonomy=art.taxonomy.to_dict(), thresholds=art.thresholds))
    save_artifact(art, out, card=card)
    return record | {"weight": weight, "thresholds": dict(zip(art.taxonomy.ids, map(float, thresholds))),
                     "dev_micro_f1": table[weight]}
