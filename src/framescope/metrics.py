"""Classification metrics that stay honest: per-label and overall scores, bootstrap intervals
over whole articles, paired significance, calibration, and decision-threshold tuning.

Everything here works on plain numpy arrays: ``y`` is a multi-hot gold matrix
``(n_units, n_labels)``, ``p`` the model's probabilities of the same shape and ``pred`` boolean
decisions. A metric that is mathematically undefined on the data (recall of a label with no
positives, ROC-AUC with a single class present, ...) is returned as ``None`` together with the
reason, never as a silent ``NaN``.

Conventions (also in ``docs/evaluation.md``):

* precision = TP/(TP+FP), undefined without predicted positives; recall = TP/(TP+FN), undefined
  without gold positives; F1 = 2TP/(2TP+FP+FN), undefined only when a label has neither gold
  nor predicted positives (a label with no gold positives but false alarms has F1 = 0).
* macro-F1 averages the labels whose F1 is defined; the labels left out are listed.
* samples-F1 scores each unit; a unit with no gold and no predicted label scores 1 (the model
  correctly said "no frame").
* bootstrap intervals resample whole groups (articles) with replacement, 1,000 times, seeded,
  and take the 2.5th/97.5th percentiles (percentile bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "UNDEFINED_EMPTY",
    "UNDEFINED_NO_NEGATIVES",
    "UNDEFINED_NO_POSITIVES",
    "UNDEFINED_NO_PREDICTIONS",
    "GroupedCounts",
    "bootstrap_intervals",
    "calibration",
    "confident_errors",
    "cooccurrence",
    "f1_from_counts",
    "overall_metrics",
    "paired_bootstrap",
    "per_label_metrics",
    "pr_curves",
    "single_label_metrics",
    "tune_thresholds",
]

UNDEFINED_NO_POSITIVES = "undefined: no positives in the gold labels"
UNDEFINED_NO_PREDICTIONS = "undefined: no predicted positives"
UNDEFINED_NO_NEGATIVES = "undefined: no negatives in the gold labels"
UNDEFINED_EMPTY = "undefined: no positives and no predicted positives"


def _as_2d(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"The '{name}' parameter must be a 2-D array (units x labels). "
                         f"Got shape {a.shape} instead.")
    return a


def _check_same(y: np.ndarray, other: np.ndarray, name: str) -> None:
    if y.shape != other.shape:
        raise ValueError(f"The '{name}' parameter must have the shape of the gold labels {y.shape}. "
                         f"Got {other.shape} instead.")


# --------------------------------------------------------------------------- thresholds

def tune_thresholds(y: np.ndarray, p: np.ndarray, *, min_positives: int = 5,
                    default: float = 0.5) -> tuple[np.ndarray, list[str]]:
    """Per-label decision thresholds that maximise F1 on held-out (dev) data.

    For each label with at least ``min_positives`` gold positives, every distinct score is tried
    as a cut-off (``p >= t``); the best F1 wins (ties: the higher threshold, i.e. fewer alarms),
    and the threshold is placed half-way to the next lower score so that it generalises a little
    better while making exactly the same decisions on this data. Labels with fewer positives
    keep ``default``.

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
    y = _as_2d("y", y).astype(bool)
    p = _as_2d("p", p).astype(np.float64)
    _check_same(y, p, "p")
    if min_positives < 1:
        raise ValueError(f"The 'min_positives' parameter must be at least 1. Got {min_positives} instead.")
    n_labels = y.shape[1]
    thresholds = np.full(n_labels, float(default), dtype=np.float64)
    sources = ["default"] * n_labels
    for j in range(n_labels):
        pos = int(y[:, j].sum())
        if pos < min_positives:
            continue
        order = np.argsort(-p[:, j], kind="stable")
        scores = p[order, j]
        gold = y[order, j]
        tp = np.cumsum(gold)
        fp = np.cumsum(~gold)
        # only the last index of each run of equal scores is a valid cut-off
        last = np.r_[scores[1:] != scores[:-1], True]
        idx = np.flatnonzero(last)
        f1 = 2 * tp[idx] / (2 * tp[idx] + fp[idx] + (pos - tp[idx]))
        best_val = f1.max()
        best = idx[np.flatnonzero(f1 >= best_val - 1e-12)[0]]  # highest cut-off among ties
        cut = scores[best]
        lower = scores[best + 1] if best + 1 < len(scores) else None
        thresholds[j] = float(cut if lower is None else (cut + lower) / 2)
        sources[j] = "tuned"
    return thresholds, sources


