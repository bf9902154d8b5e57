"""The evaluation report: ``report.md`` and a self-contained ``report.html`` rendered from the
``metrics.json`` result with the Jinja2 templates ``templates/evaluation.{md,html}.j2``.

Nothing here recomputes a metric: :func:`build_view` only formats what the result holds, so the
reports always agree with ``metrics.json``. Figures are PNGs written to ``figures/`` (linked from
the Markdown) and embedded as ``data:`` URIs in the HTML (no network, no external files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from framescope.reports.html import bytes_to_data_uri, figure_to_png, template_env

__all__ = ["build_figures", "build_view", "fmt", "render_from_json", "render_reports"]

TEMPLATES = Path(__file__).parent / "templates"
METRIC_NAMES = {
    "macro_f1": "Macro-F1", "micro_f1": "Micro-F1", "weighted_f1": "Weighted F1",
    "samples_f1": "Samples F1", "micro_precision": "Micro precision", "micro_recall": "Micro recall",
    "macro_precision": "Macro precision", "macro_recall": "Macro recall",
    "subset_accuracy": "Subset accuracy (exact match)", "hamming_loss": "Hamming loss",
    "accuracy": "Accuracy", "ece": "Expected calibration error",
}
FIGURES = {
    "f1_bars": ("Per-label F1", "F1 per label with 95% bootstrap intervals (whole articles resampled)."),
    "pr_curves": ("Precision-recall curves", "One panel per label; the dot is the operating threshold."),
    "reliability": ("Reliability diagram", "Mean predicted score against the observed positive rate "
                    "per score bin; the diagonal is perfect calibration."),
    "cooccurrence": ("Label co-occurrence", "How often two labels are on the same unit, in the gold "
                     "labels and in the model's predictions (diagonal: label counts)."),
    "confusion": ("Confusion matrix", "Single-label model: gold classes in rows, predictions in columns."),
}


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a report cell: fixed decimals, ``n/a`` for ``None``.

    Example:
        >>> fmt(0.71234), fmt(None), fmt(12)
        ('0.712', 'n/a', '12')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _ci_text(ci: dict[str, Any] | None) -> str:
    if not ci or ci.get("low") is None or ci.get("high") is None:
        return ""
    return f"{ci['low']:.3f}–{ci['high']:.3f}"


def _pval(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _cell(value: Any, why: str | None = None, ci: dict[str, Any] | None = None,
          digits: int = 3) -> dict[str, Any]:
    return {"text": fmt(value, digits), "ci": _ci_text(ci), "why": why if value is None else None}


def build_view(result: dict[str, Any]) -> dict[str, Any]:
    """Everything the templates show, formatted, from the result dict alone."""
    from framescope.reports.plots import system_label, system_order

    keys = system_order(result)
    systems = result["systems"]
    labels: list[str] = result["labels"]
    names = result.get("label_names", {})

    def sys_label(key: str) -> str:
        return system_label(result, key)

    heads = [{"key": k, "label": sys_label(k)} for k in keys]

    overall_rows = []
    metrics = ["macro_f1", "micro_f1", "weighted_f1", "samples_f1", "micro_precision", "micro_recall",
               "subset_accuracy", "hamming_loss"]
    if result.get("single_label"):
        metrics.insert(0, "accuracy")
    for m in metrics:
        cells = []
        for k in keys:
            ov = systems[k]["overall"]
            ci = systems[k].get("intervals", {}).get(m) if m in ("macro_f1", "micro_f1", "samples_f1") else None
            cells.append(_cell(ov.get(m), (ov.get("undefined") or {}).get(m), ci))
        overall_rows.append({"name": METRIC_NAMES.get(m, m), "key": m, "cells": cells})
    cells = []
    for k in keys:
        cal = systems[k].get("calibration") or {}
        cells.append(_cell(cal.get("ece"), (cal.get("undefined") or {}).get("ece")))
    overall_rows.append({"name": METRIC_NAMES["ece"], "key": "ece", "cells": cells})

    label_rows = []
    undefined_notes: list[str] = []
    for lab in labels:
        row = {"id": lab, "name": names.get(lab, lab), "support": result["gold"]["support"].get(lab, 0),
               "systems": []}
        for k in keys:
            e = systems[k]["per_label"][lab]
            why = e.get("undefined") or {}
            row["systems"].append({
                "key": k,
                "precision": _cell(e.get("precision"), why.get("precision")),
                "recall": _cell(e.get("recall"), why.get("recall")),
                "f1": _cell(e.get("f1"), why.get("f1"), e.get("f1_ci")),
                "roc_auc": _cell(e.get("roc_auc"), why.get("roc_auc")),
                "average_precision": _cell(e.get("average_precision"), why.get("average_precision")),
                "threshold": fmt(e.get("threshold"), 2),
                "threshold_source": e.get("threshold_source", ""),
                "predicted": e.get("predicted"),
                "ece": fmt(e.get("ece")),
            })
            grouped: dict[str, list[str]] = {}
            for metric, reason in why.items():
                grouped.setdefault(reason, []).append(metric.replace("_", " "))
            for reason, ms in grouped.items():
                undefined_notes.append(f"{names.get(lab, lab)} ({sys_label(k)}): {', '.join(ms)} — {reason}")
        label_rows.append(row)
    for k in keys:
        excluded = systems[k]["overall"].get("macro_f1_excluded") or {}
        if excluded:
            undefined_notes.append(f"Macro-F1 of {sys_label(k)} averages {len(labels) - len(excluded)} "
                                   f"of {len(labels)} labels; left out ({'; '.join(excluded.values())}): "
                                   f"{', '.join(names.get(x, x) for x in excluded)}")

    comparisons = [{
        "a": sys_label(c["a"]), "b": sys_label(c["b"]), "metric": METRIC_NAMES.get(c["metric"], c["metric"]),
        "a_value": fmt(c.get("value_a")), "b_value": fmt(c.get("value_b")),
        "difference": "n/a" if c.get("difference") is None else f"{c['difference']:+.3f}",
        "ci": _ci_text(c.get("interval")), "p_value": _pval(c.get("p_value")),
        "significant": c.get("p_value") is not None and c["p_value"] < 0.05,
        "note": c.get("note"),
    } for c in result.get("comparisons", [])]

    model = systems["model"]
    ov = model["overall"]
    headline = (f"Macro-F1 {fmt(ov.get('macro_f1'))}"
                + (f" (95% CI {_ci_text(model['intervals']['macro_f1'])})" if _ci_text(model['intervals']['macro_f1']) else "")
                + f", micro-F1 {fmt(ov.get('micro_f1'))}"
                + (f" (95% CI {_ci_text(model['intervals']['micro_f1'])})" if _ci_text(model['intervals']['micro_f1']) else "")
                + f" on {result['data']['units']} {result['settings']['level']}s")
    if "baseline" in systems:
        b = systems["baseline"]["overall"]
        test = next((c for c in result.get("comparisons", []) if c["b"] == "baseline"
                     and c["metric"] == "macro_f1"), None)
        headline += f"; TF-IDF baseline macro-F1 {fmt(b.get('macro_f1'))}"
        if test and test.get("difference") is not None:
            headline += f" (difference {test['difference']:+.3f}, paired bootstrap p {_pval(test['p_value'])})"
    if "cues" in systems:
        headline += f"; cue-word baseline macro-F1 {fmt(systems['cues']['overall'].get('macro_f1'))}"
    headline += "."

    errors = []
    for e in model.get("errors", []):
        errors.append({**e, "score_text": fmt(e["score"]), "threshold_text": fmt(e["threshold"], 2),
                       "label_name": names.get(e["label"], e["label"]),
                       "gold_text": ", ".join(names.get(x, x) for x in e["gold"]) or "(none)",
                       "predicted_text": ", ".join(names.get(x, x) for x in e["predicted"]) or "(none)"})

    base_info = systems.get("baseline", {}).get("baseline")
    data = dict(result["data"])
    data.setdefault("cut_records", data.get("segmented_records", 0))  # the name before 0.2
    return {
        "title": f"Evaluation of {model['name']}",
        "headline": headline, "heads": heads, "overall_rows": overall_rows, "label_rows": label_rows,
        "undefined_notes": undefined_notes, "comparisons": comparisons, "errors": errors,
        "baseline": base_info, "baseline_skipped": result.get("baseline_skipped"),
        "notes": result.get("notes", []), "data": data, "model": result["model"],
        "settings": result["settings"], "versions": result["versions"],
        "command": " ".join(result.get("command") or []), "created": result.get("created", ""),
        "single_label": result.get("single_label", False),
        "confusion": ov.get("confusion_matrix"), "confusion_labels": ov.get("confusion_labels"),
        "units_without_labels": result["gold"].get("units_without_labels"),
    }


def build_figures(result: dict[str, Any]) -> dict[str, Any]:
    """The report's matplotlib figures by name (``None`` entries dropped)."""
    from framescope.reports import plots

    figs = {"f1_bars": plots.f1_bars(result), "pr_curves": plots.pr_curves(result),
            "reliability": plots.reliability(result), "cooccurrence": plots.cooccurrence(result)}
    if result.get("single_label"):
        figs["confusion"] = plots.confusion(result)
    return {k: v for k, v in figs.items() if v is not None}


