"""Where a decision threshold is chosen: per-label thresholds from held-out (dev) scores.

:func:`tune_thresholds` finds, per label, the cut-off that maximises F1 on dev data (from
scikit-learn's :func:`~sklearn.metrics.precision_recall_curve`). A cut-off tuned on a handful of
positives is noisy: with 11-22 dev positives a frame's tuned threshold can land at 0.95 and then
miss most positives on other text. :func:`choose_thresholds` therefore applies a *policy* that
knows its own uncertainty:

``tuned``      the F1-maximising cut-off; labels with fewer than ``min_positives`` dev
               positives keep the default.
``shrunk``     the tuned cut-off pulled toward the default in proportion to how little evidence
               there is: ``t = (n * t_tuned + k * default) / (n + k)`` with ``n`` the label's dev
               positives and ``k`` = ``shrink`` pseudo-positives (a label with ``k`` positives
               moves half-way).
``bootstrap``  the median of the tuned cut-off over bootstrap resamples of the dev units (a
               bagged estimate; seeded).
``global``     one cut-off shared by every label that has ``min_positives`` dev positives: the one
               that maximises micro-F1 over those labels' pooled decisions (a single parameter
               fitted on all the dev positives at once, aimed at micro-F1). It suits labels of
               similar prevalence; where they differ widely per-label cut-offs do better (SemEval
               frames: 0.638 against 0.686 micro-F1; persuasion: level; bench/RESULTS.md).
``fixed``      the default for every label.

Every policy records, per label, where its threshold came from (``tuned``, ``shrunk``,
``bootstrap``, ``global`` or ``default``). :func:`retune_artifact` (``framescope thresholds``)
chooses a trained model's thresholds again, on its own dev data or on labelled text from the
user's domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from framescope.metrics import as_matrix

__all__ = ["POLICIES", "choose_thresholds", "dev_data_for", "retune_artifact", "tune_thresholds"]

#: Threshold policies accepted by :func:`choose_thresholds` (and ``--threshold-policy``).
POLICIES = ("tuned", "shrunk", "bootstrap", "global", "fixed")


def _best_cut(y: np.ndarray, s: np.ndarray) -> float:
    """The F1-maximising cut-off of one label (``s >= t``), placed half-way to the next lower
    score; ties go to the higher cut-off (fewer alarms)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)[-1]  # cuts ascend: the last tie is the highest
    cut = float(cuts[best])
    lower = s[s < cut]
    return cut if not len(lower) else (cut + float(lower.max())) / 2


def tune_thresholds(y: np.ndarray, p: np.ndarray, *, min_positives: int = 5,
                    default: float = 0.5) -> tuple[np.ndarray, list[str]]:
    """Per-label decision thresholds that maximise F1 on held-out (dev) data.

    For each label with at least ``min_positives`` gold positives every distinct score is a
    candidate cut-off (``p >= t``); the best F1 wins (ties: the higher threshold, i.e. fewer
    alarms), and the threshold is placed half-way to the next lower score so that it
    generalises a little better while making exactly the same decisions on this data. Labels
    with fewer positives keep ``default``.

    Parameters:
        y: gold multi-hot matrix ``(n, L)`` (0/1 or bool).
        p: scores ``(n, L)`` in ``[0, 1]``.
        min_positives: fewest gold positives a label needs to be tuned.
        default: the threshold of labels that are not tuned.

    Returns:
        ``(thresholds, sources)``: a float array of length ``L`` and, per label, ``"tuned"`` or
        ``"default"``.

    Raises:
        ValueError: when the shapes differ or ``min_positives`` < 1.

    Example:
        >>> y = np.array([[1], [1], [0], [0]])
        >>> p = np.array([[0.9], [0.4], [0.3], [0.1]])
        >>> t, src = tune_thresholds(y, p, min_positives=1)
        >>> float(t[0]), src
        (0.35, ['tuned'])
    """
    y = as_matrix("y", y).astype(bool)
    p = as_matrix("p", p).astype(np.float64)
    if y.shape != p.shape:
        raise ValueError(f"The 'p' parameter must have the shape of the gold labels {y.shape}. "
                         f"Got {p.shape} instead.")
    if min_positives < 1:
        raise ValueError(f"The 'min_positives' parameter must be at least 1. Got {min_positives} instead.")
    thresholds = np.full(y.shape[1], float(default), dtype=np.float64)
    sources = ["default"] * y.shape[1]
    for j in range(y.shape[1]):
        if int(y[:, j].sum()) >= min_positives:
            thresholds[j] = _best_cut(y[:, j], p[:, j])
            sources[j] = "tuned"
    return thresholds, sources