# --------------------------------------------------------------------------- per-label / overall

def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 = 2TP/(2TP+FP+FN) elementwise, ``NaN`` where the denominator is 0 (undefined)."""
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    den = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), np.nan)


def _binary_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC-AUC via the rank-sum statistic (ties get average ranks)."""
    from scipy.stats import rankdata

    ranks = rankdata(s)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision (area under the step PR curve, as scikit-learn computes it)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s))


def per_label_metrics(
    y: np.ndarray,
    p: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str],
    *,
    thresholds: Sequence[float] | None = None,
    threshold_sources: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Precision, recall, F1, support, ROC-AUC, average precision and threshold per label.

    Undefined values are ``None`` and the entry's ``"undefined"`` dict says why, e.g.
    ``{"recall": "undefined: no positives in the gold labels"}``.

    Example:
        >>> y = np.array([[1, 0], [0, 0], [1, 0]])
        >>> p = np.array([[0.9, 0.1], [0.2, 0.7], [0.4, 0.2]])
        >>> m = per_label_metrics(y, p, p >= 0.5, ["a", "b"])
        >>> m["a"]["recall"], m["b"]["recall"], m["b"]["undefined"]["recall"][:9]
        (0.5, None, 'undefined')
    """
    y = _as_2d("y", y).astype(bool)
    p = _as_2d("p", p).astype(np.float64)
    pred = _as_2d("pred", pred).astype(bool)
    _check_same(y, p, "p")
    _check_same(y, pred, "pred")
    if len(labels) != y.shape[1]:
        raise ValueError(f"The 'labels' parameter must name {y.shape[1]} labels. Got {len(labels)} instead.")
    n = y.shape[0]
    out: dict[str, dict[str, Any]] = {}
    for j, lab in enumerate(labels):
        yt, pt, st = y[:, j], pred[:, j], p[:, j]
        tp = int((yt & pt).sum())
        fp = int((~yt & pt).sum())
        fn = int((yt & ~pt).sum())
        support = int(yt.sum())
        why: dict[str, str] = {}
        precision = _ratio(tp, tp + fp)
        if precision is None:
            why["precision"] = UNDEFINED_NO_PREDICTIONS
        recall = _ratio(tp, tp + fn)
        if recall is None:
            why["recall"] = UNDEFINED_NO_POSITIVES
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        if f1 is None:
            why["f1"] = UNDEFINED_EMPTY
        if support == 0:
            auc = ap = None
            why["roc_auc"] = why["average_precision"] = UNDEFINED_NO_POSITIVES
        elif support == n:
            auc, ap = None, _average_precision(yt, st)
            why["roc_auc"] = UNDEFINED_NO_NEGATIVES
        else:
            auc, ap = _binary_auc(yt, st), _average_precision(yt, st)
        entry: dict[str, Any] = {
            "precision": precision, "recall": recall, "f1": f1, "support": support,
            "predicted": tp + fp, "tp": tp, "fp": fp, "fn": fn,
            "roc_auc": auc, "average_precision": ap,
        }
        if thresholds is not None:
            entry["threshold"] = float(thresholds[j])
        if threshold_sources is not None:
            entry["threshold_source"] = threshold_sources[j]
        entry["undefined"] = why
        out[lab] = entry
    return out


def _samples_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-unit F1; a unit with neither gold nor predicted labels scores 1."""
    tp = (y & pred).sum(1).astype(np.float64)
    den = y.sum(1) + pred.sum(1)
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)


