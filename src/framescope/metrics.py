"""Classification metrics that stay honest: per-label and overall scores, bootstrap intervals
over whole articles, paired significance and calibration.

The standard metrics come from scikit-learn (precision/recall/F1/support, ROC-AUC, average
precision, Hamming loss, subset accuracy, confusion matrix, calibration curve, PR curves); this
module adds what it lacks: ``None`` with a reason instead of ``NaN`` for undefined values,
bootstrap intervals that resample whole articles, the paired bootstrap test, and the most
confident errors. Decision thresholds are chosen in :mod:`framescope.thresholds`.

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

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "UNDEFINED_EMPTY",
    "UNDEFINED_NO_NEGATIVES",
    "UNDEFINED_NO_POSITIVES",
    "UNDEFINED_NO_PREDICTIONS",
    "GroupedCounts",
    "as_matrix",
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
]

UNDEFINED_NO_POSITIVES = "undefined: no positives in the gold labels"
UNDEFINED_NO_PREDICTIONS = "undefined: no predicted positives"
UNDEFINED_NO_NEGATIVES = "undefined: no negatives in the gold labels"
UNDEFINED_EMPTY = "undefined: no positives and no predicted positives"


def as_matrix(name: str, a: np.ndarray) -> np.ndarray:
    """``a`` as a 2-D (units x labels) array; a 1-D array becomes one column.

    Raises:
        ValueError: naming the parameter, for any other shape.
    """
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


def _opt(value: Any) -> float | None:
    """A metric value, or ``None`` where scikit-learn returned NaN (undefined)."""
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else value


def _columns(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Arguments for scikit-learn's label-wise metrics: a one-column matrix is read by
    scikit-learn as a binary target, so it is passed as 0/1 vectors with the positive class."""
    if y.shape[1] == 1:
        return y[:, 0].astype(int), pred[:, 0].astype(int), [1]
    return y, pred, list(range(y.shape[1]))


def _prfs(y: np.ndarray, pred: np.ndarray, average: str | None) -> tuple[Any, Any, Any, Any]:
    """scikit-learn's precision, recall, F1 and support with NaN for undefined values."""
    from sklearn.metrics import precision_recall_fscore_support

    yy, pp, labels = _columns(y, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return precision_recall_fscore_support(yy, pp, average=average, labels=labels,
                                               zero_division=np.nan)


# --------------------------------------------------------------------------- per-label / overall

def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 = 2TP/(2TP+FP+FN) elementwise, ``NaN`` where the denominator is 0 (undefined); used on
    the bootstrap's resampled counts, where calling scikit-learn per resample would be slow."""
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    den = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), np.nan)


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
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = as_matrix("y", y).astype(bool)
    p = as_matrix("p", p).astype(np.float64)
    pred = as_matrix("pred", pred).astype(bool)
    _check_same(y, p, "p")
    _check_same(y, pred, "pred")
    if len(labels) != y.shape[1]:
        raise ValueError(f"The 'labels' parameter must name {y.shape[1]} labels. Got {len(labels)} instead.")
    n = y.shape[0]
    prec, rec, f1, support = _prfs(y, pred, None) if n else ([np.nan] * len(labels),) * 3 + ([0] * len(labels),)
    out: dict[str, dict[str, Any]] = {}
    for j, lab in enumerate(labels):
        yt, pt, st = y[:, j], pred[:, j], p[:, j]
        tp, fp, fn = int((yt & pt).sum()), int((~yt & pt).sum()), int((yt & ~pt).sum())
        why: dict[str, str] = {}
        entry: dict[str, Any] = {"precision": _opt(prec[j]), "recall": _opt(rec[j]), "f1": _opt(f1[j]),
                                 "support": int(support[j]), "predicted": tp + fp, "tp": tp,
                                 "fp": fp, "fn": fn, "roc_auc": None, "average_precision": None}
        for key, reason in (("precision", UNDEFINED_NO_PREDICTIONS), ("recall", UNDEFINED_NO_POSITIVES),
                            ("f1", UNDEFINED_EMPTY)):
            if entry[key] is None:
                why[key] = reason
        if entry["support"] == 0:
            why["roc_auc"] = why["average_precision"] = UNDEFINED_NO_POSITIVES
        else:
            entry["average_precision"] = float(average_precision_score(yt, st))
            if entry["support"] == n:
                why["roc_auc"] = UNDEFINED_NO_NEGATIVES
            else:
                entry["roc_auc"] = float(roc_auc_score(yt, st))
        if thresholds is not None:
            entry["threshold"] = float(thresholds[j])
        if threshold_sources is not None:
            entry["threshold_source"] = threshold_sources[j]
        entry["undefined"] = why
        out[lab] = entry
    return out