def choose_thresholds(y: np.ndarray, p: np.ndarray, *, policy: str = "tuned",
                      min_positives: int = 5, default: float = 0.5, shrink: float = 20.0,
                      n_boot: int = 200, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Per-label thresholds from dev scores under a policy (see the module docstring).

    Raises:
        ValueError: for an unknown policy or bad parameters.

    Example:
        >>> y = np.array([[1], [1], [0], [0]]); p = np.array([[0.9], [0.4], [0.3], [0.1]])
        >>> t, src = choose_thresholds(y, p, policy="shrunk", min_positives=1, shrink=2)
        >>> round(float(t[0]), 3), src
        (0.425, ['shrunk'])
        >>> y = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
        >>> p = np.array([[0.9, 0.2], [0.4, 0.7], [0.3, 0.1], [0.1, 0.6]])
        >>> t, src = choose_thresholds(y, p, policy="global", min_positives=1)
        >>> [round(float(v), 2) for v in t] + src
        [0.35, 0.35, 'global', 'global']
    """
    if policy not in POLICIES:
        raise ValueError(f"The 'policy' parameter must be one of {', '.join(POLICIES)}. "
                         f"Got {policy!r} instead.")
    y = as_matrix("y", y).astype(bool)
    p = as_matrix("p", p).astype(np.float64)
    if policy == "fixed":
        return np.full(y.shape[1], float(default)), ["default"] * y.shape[1]
    tuned, sources = tune_thresholds(y, p, min_positives=min_positives, default=default)
    if policy == "tuned":
        return tuned, sources
    out = tuned.copy()
    if policy == "shrunk":
        if shrink < 0:
            raise ValueError(f"The 'shrink' parameter must be >= 0. Got {shrink} instead.")
        for j, src in enumerate(sources):
            if src == "tuned":
                n = float(y[:, j].sum())
                out[j] = (n * tuned[j] + shrink * default) / (n + shrink)
                sources[j] = "shrunk"
        return out, sources
    if policy == "global":
        cols = [j for j, src in enumerate(sources) if src == "tuned"]
        if cols:
            cut = _best_cut(y[:, cols].ravel(), p[:, cols].ravel())
            for j in cols:
                out[j], sources[j] = cut, "global"
        return out, sources
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n_boot)]
    for j, src in enumerate(sources):
        if src != "tuned":
            continue
        cuts = []
        for idx in draws:
            yj = y[idx, j]
            if yj.sum() >= 1 and (~yj).sum() >= 1:
                cuts.append(_best_cut(yj, p[idx, j]))
        if cuts:
            out[j] = float(np.median(cuts))
            sources[j] = "bootstrap"
    return out, sources


def dev_data_for(art: Any, dev: Sequence[str] = ()) -> tuple[list[Any], dict[str, Any]]:
    """Labelled records to choose a model's decisions on: ``dev`` files, else the dev data the
    model records (a split carved at training time is carved again identically).

    Returns:
        ``(records, source)``: the records and where they came from (paths, fingerprint).

    Raises:
        DataError: unreadable data, no dev data recorded (and no ``dev``), or labels the model
            does not know.
    """
    from framescope.data.dataset import load_labelled
    from framescope.data.errors import DataError
    from framescope.data.provenance import load_recorded, portable_path, recorded_paths
    from framescope.data.records import ReadOptions

    if dev:
        data = load_labelled(list(dev), ReadOptions(labels_required=True), what="--dev")
        records, source = data.passages, {"paths": [portable_path(p) for p in dev],
                                          "fingerprint": data.fingerprint}
    else:
        paths, sec = recorded_paths(art.meta, "dev")
        if not paths and sec.get("carved_from") != "train":
            raise DataError(f"model {art.name!r} records no dev data; pass --dev PATH (labelled "
                            "records the model was not trained on)")
        records = load_recorded(art.meta, artifact_path=art.path, which="dev")
        source = {"paths": "the model's recorded dev data", "fingerprint": sec.get("fingerprint")}
    unknown = sorted({lab for p in records for lab in p.labels or []} - set(art.taxonomy.ids))
    if unknown:
        raise DataError(f"the dev data has labels the model does not know: {unknown}; the model's "
                        f"labels are {', '.join(art.taxonomy.ids)}")
    return records, source


def retune_artifact(model: str | Path, out: str | Path, *, dev: Sequence[str] = (),
                    policy: str = "tuned", min_positives: int = 5, shrink: float = 20.0,
                    seed: int = 0, precision: str = "auto", progress: bool = False) -> dict[str, Any]:
    """Choose a trained model's thresholds again, on its recorded dev data or on ``dev`` files
    (for example a few hundred labelled paragraphs of your own domain), and save the model with
    them to ``out`` (atomically; the weights are unchanged).

    Scores come from the one passage path (:func:`framescope.inference.predict_records`), so the
    thresholds are chosen on exactly the scores ``framescope score`` and ``evaluate`` compute.

    Returns:
        What was done: policy, data, thresholds before and after, per-label sources.

    Raises:
        DataError: single-label models (they decide by argmax), unreadable or unlabelled data.
    """
    from framescope.data.errors import DataError
    from framescope.data.taxonomy import label_matrix
    from framescope.inference import predict_records
    from framescope.model_card import render_model_card
    from framescope.modeling import load_artifact, save_artifact

    art = load_artifact(model)
    if art.single_label:
        raise DataError(f"{model} is a single-label model: it decides by argmax and has no thresholds")
    passages, source = dev_data_for(art, dev)
    found = predict_records(art, passages, precision=precision, progress=progress)
    y = label_matrix(passages, art.taxonomy)
    thresholds, sources = choose_thresholds(y, found.probs, policy=policy, min_positives=min_positives,
                                            shrink=shrink, seed=seed)
    ids = art.taxonomy.ids
    fused = art.fusion is not None
    before = dict(zip(ids, map(float, art.fusion.thresholds))) if fused else dict(art.thresholds)
    new = {lab: float(t) for lab, t in zip(ids, thresholds)}
    record = {"policy": policy, "min_positives": min_positives, "shrink": shrink, "seed": seed,
              "data": source, "passages": len(passages),
              "positives": {lab: int(n) for lab, n in zip(ids, y.sum(0))},
              "previous": before}
    meta = dict(art.meta)
    if fused:  # the record scores are fused: their thresholds are the fusion's
        record["of"] = "the TF-IDF fusion's record scores (framescope fuse)"
        art.fusion.thresholds = np.asarray(thresholds, dtype=np.float64)
        art.fusion.info = {**art.fusion.info, "threshold_source": dict(zip(ids, sources)),
                           "thresholds_chosen": record}
    else:
        art.thresholds = new
        meta["threshold_source"] = dict(zip(ids, sources))
        meta["thresholds_chosen"] = record
    meta["name"] = Path(out).name
    meta.pop("fingerprint", None)
    art.meta = meta
    card = render_model_card(dict(meta, taxonomy=art.taxonomy.to_dict(), thresholds=art.thresholds))
    save_artifact(art, out, card=card)
    return record | {"thresholds": new, "sources": dict(zip(ids, sources))}