def overall_metrics(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Micro, macro, weighted and samples F1, subset accuracy and Hamming loss.

    Returns a dict whose ``"undefined"`` entry explains every ``None`` and whose
    ``"macro_f1_labels"`` lists the labels averaged (labels with neither gold nor predicted
    positives are left out of the macro average, and named in ``"macro_f1_excluded"``).
    """
    y = _as_2d("y", y).astype(bool)
    pred = _as_2d("pred", pred).astype(bool)
    _check_same(y, pred, "pred")
    tp = (y & pred).sum(0)
    fp = (~y & pred).sum(0)
    fn = (y & ~pred).sum(0)
    support = y.sum(0)
    f1 = f1_from_counts(tp, fp, fn)
    why: dict[str, str] = {}
    defined = ~np.isnan(f1)
    macro = float(np.mean(f1[defined])) if defined.any() else None
    if macro is None:
        why["macro_f1"] = UNDEFINED_EMPTY
    precision = [(tp[j] / (tp[j] + fp[j])) for j in range(len(tp)) if tp[j] + fp[j] > 0]
    recall = [(tp[j] / support[j]) for j in range(len(tp)) if support[j] > 0]
    micro_p = _ratio(tp.sum(), tp.sum() + fp.sum())
    micro_r = _ratio(tp.sum(), tp.sum() + fn.sum())
    micro_f1 = _ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum())
    if micro_f1 is None:
        why["micro_f1"] = UNDEFINED_EMPTY
    if micro_p is None:
        why["micro_precision"] = UNDEFINED_NO_PREDICTIONS
    if micro_r is None:
        why["micro_recall"] = UNDEFINED_NO_POSITIVES
    if support.sum() > 0:
        weighted = float(np.sum(np.nan_to_num(f1) * support) / support.sum())
    else:
        weighted = None
        why["weighted_f1"] = UNDEFINED_NO_POSITIVES
    n = y.shape[0]
    return {
        "units": int(n),
        "micro_precision": micro_p, "micro_recall": micro_r, "micro_f1": micro_f1,
        "macro_precision": float(np.mean(precision)) if precision else None,
        "macro_recall": float(np.mean(recall)) if recall else None,
        "macro_f1": macro,
        "macro_f1_labels": [lab for lab, d in zip(labels, defined) if d],
        "macro_f1_excluded": {lab: UNDEFINED_EMPTY for lab, d in zip(labels, defined) if not d},
        "weighted_f1": weighted,
        "samples_f1": float(_samples_f1(y, pred).mean()) if n else None,
        "subset_accuracy": float((y == pred).all(1).mean()) if n else None,
        "hamming_loss": float((y != pred).mean()) if n else None,
        "units_without_gold_labels": int((y.sum(1) == 0).sum()),
        "units_without_predicted_labels": int((pred.sum(1) == 0).sum()),
        "undefined": why,
    }


def single_label_metrics(y: np.ndarray, p: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy and confusion matrix of a single-label (multi-class) model.

    ``y`` is one-hot gold, ``p`` class probabilities; rows of the confusion matrix are gold
    classes, columns predicted classes, in ``labels`` order.
    """
    y = _as_2d("y", y)
    p = _as_2d("p", p)
    _check_same(y, p, "p")
    bad = np.flatnonzero(y.sum(1) != 1)
    if len(bad):
        raise ValueError(f"single-label evaluation needs exactly one gold label per unit; "
                         f"{len(bad)} unit(s) have none or several (rows {bad[:5].tolist()})")
    gold = y.argmax(1)
    guess = p.argmax(1)
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (gold, guess), 1)
    return {"accuracy": float((gold == guess).mean()) if len(gold) else None,
            "confusion_matrix": cm.tolist(), "confusion_labels": list(labels)}


# --------------------------------------------------------------------------- bootstrap

