"""``framescope evaluate``: score a model on labelled data and write metrics.json + reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from framescope.commands.common import add_error_args, add_input_args, read_options

DESCRIPTION = """\
Evaluate a framescope model on labelled data. Writes, into --out:
  metrics.json   every number (per-label P/R/F1/support/ROC-AUC/AP/threshold, micro/macro/
                 weighted/samples F1, subset accuracy, Hamming loss, 95% bootstrap intervals,
                 calibration, PR curves, co-occurrence, the most confident errors), with model and
                 data fingerprints, library versions and this command line;
  report.md      the same as a Markdown report (figures in figures/*.png);
  report.html    a self-contained HTML report (figures embedded, no network).
A TF-IDF + logistic-regression baseline is trained on the model's own training data (paths
recorded in the artifact) and reported side by side, with a paired bootstrap test."""

EPILOG = """\
examples:
  framescope evaluate --model models/default --data data/seed/test.jsonl --out reports/default
  framescope evaluate --model models/frames --data ../shared/data/semeval2023-t3-frames \\
      --split dev --level article --aggregate noisy-or --baseline none
  framescope evaluate --model models/new --compare models/default --data data/seed/test.jsonl
  framescope evaluate --render reports/default/metrics.json     (re-render the reports only)
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    p = sub.add_parser("evaluate", help="evaluate a model: metrics.json, report.md, report.html",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default"),
                   help="model folder (default: models/default)")
    p.add_argument("--data", nargs="+", default=[], metavar="PATH",
                   help="labelled files, folders or globs (default: the test data recorded in "
                        "the model)")
    p.add_argument("--split", default=None,
                   help="keep only records of this split (e.g. dev for a SemEval folder)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: reports/MODEL_NAME)")
    p.add_argument("--level", choices=("passage", "article"), default="passage",
                   help="passage: every record is scored against its own labels (default); "
                        "article: records grouped by article_id, gold = union of their labels, "
                        "passage scores aggregated")
    p.add_argument("--aggregate", choices=("max", "noisy-or", "mean"), default=None,
                   help="how passage scores make an article (or long record) score: max, "
                        "noisy-or = 1 - prod(1 - p) or mean (default: the model's rule: the one a "
                        "train --record-loss noisy-or|mean model was trained on, else max for "
                        "multi-label models, mean for single-label ones)")
    p.add_argument("--compare", type=Path, default=None, metavar="MODEL",
                   help="a second model scored on the same data, with a paired bootstrap p-value "
                        "for the macro-F1 difference")
    p.add_argument("--baseline", nargs="+", choices=("tfidf", "cues", "none"), default=None,
                   help="baselines to require: tfidf (TF-IDF + logistic regression trained on the "
                        "model's training data) and/or cues (cue-word matching from the taxonomy "
                        "file); none skips both (default: run each one that can run, else skip "
                        "it with a note)")
    p.add_argument("--baseline-train", nargs="+", default=[], metavar="PATH",
                   help="train the baseline on these files instead of the model's recorded "
                        "training data")
    p.add_argument("--baseline-dev", nargs="+", default=[], metavar="PATH",
                   help="tune the baseline's thresholds on these files")
    p.add_argument("--labels-map", type=Path, default=None, metavar="FILE",
                   help="JSON/YAML mapping data labels to model labels, e.g. "
                        '{"Economic": "economic_cost", "Other": null} (null drops a label)')
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="inference batch size (default 64)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="inference precision; auto uses bf16 only where the CPU has native bf16")
    p.add_argument("--top-errors", type=int, default=20, metavar="K",
                   help="most confident errors to list (default 20)")
    p.add_argument("--no-reports", action="store_true", help="write metrics.json only")
    p.add_argument("--render", type=Path, default=None, metavar="METRICS_JSON",
                   help="only re-render report.md/report.html from an existing metrics.json")
    add_input_args(p)
    add_error_args(p)
    p.set_defaults(func=cmd_evaluate)


def _f(value: Any) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def print_summary(result: dict[str, Any], paths: dict[str, Path], out: Any = None) -> None:
    """One screen: overall scores with intervals, per-label F1 side by side, tests, files."""
    w = (out or sys.stdout).write
    systems = result["systems"]
    keys = [k for k in ("model", "compare", "baseline", "cues") if k in systems]
    short = {"model": result["systems"]["model"]["name"][:14], "compare": systems.get("compare", {}).get("name", "")[:14],
             "baseline": "tfidf", "cues": "cues"}
    d = result["data"]
    w(f"\n{result['systems']['model']['name']} on {d['units']} {result['settings']['level']}s "
      f"({d['records']} records, {d['pieces']} passages scored, fingerprint {d['fingerprint']})\n")
    for k in keys:
        ov, ci = systems[k]["overall"], systems[k]["intervals"]
        w(f"  {short[k]:<14} macro-F1 {_f(ov['macro_f1'])} [{_f(ci['macro_f1']['low'])}, "
          f"{_f(ci['macro_f1']['high'])}]  micro-F1 {_f(ov['micro_f1'])} [{_f(ci['micro_f1']['low'])}, "
          f"{_f(ci['micro_f1']['high'])}]  ECE {_f(systems[k]['calibration']['ece'])}\n")
    width = max(len(x) for x in result["labels"]) + 2
    w(f"\n  {'label':<{width}}{'support':>8}" + "".join(f"{'F1 ' + short[k]:>18}" for k in keys) + "\n")
    for lab in result["labels"]:
        w(f"  {lab:<{width}}{result['gold']['support'][lab]:>8}"
          + "".join(f"{_f(systems[k]['per_label'][lab]['f1']):>18}" for k in keys) + "\n")
    for c in result.get("comparisons", []):
        if c["metric"] != "macro_f1" or c.get("difference") is None:
            continue
        w(f"\n  {c['a_name']} - {c['b_name']}: macro-F1 difference {c['difference']:+.3f}, "
          f"paired bootstrap p = {c['p_value']:.3f}")
    if result.get("baseline_skipped"):
        w(f"\n  baseline skipped: {result['baseline_skipped']}")
    w("\n")
    for note in result.get("notes", []):
        w(f"  note: {note}\n")
    w("\nwrote " + ", ".join(str(p) for k, p in paths.items() if not k.startswith("figure_")) + "\n")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run ``framescope evaluate``."""
    if args.render is not None:
        from framescope.reports.evaluation import render_from_json

        paths = render_from_json(args.render, args.out)
        print("wrote " + ", ".join(str(p) for k, p in paths.items() if not k.startswith("figure_")))
        return 0
    from framescope.evaluation import EvalConfig, evaluate, write_outputs

    out = args.out if args.out is not None else Path("reports") / args.model.name
    cfg = EvalConfig(
        model=args.model, data=args.data, read_options=read_options(args, labels_required=True),
        split=args.split, level=args.level, aggregate=args.aggregate, compare=args.compare,
        baseline=None if args.baseline is None else list(args.baseline), baseline_train=args.baseline_train, baseline_dev=args.baseline_dev,
        labels_map=args.labels_map, n_boot=args.bootstrap, seed=args.seed,
        batch_size=args.batch_size, precision=args.precision, on_error=args.on_error,
        errors_path=args.errors if args.errors is not None else out / "errors.jsonl",
        top_errors=args.top_errors, command=list(getattr(args, "argv", None) or [Path(sys.argv[0]).name, *sys.argv[1:]]),
    )
    result = evaluate(cfg)
    paths = write_outputs(result, out, reports=not args.no_reports)
    print_summary(result, paths)
    return 0
