"""BABE under the reference's protocol: K-fold cross-validation, beside the fixed split.

    python bench/babe_cv.py                    # 5 folds, default training (about 40 min on 2 cores)
    python bench/babe_cv.py --folds 5 --epochs 2 --base PATH   # other settings
    python bench/babe_cv.py --render           # only redraw the RESULTS.md section

Spinde et al. (Findings of EMNLP 2021) report macro-F1 0.804 from 5-fold cross-validation on the
whole corpus. Here the folds come from ``framescope data split`` with K equal shares: seeded,
label-stratified, and grouped so that one outlet+topic pair never straddles folds (stricter
than an ungrouped split: a test sentence never shares its outlet and topic with a training
sentence). For each fold, ``framescope train`` learns on the other K-1 folds (its dev set carved
from them by outlet+topic, no flags beyond ``--single-label``) and ``framescope evaluate`` scores
the held-out fold. Every command is run as a subprocess through ``bench/quality.py``'s step
runner (wall time and peak memory recorded). Real text stays in ``bench/.cache`` (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import quality  # noqa: E402  (step runner, machine facts, metrics reader)
from _common import write_section  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / "bench" / ".cache" / "babe-cv"
BEGIN, END = "<!-- babe-cv:begin (written by bench/babe_cv.py) -->", "<!-- babe-cv:end -->"


def run(args: argparse.Namespace) -> dict[str, Any]:
    src = quality.SHARED / "babe" / "final_labels_SG2.csv"
    names = [f"fold-{k}" for k in range(1, args.folds + 1)]
    logs = CACHE / "logs"
    steps = [quality.run_step("split", [*quality.framescope_exe(), "data", "split", str(src), "--out",
                                        str(CACHE / "folds"), "--ratios", ",".join(["1"] * args.folds),
                                        "--names", ",".join(names), "--group-by", "outlet+topic",
                                        "--seed", str(args.seed)], logs)]
    folds = []
    for k, name in enumerate(names, 1):
        train = [str(CACHE / "folds" / f"{n}.jsonl") for n in names if n != name]
        model, report = CACHE / "models" / name, CACHE / "reports" / name
        cmd = [*quality.framescope_exe(), "train", "--train", *train, "--taxonomy", "infer", "--single-label",
               "--group-by", "outlet+topic", "--out", str(model), "--seed", str(args.seed), "-q"]
        if args.epochs:
            cmd += ["--epochs", f"{args.epochs:g}"]
        if args.base:
            cmd += ["--base", args.base]
        train_step = quality.run_step(f"train-{name}", cmd, logs)
        eval_step = quality.run_step(f"evaluate-{name}", [
            *quality.framescope_exe(), "evaluate", "--model", str(model), "--data",
            str(CACHE / "folds" / f"{name}.jsonl"), "--out", str(report), "--baseline", "tfidf",
            "--bootstrap", "200", "--no-reports"], logs)
        steps += [train_step, eval_step]
        metrics = quality._read_metrics(report)
        meta = json.loads((model / "framescope.json").read_text(encoding="utf-8"))
        tr = meta["training"]
        folds.append({"fold": k, "test_sentences": metrics["units"],
                      "macro_f1": metrics["model"]["macro_f1"], "macro_f1_ci": metrics["model"]["macro_f1_ci"],
                      "tfidf_macro_f1": (metrics.get("baseline") or {}).get("macro_f1"),
                      "epochs_cap": tr["config"]["epochs"], "epochs_rule": tr.get("epochs_rule"),
                      "epochs_run": tr["epochs_run"], "best_epoch": tr["best_epoch"],
                      "stop_reason": tr.get("stop_reason"), "train_passages": tr["train_passages"],
                      "train_seconds": round(train_step.seconds, 1), "peak_rss_mb": round(train_step.peak_rss_mb)})
        print(json.dumps(folds[-1]), flush=True)
        _save(args, folds, steps)
    return _save(args, folds, steps)


def _save(args: argparse.Namespace, folds: list[dict[str, Any]], steps: list[Any]) -> dict[str, Any]:
    def stat(key: str) -> dict[str, float] | None:
        vals = [float(f[key]) for f in folds if f.get(key) is not None]
        return {"mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                "n": len(vals)} if vals else None

    result = {"date": _dt.date.today().isoformat(), "machine": quality.machine_facts(),
              "commit": quality.git_commit(), "folds": args.folds, "seed": args.seed,
              "epochs": args.epochs, "base": args.base or "all-MiniLM-L6-v2 (embedded)",
              "per_fold": folds, "macro_f1": stat("macro_f1"), "tfidf_macro_f1": stat("tfidf_macro_f1"),
              "commands": [quality.display(s.command) for s in steps],
              "minutes": round(sum(s.seconds for s in steps) / 60, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    from framescope.data.io import atomic_write_text

    atomic_write_text(RESULTS / "babe_cv.json", json.dumps(result, indent=1) + "\n")
    return result


def render(r: dict[str, Any]) -> str:
    m, b = r["macro_f1"], r["tfidf_macro_f1"]
    mach = r["machine"]
    lines = [BEGIN, "## BABE: 5-fold cross-validation, the reference's protocol (`python bench/babe_cv.py`)", "",
             f"Generated on {r['date']} at {r['commit']} ({r['minutes']} min). Machine: {mach.get('cpu')}, "
             f"{mach.get('cores')} cores, torch {mach.get('torch')}. Backbone {r['base']}; "
             + (f"`--epochs {r['epochs']:g}`" if r["epochs"] else "default training (no flags but `--single-label`)")
             + f"; folds grouped by outlet+topic, label-stratified, seed {r['seed']}.", "",
             f"- framescope macro-F1 over {m['n']} folds: **{m['mean']:.3f} ± {m['sd']:.3f}** "
             f"(published reference 0.804: 5-fold CV on the whole corpus, a BERT-family model with distant-supervision "
             f"pre-training; our folds are grouped by outlet+topic, which is stricter). Folds range from "
             f"{min(f['macro_f1'] for f in r['per_fold']):.3f} to {max(f['macro_f1'] for f in r['per_fold']):.3f}."]
    if b:
        lines.append(f"- TF-IDF + logistic regression on the same folds: {b['mean']:.3f} ± {b['sd']:.3f}.")
    lines += ["", "| fold | test sentences | macro-F1 [95% CI] | TF-IDF | epochs run (best) | stop | train min |",
              "|---:|---:|---|---:|---|---|---:|"]
    for f in r["per_fold"]:
        low, high = f.get("macro_f1_ci") or [None, None]
        ci = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
        tfp = f["tfidf_macro_f1"]
        lines.append(f"| {f['fold']} | {f['test_sentences']} | {f['macro_f1']:.3f}{ci} | "
                     f"{'' if tfp is None else f'{tfp:.3f}'} | {f['epochs_run']} ({f['best_epoch']}) | "
                     f"{(f['stop_reason'] or '').split(':')[0]} | {f['train_seconds'] / 60:.1f} |")
    lines += ["", "Commands:", "", "```", *r["commands"], "```", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--epochs", type=float, default=None, help="default: framescope train's own (auto)")
    p.add_argument("--base", default=None)
    p.add_argument("--render", action="store_true")
    args = p.parse_args(argv)
    if args.render:
        r = json.loads((RESULTS / "babe_cv.json").read_text(encoding="utf-8"))
    else:
        if not (quality.SHARED / "babe").exists():
            print("../shared/data/babe not found: this benchmark needs the public dataset (skipped)")
            return 0
        t0 = time.time()
        r = run(args)
        print(f"{args.folds} folds in {(time.time() - t0) / 60:.1f} min")
    write_section(ROOT / "bench" / "RESULTS.md", BEGIN, END, render(r))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