class GroupedCounts:
    """Per-group sufficient statistics, so a bootstrap resample is one matrix product.

    Resampling whole groups (articles) keeps passages of one article together, as they are
    not independent.

    Attributes:
        groups: the distinct group keys, in first-seen order.
        tp, fp, fn: ``(n_groups, n_labels)`` counts.
        samples_f1: ``(n_groups,)`` sum of per-unit samples-F1.
        units: ``(n_groups,)`` number of units per group.
    """

    def __init__(self, y: np.ndarray, pred: np.ndarray, groups: Sequence[str] | None = None) -> None:
        y = _as_2d("y", y).astype(bool)
        pred = _as_2d("pred", pred).astype(bool)
        _check_same(y, pred, "pred")
        n = y.shape[0]
        keys = list(groups) if groups is not None else [str(i) for i in range(n)]
        if len(keys) != n:
            raise ValueError(f"The 'groups' parameter must have one key per unit ({n}). "
                             f"Got {len(keys)} instead.")
        index: dict[str, int] = {}
        gid = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int64)
        self.groups = list(index)
        g = len(index)

        def agg(values: np.ndarray) -> np.ndarray:
            out = np.zeros((g, *values.shape[1:]), dtype=np.float64)
            np.add.at(out, gid, values)
            return out

        self.tp = agg((y & pred).astype(np.float64))
        self.fp = agg((~y & pred).astype(np.float64))
        self.fn = agg((y & ~pred).astype(np.float64))
        self.samples_f1 = agg(_samples_f1(y, pred))
        self.units = agg(np.ones(n))

    def __len__(self) -> int:
        return len(self.groups)


def _resample_weights(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_groups)`` multiplicities of each group in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    w = np.zeros((n_boot, n_groups), dtype=np.float64)
    np.add.at(w, (np.repeat(np.arange(n_boot), n_groups), draws.ravel()), 1.0)
    return w


def _stats_from_weights(c: GroupedCounts, w: np.ndarray) -> dict[str, np.ndarray]:
    tp, fp, fn = w @ c.tp, w @ c.fp, w @ c.fn
    per_label = f1_from_counts(tp, fp, fn)
    count = (~np.isnan(per_label)).sum(1)
    macro = np.where(count > 0, np.nansum(per_label, 1) / np.maximum(count, 1), np.nan)
    micro = f1_from_counts(tp.sum(1), fp.sum(1), fn.sum(1))
    units = w @ c.units
    samples = np.where(units > 0, (w @ c.samples_f1) / np.maximum(units, 1), np.nan)
    return {"macro_f1": macro, "micro_f1": micro, "samples_f1": samples, "per_label_f1": per_label}


def _interval(values: np.ndarray, level: float) -> dict[str, Any]:
    ok = values[~np.isnan(values)]
    lo_q, hi_q = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out: dict[str, Any] = {"low": None, "high": None, "resamples_defined": len(ok)}
    if len(ok):
        out["low"], out["high"] = float(np.percentile(ok, lo_q)), float(np.percentile(ok, hi_q))
    if len(ok) < len(values):
        out["note"] = (f"undefined in {len(values) - len(ok)} of {len(values)} resamples "
                       "(no positives and no predictions drawn); interval over the rest")
    return out


