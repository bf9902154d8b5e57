"""Metric values against hand-computed cases, bootstrap intervals, paired tests, calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from framescope import metrics as M
from framescope.thresholds import tune_thresholds

LABELS = ["a", "b", "c"]
# rows: unit 0..3; columns a, b, c (c has no gold positives)
Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
P = np.array([[0.9, 0.2, 0.1], [0.4, 0.8, 0.2], [0.6, 0.7, 0.3], [0.1, 0.1, 0.7]])
PRED = P >= 0.5   # a: TP row0, FN row1, FP row2; b: 2 TP; c: FP row3


def test_per_label_hand_computed() -> None:
    m = M.per_label_metrics(Y, P, PRED, LABELS, thresholds=[0.5] * 3,
                            threshold_sources=["tuned", "default", "default"])
    a, b, c = m["a"], m["b"], m["c"]
    assert (a["tp"], a["fp"], a["fn"], a["support"], a["predicted"]) == (1, 1, 1, 2, 2)
    assert a["precision"] == pytest.approx(0.5) and a["recall"] == pytest.approx(0.5)
    assert a["f1"] == pytest.approx(0.5)
    # a: positives 0.9, 0.4; negatives 0.6, 0.1 -> 3 of 4 pairs ordered correctly
    assert a["roc_auc"] == pytest.approx(0.75)
    # ranking 0.9 (+), 0.6 (-), 0.4 (+): AP = 0.5 * 1 + 0.5 * 2/3
    assert a["average_precision"] == pytest.approx(0.5 + 1 / 3)
    assert b["f1"] == pytest.approx(1.0) and b["roc_auc"] == pytest.approx(1.0)
    assert a["threshold"] == 0.5 and a["threshold_source"] == "tuned"
    # c: no gold positives but one false alarm -> F1 and precision 0, recall/AUC/AP undefined
    assert c["support"] == 0 and c["precision"] == 0.0 and c["f1"] == 0.0
    assert c["recall"] is None and c["roc_auc"] is None and c["average_precision"] is None
    assert c["undefined"]["recall"] == M.UNDEFINED_NO_POSITIVES
    assert c["undefined"]["roc_auc"].startswith("undefined: no positives")
    json.dumps(m, allow_nan=False)  # no NaN anywhere


def test_label_with_no_positives_and_no_predictions_is_null_not_nan() -> None:
    pred = PRED.copy()
    pred[:, 2] = False
    m = M.per_label_metrics(Y, P, pred, LABELS)
    assert m["c"]["f1"] is None and m["c"]["precision"] is None
    assert m["c"]["undefined"]["f1"] == M.UNDEFINED_EMPTY
    o = M.overall_metrics(Y, pred, LABELS)
    assert o["macro_f1"] == pytest.approx((0.5 + 1.0) / 2)
    assert o["macro_f1_labels"] == ["a", "b"] and list(o["macro_f1_excluded"]) == ["c"]
    json.dumps(o, allow_nan=False)


def test_overall_hand_computed() -> None:
    o = M.overall_metrics(Y, PRED, LABELS)
    assert o["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    # pooled: TP 3, FP 2, FN 1
    assert o["micro_f1"] == pytest.approx(6 / 9)
    assert o["micro_precision"] == pytest.approx(3 / 5) and o["micro_recall"] == pytest.approx(3 / 4)
    assert o["weighted_f1"] == pytest.approx((0.5 * 2 + 1.0 * 2) / 4)
    # per unit: 1, 2/3, 2/3, 0 (gold none, predicted c)
    assert o["samples_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3 + 0) / 4)
    assert o["subset_accuracy"] == pytest.approx(0.25)
    assert o["hamming_loss"] == pytest.approx(3 / 12)
    assert o["units_without_gold_labels"] == 1


def test_overall_matches_scikit_learn() -> None:
    from sklearn.metrics import f1_score, hamming_loss

    rng = np.random.default_rng(3)
    y = rng.random((300, 6)) < 0.3
    pred = rng.random((300, 6)) < 0.35
    o = M.overall_metrics(y, pred, list("abcdef"))
    for avg in ("macro", "micro", "weighted"):
        assert o[f"{avg}_f1"] == pytest.approx(f1_score(y, pred, average=avg))
    assert o["samples_f1"] == pytest.approx(f1_score(y, pred, average="samples", zero_division=1.0))
    assert o["hamming_loss"] == pytest.approx(hamming_loss(y, pred))


def test_empty_unit_scores_one_in_samples_f1() -> None:
    o = M.overall_metrics(np.zeros((2, 2), bool), np.zeros((2, 2), bool), ["x", "y"])
    assert o["samples_f1"] == 1.0
    assert o["macro_f1"] is None and o["micro_f1"] is None
    assert o["undefined"]["macro_f1"] == M.UNDEFINED_EMPTY


def test_single_label_accuracy_and_confusion() -> None:
    y = np.eye(3)[[0, 0, 1, 2, 2]]
    p = np.eye(3)[[0, 1, 1, 2, 0]] * 0.8 + 0.05
    s = M.single_label_metrics(y, p, LABELS)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    with pytest.raises(ValueError, match="exactly one gold label"):
        M.single_label_metrics(np.array([[1, 1, 0]]), np.array([[0.3, 0.3, 0.4]]), LABELS)


def test_tune_thresholds_hand_case_and_fallback() -> None:
    y = np.array([[1, 1], [1, 0], [0, 0], [0, 0], [1, 0]])
    p = np.array([[0.9, 0.9], [0.7, 0.1], [0.6, 0.2], [0.2, 0.3], [0.5, 0.4]])
    t, src = tune_thresholds(y, p, min_positives=3, default=0.5)
    # label 0: cut at 0.5 catches all 3 positives with 1 FP (F1 6/7); cut at 0.7 gives 2/3 (F1 0.8)
    assert src == ["tuned", "default"]
    assert t[0] == pytest.approx((0.5 + 0.2) / 2)
    assert t[1] == 0.5
    # the tuned threshold reproduces the best F1 on the tuning data
    pred = p[:, 0] >= t[0]
    assert M.overall_metrics(y[:, :1], pred[:, None], ["x"])["micro_f1"] == pytest.approx(6 / 7)
    with pytest.raises(ValueError, match="min_positives"):
        tune_thresholds(y, p, min_positives=0)
    with pytest.raises(ValueError, match="shape"):
        tune_thresholds(y, p[:, :1])


def test_tune_thresholds_prefers_fewer_alarms_on_ties() -> None:
    y = np.array([[1], [1], [0]])
    p = np.array([[0.9], [0.8], [0.1]])
    t, _ = tune_thresholds(y, p, min_positives=1)
    assert 0.1 < t[0] <= 0.8


def _toy(n_groups: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = rng.random((n_groups * 3, 4)) < 0.4
    flip = rng.random(y.shape) < 0.2
    pred = y ^ flip
    groups = [f"g{i // 3}" for i in range(len(y))]
    return y, pred, groups


def test_bootstrap_interval_contains_point_and_shrinks() -> None:
    y, pred, groups = _toy(30)
    point = M.overall_metrics(y, pred, list("abcd"))
    small = M.bootstrap_intervals(y, pred, list("abcd"), groups=groups, n_boot=1000, seed=1)
    for m in ("macro_f1", "micro_f1"):
        assert small[m]["low"] <= point[m] <= small[m]["high"]
    assert small["n_boot"] == 1000 and small["groups"] == 30
    y4, pred4, groups4 = _toy(480, seed=2)
    big = M.bootstrap_intervals(y4, pred4, list("abcd"), groups=groups4, n_boot=1000, seed=1)
    width = lambda ci: ci["high"] - ci["low"]  # noqa: E731
    assert width(big["macro_f1"]) < width(small["macro_f1"]) / 2
    assert width(big["per_label_f1"]["a"]) < width(small["per_label_f1"]["a"])


def test_bootstrap_is_seeded_and_groups_matter() -> None:
    y, pred, groups = _toy(40)
    a = M.bootstrap_intervals(y, pred, list("abcd"), groups=groups, seed=7)
    b = M.bootstrap_intervals(y, pred, list("abcd"), groups=groups, seed=7)
    assert a == b
    # singleton groups are the same as no groups
    ids = [str(i) for i in range(len(y))]
    assert M.bootstrap_intervals(y, pred, list("abcd"), groups=ids, seed=3) == \
        M.bootstrap_intervals(y, pred, list("abcd"), seed=3)
    # whole-article resampling: duplicating every unit inside its article widens nothing
    # compared with counting the copies as independent units
    y2, pred2 = np.repeat(y, 2, axis=0), np.repeat(pred, 2, axis=0)
    grouped = M.bootstrap_intervals(y2, pred2, list("abcd"), groups=np.repeat(groups, 2).tolist())
    naive = M.bootstrap_intervals(y2, pred2, list("abcd"))
    w = lambda ci: ci["macro_f1"]["high"] - ci["macro_f1"]["low"]  # noqa: E731
    assert w(grouped) > w(naive)


def test_bootstrap_label_without_positives_is_noted_not_nan() -> None:
    y, pred, groups = _toy(20)
    y[:, 3] = False
    pred[:, 3] = False
    ci = M.bootstrap_intervals(y, pred, list("abcd"), groups=groups, n_boot=200)
    assert ci["per_label_f1"]["d"]["low"] is None and ci["per_label_f1"]["d"]["resamples_defined"] == 0
    assert "undefined" in ci["per_label_f1"]["d"]["note"]
    json.dumps(ci, allow_nan=False)


def test_paired_bootstrap() -> None:
    y, pred, groups = _toy(60)
    same = M.paired_bootstrap(y, pred, pred.copy(), groups=groups)
    assert same["difference"] == 0 and same["p_value"] == 1.0
    worse = pred.copy()
    rng = np.random.default_rng(5)
    worse ^= rng.random(worse.shape) < 0.3
    test = M.paired_bootstrap(y, pred, worse, groups=groups, n_boot=1000)
    assert 0 < test["p_value"] <= 1
    assert test["difference"] > 0 and test["p_value"] < 0.01
    assert test["interval"]["low"] <= test["difference"] <= test["interval"]["high"]
    slightly = pred.copy()
    slightly[0] ^= True
    close = M.paired_bootstrap(y, pred, slightly, groups=groups)
    assert 0 <= close["p_value"] <= 1 and close["p_value"] > 0.05


def test_calibration_hand_computed() -> None:
    y = np.array([[1], [0], [1], [0]])
    p = np.array([[0.95], [0.85], [0.15], [0.05]])
    cal = M.calibration(y, p, bins=2)
    # bin [0, .5): scores .15, .05 (mean .10), 1 positive of 2; bin [.5, 1]: mean .90, rate .5
    assert cal["bins"][0]["count"] == 2 and cal["bins"][0]["positive_rate"] == 0.5
    assert cal["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    perfect = M.calibration(np.array([[1], [0]]), np.array([[1.0], [0.0]]))
    assert perfect["ece"] == pytest.approx(0.0)
    assert perfect["bins"][-1]["count"] == 1  # a score of exactly 1.0 lands in the last bin
    single = M.calibration(np.eye(2)[[0, 1]], np.array([[0.8, 0.2], [0.6, 0.4]]), single_label=True)
    assert single["forecasts"] == 2 and single["ece"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.6)


def test_confident_errors_order() -> None:
    errs = M.confident_errors(Y, P, PRED, LABELS, k=5)
    assert [(e["row"], e["label"], e["kind"]) for e in errs] == [
        (3, "c", "FP"), (1, "a", "FN"), (2, "a", "FP")]   # 0.7, then a tie at 0.6 (by row)
    assert errs[1]["confidence"] == pytest.approx(0.6) and errs[1]["score"] == pytest.approx(0.4)


def test_pr_curves_and_cooccurrence() -> None:
    curves = M.pr_curves(Y, P, LABELS)
    assert curves["c"] is None and curves["a"]["recall"][0] == 1.0
    assert M.cooccurrence(Y) == [[2, 1, 0], [1, 2, 0], [0, 0, 0]]
