"""Figures of the evaluation report, drawn from the ``metrics.json`` result alone.

Each function takes the result dict (see :func:`framescope.evaluation.evaluate`) and returns a
``matplotlib.figure.Figure`` (object API only: no pyplot state, no display needed), or ``None``
when there is nothing to draw.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "SYSTEM_COLORS",
    "confusion",
    "cooccurrence",
    "f1_bars",
    "pr_curves",
    "reliability",
    "system_label",
    "system_order",
]

SYSTEM_COLORS = {"model": "#1f6fb4", "baseline": "#e07b18", "cues": "#8a5cb8", "compare": "#2b9a3a"}
SYSTEM_STYLES = {"model": "-", "baseline": "--", "cues": ":", "compare": "-."}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def system_order(result: dict[str, Any]) -> list[str]:
    """System keys present in the result, in display order (model, compare, baselines)."""
    return [k for k in ("model", "compare", "baseline", "cues") if k in result.get("systems", {})]


def _label_name(result: dict[str, Any], lab: str) -> str:
    return str(result.get("label_names", {}).get(lab) or lab)


def system_label(result: dict[str, Any], key: str) -> str:
    """How a system is named in figures and tables."""
    name = result["systems"][key].get("name", key)
    return {"model": f"model: {name}", "compare": f"compare: {name}",
            "baseline": "TF-IDF baseline", "cues": "cue-word baseline"}.get(key, name)


def f1_bars(result: dict[str, Any]) -> Any:
    """Per-label F1 as horizontal grouped bars with 95% bootstrap intervals."""
    import numpy as np

    labels = result["labels"]
    keys = system_order(result)
    n, k = len(labels), len(keys)
    fig = _figure(8.5, max(2.5, 0.42 * n * max(1, k) ** 0.6 + 1.2))
    ax = fig.add_subplot()
    height = 0.8 / k
    y0 = np.arange(n)[::-1]
    for s, key in enumerate(keys):
        per = result["systems"][key]["per_label"]
        ys = y0 + (k - 1 - 2 * s) * height / 2
        for lab, yy in zip(labels, ys):
            entry = per[lab]
            f1 = entry.get("f1")
            if f1 is None:
                ax.text(0.01, yy, "n/a", va="center", fontsize=7, color="#666")
                continue
            ci = entry.get("f1_ci") or {}
            lo, hi = ci.get("low"), ci.get("high")
            xerr = None
            if lo is not None and hi is not None:
                xerr = [[max(0.0, f1 - lo)], [max(0.0, hi - f1)]]
            if f1 < 0.005:
                ax.text(0.01, yy, "0", va="center", fontsize=7, color=SYSTEM_COLORS.get(key, "#888"))
            ax.barh(yy, f1, height=height * 0.9, color=SYSTEM_COLORS.get(key, "#888"),
                    xerr=xerr, error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "#333"},
                    label=system_label(result, key) if lab == labels[0] else None)
    ax.set_yticks(y0, [_label_name(result, lab) for lab in labels], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 (bars: 95% bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Per-label F1")
    ax.legend(loc="lower right", fontsize=8, frameon=True)
    return fig


def pr_curves(result: dict[str, Any]) -> Any:
    """Precision-recall curve per label (small multiples), operating points marked."""
    labels = result["labels"]
    keys = system_order(result)
    cols = min(4, len(labels))
    rows = math.ceil(len(labels) / cols)
    fig = _figure(2.6 * cols + 0.4, 2.35 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for i, lab in enumerate(labels):
        ax = axes[i // cols][i % cols]
        ax.set_title(_label_name(result, lab)[:28], fontsize=8)
        ax.set_xlim(0, 1.01)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        drawn = False
        for key in keys:
            block = result["systems"][key]
            curve = (block.get("pr_curves") or {}).get(lab)
            if not curve:
                continue
            drawn = True
            ap = block["per_label"][lab].get("average_precision")
            ax.plot(curve["recall"], curve["precision"], SYSTEM_STYLES.get(key, "-"),
                    color=SYSTEM_COLORS.get(key, "#888"), lw=1.3,
                    label=f"AP {ap:.2f}" if ap is not None else None)
            entry = block["per_label"][lab]
            if entry.get("recall") is not None and entry.get("precision") is not None:
                ax.plot([entry["recall"]], [entry["precision"]], "o", ms=4,
                        color=SYSTEM_COLORS.get(key, "#888"))
        if drawn:
            ax.legend(fontsize=6, loc="lower left")
        else:
            ax.text(0.5, 0.5, "no positives\n(undefined)", ha="center", va="center",
                    fontsize=8, color="#666", transform=ax.transAxes)
    for j in range(len(labels), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("recall", fontsize=8)
    for row in axes:
        row[0].set_ylabel("precision", fontsize=8)
    names = ", ".join(f"{SYSTEM_STYLES[k]} {system_label(result, k)}" for k in keys)
    fig.suptitle(f"Precision-recall curves (dot: the operating threshold)   {names}", fontsize=9)
    return fig


def reliability(result: dict[str, Any]) -> Any:
    """Reliability diagram (score vs observed rate per bin) with the bin counts underneath."""
    keys = system_order(result)
    fig = _figure(6.2, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], ":", color="#444", lw=1, label="perfect calibration")
    width = 1.0 / 10 / (len(keys) + 1)
    for s, key in enumerate(keys):
        cal = result["systems"][key].get("calibration") or {}
        bins = [b for b in cal.get("bins", []) if b["count"]]
        if not bins:
            continue
        ece = cal.get("ece")
        top.plot([b["mean_score"] for b in bins], [b["positive_rate"] for b in bins], "o" + SYSTEM_STYLES.get(key, "-"),
                 color=SYSTEM_COLORS.get(key, "#888"), ms=4,
                 label=f"{system_label(result, key)} (ECE {ece:.3f})" if ece is not None else key)
        bottom.bar([b["low"] + (s + 0.5) * width for b in cal["bins"]], [b["count"] for b in cal["bins"]],
                   width=width, color=SYSTEM_COLORS.get(key, "#888"), align="edge")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("observed positive rate")
    top.grid(alpha=0.3)
    top.legend(fontsize=7, loc="upper left")
    kind = (result["systems"]["model"].get("calibration") or {}).get("kind", "")
    top.set_title(f"Reliability diagram ({kind})", fontsize=9)
    bottom.set_yscale("log")
    bottom.set_ylabel("count", fontsize=8)
    bottom.set_xlabel("mean predicted score in bin")
    bottom.grid(alpha=0.3)
    return fig


def _heatmap(ax: Any, matrix: Any, names: list[str], title: str, vmax: float) -> Any:
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=max(vmax, 1))
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_title(title, fontsize=9)
    if len(names) <= 16:
        for i in range(len(names)):
            for j in range(len(names)):
                v = int(m[i, j])
                ax.text(j, i, str(v), ha="center", va="center", fontsize=6,
                        color="white" if v > 0.6 * vmax else "#222")
    return im


def cooccurrence(result: dict[str, Any]) -> Any:
    """Label co-occurrence counts: gold next to the model's predictions (diagonal = counts)."""
    import numpy as np

    labels = result["labels"]
    if len(labels) < 2:
        return None
    names = [_label_name(result, lab)[:22] for lab in labels]
    gold = result["gold"]["cooccurrence"]
    pred = result["systems"]["model"]["cooccurrence_predicted"]
    vmax = float(max(np.max(gold), np.max(pred), 1))
    side = 3.0 + 0.38 * len(labels)
    fig = _figure(2 * side + 0.8, side + 0.3)
    a, b = fig.subplots(1, 2)
    _heatmap(a, gold, names, "gold labels", vmax)
    im = _heatmap(b, pred, names, f"predicted ({result['systems']['model']['name']})", vmax)
    fig.colorbar(im, ax=[a, b], shrink=0.6, label="units with both labels")
    return fig


def confusion(result: dict[str, Any]) -> Any:
    """Confusion matrix of a single-label model (rows gold, columns predicted)."""
    overall = result["systems"]["model"]["overall"]
    cm = overall.get("confusion_matrix")
    if not cm:
        return None
    import numpy as np

    names = [_label_name(result, lab)[:22] for lab in overall["confusion_labels"]]
    side = 3.0 + 0.4 * len(names)
    fig = _figure(side + 1, side)
    ax = fig.add_subplot()
    im = _heatmap(ax, cm, names, "confusion matrix (rows: gold, columns: predicted)",
                  float(np.max(cm)))
    fig.colorbar(im, ax=ax, shrink=0.7)
    return fig