def bootstrap_intervals(
    y: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Percentile bootstrap intervals for macro-, micro-, samples-F1 and each label's F1.

    Whole groups (``groups``, e.g. article ids) are resampled with replacement; without
    ``groups`` every unit is its own group.

    Returns:
        ``{"macro_f1": {"low", "high", "resamples_defined"}, "micro_f1": ..., "samples_f1": ...,
        "per_label_f1": {label: {...}}, "n_boot", "seed", "level", "groups"}``.

    Example:
        >>> y = np.array([[1], [0], [1], [1]]); pred = np.array([[1], [0], [0], [1]])
        >>> ci = bootstrap_intervals(y, pred, ["a"], n_boot=200)
        >>> ci["macro_f1"]["low"] <= 0.8 <= ci["macro_f1"]["high"]
        True
    """
    if n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {n_boot} instead.")
    if not 0 < level < 1:
        raise ValueError(f"The 'level' parameter must be in (0, 1). Got {level} instead.")
    c = GroupedCounts(y, pred, groups)
    stats = _stats_from_weights(c, _resample_weights(len(c), n_boot, seed))
    return {
        "n_boot": n_boot, "seed": seed, "level": level, "groups": len(c),
        "macro_f1": _interval(stats["macro_f1"], level),
        "micro_f1": _interval(stats["micro_f1"], level),
        "samples_f1": _interval(stats["samples_f1"], level),
        "per_label_f1": {lab: _interval(stats["per_label_f1"][:, j], level)
                         for j, lab in enumerate(labels)},
    }


def paired_bootstrap(
    y: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    groups: Sequence[str] | None = None,
    metric: str = "macro_f1",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Paired bootstrap test of ``metric(A) - metric(B)`` on the same units.

    Both systems are scored on the same resamples of whole groups. The two-sided p-value is the
    share of resampled differences at least as far from the observed difference as the observed
    difference is from 0 (the bootstrap distribution shifted to the null),
    ``(1 + #{|d_b - d| >= |d|}) / (n_boot + 1)``, so it lies in ``(0, 1]``.

    Returns:
        ``{"metric", "value_a", "value_b", "difference", "interval": {"low", "high"}, "p_value", "n_boot",
        "seed", "groups"}``; ``p_value`` is ``None`` (with ``"note"``) when the metric is undefined.
    """
    if metric not in ("macro_f1", "micro_f1", "samples_f1"):
        raise ValueError(f"The 'metric' parameter must be macro_f1, micro_f1 or samples_f1. Got {metric!r} instead.")
    y = _as_2d("y", y)
    ca = GroupedCounts(y, pred_a, groups)
    cb = GroupedCounts(y, pred_b, groups)
    w = _resample_weights(len(ca), n_boot, seed)
    ones = np.ones((1, len(ca)))
    a_obs = float(_stats_from_weights(ca, ones)[metric][0])
    b_obs = float(_stats_from_weights(cb, ones)[metric][0])
    da = _stats_from_weights(ca, w)[metric]
    db = _stats_from_weights(cb, w)[metric]
    diff = da - db
    out: dict[str, Any] = {"metric": metric, "n_boot": n_boot, "seed": seed, "groups": len(ca),
                           "value_a": None if np.isnan(a_obs) else a_obs,
                           "value_b": None if np.isnan(b_obs) else b_obs}
    if np.isnan(a_obs) or np.isnan(b_obs):
        out.update(difference=None, interval={"low": None, "high": None}, p_value=None,
                   note=f"{metric} is undefined for one system on this data")
        return out
    d = a_obs - b_obs
    ok = diff[~np.isnan(diff)]
    extreme = int(np.sum(np.abs(ok - d) >= abs(d) - 1e-12))
    out["difference"] = d
    out["interval"] = _interval(diff, level)
    out["p_value"] = float((1 + extreme) / (len(ok) + 1))
    return out


# --------------------------------------------------------------------------- calibration & curves

def calibration(y: np.ndarray, p: np.ndarray, *, bins: int = 10,
                single_label: bool = False) -> dict[str, Any]:
    """Expected calibration error and reliability-diagram bins.

    Multi-label: every (unit, label) score is a binary forecast of that label. Single-label:
    the top class's probability is a forecast of being right. Equal-width bins;
    ``ECE = sum_b n_b/N * |positive rate_b - mean score_b|``.

    Example:
        >>> cal = calibration(np.array([[1], [0]]), np.array([[0.9], [0.1]]), bins=2)
        >>> round(cal["ece"], 3)
        0.1
    """
    y = _as_2d("y", y)
    p = _as_2d("p", p).astype(np.float64)
    _check_same(y, p, "p")
    if single_label:
        conf = p.max(1) if len(p) else np.zeros(0)
        hit = (p.argmax(1) == y.argmax(1)).astype(np.float64) if len(p) else np.zeros(0)
        kind = "top-label confidence vs accuracy"
    else:
        conf, hit = p.ravel(), y.astype(np.float64).ravel()
        kind = "every (unit, label) score vs the gold label"
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=False), 0, bins - 1)
    out_bins = []
    ece = 0.0
    for b in range(bins):
        m = which == b
        count = int(m.sum())
        mean_conf = float(conf[m].mean()) if count else None
        rate = float(hit[m].mean()) if count else None
        if count:
            ece += count / len(conf) * abs(rate - mean_conf)
        out_bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
                         "mean_score": mean_conf, "positive_rate": rate})
    result: dict[str, Any] = {"ece": float(ece) if len(conf) else None, "bins": out_bins,
                              "forecasts": len(conf), "kind": kind}
    if not len(conf):
        result["undefined"] = {"ece": "undefined: no units"}
    return result