def _samples_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-unit F1; a unit with neither gold nor predicted labels scores 1 (the bootstrap needs
    per-unit values, which scikit-learn's ``average="samples"`` only gives as a mean)."""
    tp = (y & pred).sum(1).astype(np.float64)
    den = y.sum(1) + pred.sum(1)
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)


def overall_metrics(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Micro, macro, weighted and samples F1, subset accuracy and Hamming loss.

    Returns a dict whose ``"undefined"`` entry explains every ``None`` and whose
    ``"macro_f1_labels"`` lists the labels averaged (labels with neither gold nor predicted
    positives are left out of the macro average, and named in ``"macro_f1_excluded"``);
    ``"false_alarm_rate"`` is the share of units without a gold label that get a predicted one.
    """
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss

    y = as_matrix("y", y).astype(bool)
    pred = as_matrix("pred", pred).astype(bool)
    _check_same(y, pred, "pred")
    n = y.shape[0]
    why: dict[str, str] = {}
    if n:
        per_f1 = _prfs(y, pred, None)[2]
        macro_p, macro_r, macro, _ = _prfs(y, pred, "macro")
        micro_p, micro_r, micro, _ = _prfs(y, pred, "micro")
        yy, pp, cols = _columns(y, pred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weighted = f1_score(yy, pp, average="weighted", labels=cols,
                                zero_division=np.nan) if y.any() else None
        samples = _samples_f1(y, pred).mean()
    else:
        per_f1 = np.full(y.shape[1], np.nan)
        macro_p = macro_r = macro = micro_p = micro_r = micro = weighted = samples = None
    defined = ~np.isnan(np.asarray(per_f1, dtype=np.float64))
    result: dict[str, Any] = {
        "units": int(n),
        "micro_precision": _opt(micro_p), "micro_recall": _opt(micro_r), "micro_f1": _opt(micro),
        "macro_precision": _opt(macro_p), "macro_recall": _opt(macro_r), "macro_f1": _opt(macro),
        "macro_f1_labels": [lab for lab, d in zip(labels, defined) if d],
        "macro_f1_excluded": {lab: UNDEFINED_EMPTY for lab, d in zip(labels, defined) if not d},
        "weighted_f1": _opt(weighted),
        "samples_f1": _opt(samples),
        "subset_accuracy": float(accuracy_score(y, pred)) if n else None,
        "hamming_loss": float(hamming_loss(y, pred)) if n else None,
        "units_without_gold_labels": int((y.sum(1) == 0).sum()),
        "units_without_predicted_labels": int((pred.sum(1) == 0).sum()),
        # false alarms: units with no gold label that get at least one predicted label
        "false_alarm_units": int(((y.sum(1) == 0) & (pred.sum(1) > 0)).sum()),
        "false_alarm_rate": (float(((y.sum(1) == 0) & (pred.sum(1) > 0)).sum() / (y.sum(1) == 0).sum())
                             if (y.sum(1) == 0).any() else None),
    }
    for key, reason in (("macro_f1", UNDEFINED_EMPTY), ("micro_f1", UNDEFINED_EMPTY),
                        ("micro_precision", UNDEFINED_NO_PREDICTIONS),
                        ("micro_recall", UNDEFINED_NO_POSITIVES), ("weighted_f1", UNDEFINED_NO_POSITIVES)):
        if n and result[key] is None:
            why[key] = reason
    result["undefined"] = why
    return result


def single_label_metrics(y: np.ndarray, p: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy and confusion matrix of a single-label (multi-class) model.

    ``y`` is one-hot gold, ``p`` class probabilities; rows of the confusion matrix are gold
    classes, columns predicted classes, in ``labels`` order.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix

    y = as_matrix("y", y)
    p = as_matrix("p", p)
    _check_same(y, p, "p")
    bad = np.flatnonzero(y.sum(1) != 1)
    if len(bad):
        raise ValueError(f"single-label evaluation needs exactly one gold label per unit; "
                         f"{len(bad)} unit(s) have none or several (rows {bad[:5].tolist()})")
    gold, guess = y.argmax(1), p.argmax(1)
    cm = confusion_matrix(gold, guess, labels=list(range(len(labels)))) if len(gold) else \
        np.zeros((len(labels), len(labels)), dtype=np.int64)
    return {"accuracy": float(accuracy_score(gold, guess)) if len(gold) else None,
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
        y = as_matrix("y", y).astype(bool)
        pred = as_matrix("pred", pred).astype(bool)
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
    y = as_matrix("y", y)
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
    the top class's probability is a forecast of being right. Equal-width bins as scikit-learn's
    :func:`~sklearn.calibration.calibration_curve` makes them (a score on an inner edge falls
    in the lower bin; 1.0 in the last); ``ECE = sum_b n_b/N * |positive rate_b - mean score_b|``.

    Example:
        >>> cal = calibration(np.array([[1], [0]]), np.array([[0.9], [0.1]]), bins=2)
        >>> round(cal["ece"], 3)
        0.1
    """
    from sklearn.calibration import calibration_curve

    y = as_matrix("y", y)
    p = as_matrix("p", p).astype(np.float64)
    _check_same(y, p, "p")
    if single_label:
        conf = p.max(1) if len(p) else np.zeros(0)
        hit = (p.argmax(1) == y.argmax(1)).astype(np.float64) if len(p) else np.zeros(0)
        kind = "top-label confidence vs accuracy"
    else:
        conf, hit = p.ravel(), y.astype(np.float64).ravel()
        kind = "every (unit, label) score vs the gold label"
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], conf)  # calibration_curve's own binning
    counts = np.bincount(which, minlength=bins)
    rates = means = np.zeros(0)
    if len(conf) and len(np.unique(hit)) <= 2:
        rates, means = calibration_curve(hit, np.clip(conf, 0.0, 1.0), n_bins=bins, strategy="uniform")
    out_bins = []
    filled = iter(zip(rates, means))
    ece = 0.0
    for b in range(bins):
        count = int(counts[b])
        rate = mean = None
        if count:
            r, m = next(filled)
            rate, mean = float(r), float(m)
            ece += count / len(conf) * abs(rate - mean)
        out_bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
                         "mean_score": mean, "positive_rate": rate})
    result: dict[str, Any] = {"ece": float(ece) if len(conf) else None, "bins": out_bins,
                              "forecasts": len(conf), "kind": kind}
    if not len(conf):
        result["undefined"] = {"ece": "undefined: no units"}
    return result


def pr_curves(y: np.ndarray, p: np.ndarray, labels: Sequence[str], *,
              max_points: int = 120) -> dict[str, Any]:
    """Precision-recall curve points per label (down-sampled), ``None`` without positives."""
    from sklearn.metrics import precision_recall_curve

    y = as_matrix("y", y).astype(bool)
    p = as_matrix("p", p)
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
    m = as_matrix("m", m).astype(np.int64)
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
    y = as_matrix("y", y).astype(bool)
    p = as_matrix("p", p).astype(np.float64)
    pred = as_matrix("pred", pred).astype(bool)
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
