"""Inter-annotator agreement per label: percent agreement, Cohen's kappa, Krippendorff's alpha.

Each label is a yes/no judgement per task and annotator. A task counts for a label's agreement
when at least two annotators submitted a label set for it (a cancelled or missing answer is
missing data, not a "no").

* **percent agreement**: the share of those tasks on which every annotator made the same call.
* **Cohen's kappa** (``sklearn.metrics.cohen_kappa_score``): only when the whole import has
  exactly two annotators, over the tasks both answered; ``(p_o - p_e) / (1 - p_e)``.
* **Krippendorff's alpha**, nominal (the ``krippendorff`` package): any number of annotators,
  missing answers allowed; ``1 - D_o / D_e`` over the coincidence matrix.

A value that is undefined on the data (no variation at all, fewer than two tasks) is ``None``
with the reason, never a silent ``NaN`` (as in :mod:`framescope.metrics`). Single-label imports
also get one overall nominal kappa and alpha over the label ids.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["AgreementReport", "LabelAgreement", "agreement", "format_agreement"]

UNDEFINED_NO_PAIRS = "undefined: no task was answered by two or more annotators"
UNDEFINED_NOT_TWO = "Cohen's kappa needs exactly two annotators; {n} answered (see Krippendorff's alpha)"
UNDEFINED_NO_VARIATION = "undefined: every answer was the same (no variation to agree on)"


@dataclass
class LabelAgreement:
    """Agreement on one label (or, for ``label == "*"``, on a single-label import's choice).

    Attributes:
        label: the label id.
        tasks: tasks answered by two or more annotators (the units that can show agreement).
        positive_votes: how many answers chose the label, over those tasks (for ``"*"``: how
            many answers there were).
        percent_agreement: share of those tasks where all annotators made the same call.
        cohen_kappa, krippendorff_alpha: ``None`` when undefined; ``reasons`` says why.
    """

    label: str
    tasks: int
    positive_votes: int
    percent_agreement: float | None
    cohen_kappa: float | None
    krippendorff_alpha: float | None
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass
class AgreementReport:
    """Per-label agreement, the annotators seen and a few overall figures."""

    annotators: list[str]
    labels: list[LabelAgreement]
    overall: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--agreement FILE.json`` holds)."""
        return {"annotators": self.annotators, "n_annotators": len(self.annotators),
                "overall": self.overall, "labels": [asdict(row) for row in self.labels]}


def _kappa(a: np.ndarray, b: np.ndarray) -> tuple[float | None, str | None]:
    from sklearn.metrics import cohen_kappa_score

    if len(a) < 2:
        return None, "undefined: fewer than two tasks answered by both annotators"
    if len(set(a.tolist()) | set(b.tolist())) < 2:
        return None, UNDEFINED_NO_VARIATION
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(cohen_kappa_score(a, b))
    if math.isnan(value):
        return None, "undefined: chance agreement is 1 (each annotator gave one value throughout)"
    return value, None


def _alpha(matrix: np.ndarray) -> tuple[float | None, str | None]:
    """Nominal alpha of an ``(annotators, tasks)`` matrix with NaN for missing answers."""
    import krippendorff

    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if not pairable.any():
        return None, UNDEFINED_NO_PAIRS
    values = matrix[:, pairable]
    if len(np.unique(values[~np.isnan(values)])) < 2:
        return None, UNDEFINED_NO_VARIATION
    try:
        value = float(krippendorff.alpha(reliability_data=values, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError) as exc:
        return None, f"undefined: {exc}"
    if math.isnan(value):
        return None, UNDEFINED_NO_VARIATION
    return value, None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def agreement(tasks: Sequence[Mapping[str, Sequence[str]]], labels: Sequence[str], *,
              single_label: bool = False) -> AgreementReport:
    """Agreement per label over tasks, each a mapping annotator -> the labels they chose.

    Args:
        tasks: one mapping per task of the annotators' submitted label sets (``[]`` = "no
            frame"); annotators who did not answer are simply absent.
        labels: the label ids to report (the taxonomy's order).
        single_label: also report one overall nominal kappa/alpha over the label ids (each
            answer must then hold one label).

    Returns:
        An :class:`AgreementReport`; values rounded to 6 decimals.

    Example:
        >>> r = agreement([{"x": ["a"], "y": ["a"]}, {"x": [], "y": ["a"]}, {"x": [], "y": []}],
        ...               ["a"])
        >>> r.labels[0].tasks, round(r.labels[0].percent_agreement, 3), r.labels[0].cohen_kappa
        (3, 0.667, 0.4)
    """
    annotators = sorted({a for task in tasks for a in task})
    who = {a: i for i, a in enumerate(annotators)}
    pairable = [t for t in tasks if len(t) >= 2]
    rows: list[LabelAgreement] = []
    kappas: list[float] = []
    alphas: list[float] = []
    for label in labels:
        matrix = np.full((len(annotators), len(tasks)), np.nan)
        for j, task in enumerate(tasks):
            for a, chosen in task.items():
                matrix[who[a], j] = 1.0 if label in chosen else 0.0
        reasons: dict[str, str] = {}
        same = sum(1 for t in pairable if len({label in chosen for chosen in t.values()}) == 1)
        votes = sum(1 for t in pairable for chosen in t.values() if label in chosen)
        percent = same / len(pairable) if pairable else None
        if percent is None:
            reasons["percent_agreement"] = UNDEFINED_NO_PAIRS
        kappa, alpha = _kappa_alpha(matrix, reasons)
        kappas += [kappa] if kappa is not None else []
        alphas += [alpha] if alpha is not None else []
        rows.append(LabelAgreement(label, len(pairable), votes, _rounded(percent), _rounded(kappa),
                                   _rounded(alpha), reasons))
    exact = sum(1 for t in pairable if len({frozenset(c) for c in t.values()}) == 1)
    overall: dict[str, Any] = {
        "tasks": len(tasks), "tasks_with_2_or_more": len(pairable),
        "exact_set_agreement": _rounded(exact / len(pairable)) if pairable else None,
        "mean_cohen_kappa": _rounded(float(np.mean(kappas))) if kappas else None,
        "mean_krippendorff_alpha": _rounded(float(np.mean(alphas))) if alphas else None,
        "labels_averaged": {"cohen_kappa": len(kappas), "krippendorff_alpha": len(alphas)},
    }
    if single_label:
        overall["single_label"] = asdict(_single_label(tasks, labels, annotators, pairable))
    return AgreementReport(annotators, rows, overall)


def _single_label(tasks: Sequence[Mapping[str, Sequence[str]]], labels: Sequence[str],
                  annotators: list[str], pairable: list) -> LabelAgreement:
    """Nominal agreement on the one label each annotator chose."""
    code = {lab: float(i) for i, lab in enumerate(labels)}
    who = {a: i for i, a in enumerate(annotators)}
    matrix = np.full((len(annotators), len(tasks)), np.nan)
    for j, task in enumerate(tasks):
        for a, chosen in task.items():
            if len(chosen) == 1 and chosen[0] in code:
                matrix[who[a], j] = code[chosen[0]]
    same = sum(1 for t in pairable if len({tuple(c) for c in t.values()}) == 1)
    reasons: dict[str, str] = {}
    kappa, alpha = _kappa_alpha(matrix, reasons)
    return LabelAgreement("*", len(pairable), sum(len(t) for t in pairable),
                          _rounded(same / len(pairable)) if pairable else None, _rounded(kappa),
                          _rounded(alpha), reasons)


def format_agreement(report: AgreementReport) -> str:
    """A short fixed-width table: label, tasks, % agreement, kappa, alpha.

    Example:
        >>> print(format_agreement(agreement([{"x": ["a"], "y": ["a"]}], ["a"])).splitlines()[1])
        a          1   100.0%        -        -
    """
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    width = max([len("label"), *(len(r.label) for r in report.labels)])
    lines = [f"{'label':<{width}}  tasks  agree%    kappa    alpha"]
    for r in report.labels:
        pct = "-" if r.percent_agreement is None else f"{100 * r.percent_agreement:.1f}%"
        lines.append(f"{r.label:<{width}}  {r.tasks:>5}  {pct:>7}  {num(r.cohen_kappa):>7}  "
                     f"{num(r.krippendorff_alpha):>7}")
    o = report.overall
    lines.append(f"{len(report.annotators)} annotator(s); {o['tasks_with_2_or_more']} of "
                 f"{o['tasks']} task(s) answered by two or more; exact label-set agreement "
                 f"{num(o['exact_set_agreement'])}; mean kappa {num(o['mean_cohen_kappa'])}, "
                 f"mean alpha {num(o['mean_krippendorff_alpha'])}")
    return "\n".join(lines)


def _kappa_alpha(matrix: np.ndarray, reasons: dict[str, str]) -> tuple[float | None, float | None]:
    """Cohen's kappa (two annotators only) and Krippendorff's alpha of an annotators × tasks
    matrix (NaN = no answer); why either is undefined goes into ``reasons``."""
    kappa, why = None, UNDEFINED_NOT_TWO.format(n=matrix.shape[0])
    if matrix.shape[0] == 2:
        both = ~np.isnan(matrix).any(axis=0)
        kappa, why = _kappa(matrix[0, both], matrix[1, both])
    if why:
        reasons["cohen_kappa"] = why
    alpha, why = _alpha(matrix)
    if why:
        reasons["krippendorff_alpha"] = why
    return kappa, alpha