def pr_curves(y: np.ndarray, p: np.ndarray, labels: Sequence[str], *,
              max_points: int = 120) -> dict[str, Any]:
    """Precision-recall curve points per label (down-sampled), ``None`` without positives."""
    from sklearn.metrics import precision_recall_curve

    y = _as_2d("y", y).astype(bool)
    p = _as_2d("p", p)
    out: dict[str, Any] = {}
    for j, lab in enumerate(labels):
        if not y[:, j].any():
            out[lab] = None
            continue
        prec, rec, _ = precision_recall_curve(y[:, j], p[:, j])
        if len(prec) > max_points:
            keep = np.unique(np.r_[np.linspace(0, len(prec) - 1, max_points).round().astype(int)])
            prec, rec = prec[keep], rec[keep]
        out[lab] = {"precision": [round(float(v), 4) for v in prec],
                    "recall": [round(float(v), 4) for v in rec]}
    return out


def cooccurrence(m: np.ndarray) -> list[list[int]]:
    """Label co-occurrence counts ``M.T @ M`` (the diagonal is each label's count)."""
    m = _as_2d("m", m).astype(np.int64)
    return (m.T @ m).tolist()


def confident_errors(
    y: np.ndarray,
    p: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str],
    *,
    k: int = 20,
    single_label: bool = False,
) -> list[dict[str, Any]]:
    """The ``k`` most confident wrong decisions, most confident first.

    Multi-label: each wrong (unit, label) decision; confidence is the score for a false positive
    and ``1 - score`` for a false negative. Single-label: each misclassified unit, ranked by the
    probability of the predicted class. Returns dicts with ``row``, ``label``, ``kind`` (``FP``,
    ``FN`` or ``wrong class``), ``score`` and ``confidence``.
    """
    y = _as_2d("y", y).astype(bool)
    p = _as_2d("p", p).astype(np.float64)
    pred = _as_2d("pred", pred).astype(bool)
    items: list[dict[str, Any]] = []
    if single_label:
        gold, guess = y.argmax(1), p.argmax(1)
        for i in np.flatnonzero(gold != guess):
            items.append({"row": int(i), "label": labels[guess[i]], "gold_label": labels[gold[i]],
                          "kind": "wrong class", "score": float(p[i, guess[i]]),
                          "confidence": float(p[i, guess[i]])})
    else:
        fp_rows, fp_cols = np.nonzero(pred & ~y)
        fn_rows, fn_cols = np.nonzero(~pred & y)
        for i, j in zip(fp_rows, fp_cols):
            items.append({"row": int(i), "label": labels[j], "kind": "FP", "score": float(p[i, j]),
                          "confidence": float(p[i, j])})
        for i, j in zip(fn_rows, fn_cols):
            items.append({"row": int(i), "label": labels[j], "kind": "FN", "score": float(p[i, j]),
                          "confidence": float(1 - p[i, j])})
    items.sort(key=lambda e: (-e["confidence"], e["row"], e["label"]))
    return items[:k]