def _env(kind: str) -> Any:
    return template_env(TEMPLATES, kind)


def render_reports(result: dict[str, Any], out: str | Path, *, figures: bool = True) -> dict[str, Path]:
    """Write ``figures/*.png``, ``report.md`` and ``report.html`` for ``result`` into ``out``.

    Returns the written paths by name (``report_md``, ``report_html``, ``figure_NAME``).
    """
    from framescope.data.io import atomic_path, atomic_write_text

    out = Path(out)
    view = build_view(result)
    written: dict[str, Path] = {}
    figs = []
    if figures:
        for name, fig in build_figures(result).items():
            png = figure_to_png(fig, dpi=110)
            path = out / "figures" / f"{name}.png"
            with atomic_path(path, suffix=".png") as tmp:
                tmp.write_bytes(png)
            written[f"figure_{name}"] = path
            title, caption = FIGURES[name]
            figs.append({"name": name, "title": title, "caption": caption,
                         "file": f"figures/{name}.png", "uri": bytes_to_data_uri(png)})
    view["figures"] = figs
    md = _env("md").get_template("evaluation.md.j2").render(v=view, r=result)
    html = _env("html").get_template("evaluation.html.j2").render(v=view, r=result)
    written["report_md"] = out / "report.md"
    written["report_html"] = out / "report.html"
    atomic_write_text(written["report_md"], md)
    atomic_write_text(written["report_html"], html)
    return written


def render_from_json(metrics_path: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Re-render the reports from a saved ``metrics.json`` (e.g. after a template change)."""
    metrics_path = Path(metrics_path)
    result = json.loads(metrics_path.read_text(encoding="utf-8"))
    return render_reports(result, out if out is not None else metrics_path.parent)
