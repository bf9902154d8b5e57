"""Training defaults that carry: `framescope train --train X` with no flags vs the old fixed 2 epochs
vs a tuned flag set, on real data.

    python bench/train_defaults.py                          # BABE + SemEval frames, 3 seeds (a GPU helps)
    python bench/train_defaults.py --bundle DIR             # prepared data + backbone for another machine
    python bench/train_defaults.py --from-bundle DIR --jobs 18 --max-minutes 4
    python bench/train_defaults.py --render                 # only redraw the RESULTS.md section

Tasks (real text from ``../shared/data``, read-only, never copied into the repository):

- ``babe``: BABE sentences, Biased vs Non-biased (``--single-label`` describes the data, it is not
  a tuning flag). The seeded outlet+topic-grouped split of ``bench/active_learning.py``: 70%
  train, 10% dev, 20% test. Metric: macro-F1.
- ``semeval-frames``: SemEval-2023 Task 3 subtask 2 (English), 14 frames per article. Train on the
  official train articles (cut into passages that inherit their article's frames; dev carved by
  article, as ``framescope train`` does with no ``--dev``), test on the official dev articles
  (passage scores combined per article by max). Metric: micro-F1 (official).

Recipes, each trained with ``framescope.training.train`` (what ``framescope train`` runs):

- ``old-default``: ``--epochs 2``, the fixed default before epochs became automatic;
- ``default``: no flags at all (``--epochs`` auto: up to 10, early stopping on dev macro-F1);
- ``full-finetune``: ``--freeze-layers 0 --no-freeze-embeddings`` (the default freezes the
  embeddings and half the layers) with automatic epochs;
- ``tuned``: per task and seed, whichever of ``default`` and ``full-finetune`` has the better dev
  macro-F1 (a two-point search on dev; test is not looked at to choose).

Every run has the same time budget (``--max-minutes``), recorded with its stop reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import active_learning as al  # noqa: E402  (shared data preparation, bundle and machine facts)
from _common import write_section  # noqa: E402

RESULTS = ROOT / "bench" / "results"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
CACHE = ROOT / "bench" / ".cache" / "train-defaults"
BEGIN, END = "<!-- train-defaults:begin (written by bench/train_defaults.py) -->", "<!-- train-defaults:end -->"
TASKS: dict[str, dict[str, Any]] = {
    "babe": {"title": "BABE (single-label)", "metric": "macro_f1", "single_label": True, "taxonomy": "infer"},
    "semeval-frames": {"title": "SemEval-2023 subtask 2 frames (per article)", "metric": "micro_f1",
                       "single_label": False, "taxonomy": "policy-frames.yaml"},
}
RECIPES: dict[str, dict[str, Any]] = {
    "old-default": {"epochs": 2.0},
    "default": {},
    "full-finetune": {"freeze_layers": 0, "freeze_embeddings": False},
}
FLAGS = {"old-default": "--epochs 2", "default": "(none)",
         "full-finetune": "--freeze-layers 0 --no-freeze-embeddings"}


def prepare(task: str, out: Path) -> dict[str, int]:
    """``train.jsonl`` (+ ``dev.jsonl`` for BABE) and ``test.jsonl`` for ``task`` under ``out``."""
    from framescope.data import load_passages, load_taxonomy
    from framescope.data.io import write_records

    if task == "babe":
        sizes = al.prepare("babe", out)
        (out / "pool.jsonl").rename(out / "train.jsonl")
        return {"train": sizes["pool"], "dev": sizes["dev"], "test": sizes["test"]}
    folder = al.SHARED / "semeval2023-t3-frames"
    taxonomy = load_taxonomy(ROOT / "data" / "taxonomies" / TASKS[task]["taxonomy"])
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, src in (("train", "train-labels-subtask-2.txt"), ("test", "dev-labels-subtask-2.txt")):
        passages = load_passages([folder / src], taxonomy=taxonomy).passages
        write_records([p.to_dict(with_meta=False) for p in passages], out / f"{name}.jsonl")
        sizes[name] = len(passages)
    return sizes


def run_one(task: str, recipe: str, seed: int, data: Path, base: str, out: Path, max_minutes: float | None,
            max_length: int) -> None:
    from framescope.training import TrainConfig, train

    spec = TASKS[task]
    taxonomy = spec["taxonomy"] if spec["taxonomy"] == "infer" else str(ROOT / "data" / "taxonomies" / spec["taxonomy"])
    dev = [str(data / "dev.jsonl")] if (data / "dev.jsonl").exists() else []
    with tempfile.TemporaryDirectory(prefix=f"td-{task}-{recipe}-{seed}-") as work:
        cfg = TrainConfig(train=[str(data / "train.jsonl")], dev=dev, test=[str(data / "test.jsonl")],
                          taxonomy=taxonomy, base=base, out=str(Path(work) / "model"), seed=seed,
                          max_length=max_length, single_label=spec["single_label"], max_minutes=max_minutes,
                          **RECIPES[recipe])
        t0 = time.perf_counter()
        result = train(cfg, progress=False, echo=lambda _line: None)
    m, tr = result.metrics, result.meta["training"]
    row = {"task": task, "recipe": recipe, "seed": seed, "flags": FLAGS[recipe],
           "test_macro_f1": m["test"].get("macro_f1"), "test_micro_f1": m["test"].get("micro_f1"),
           "dev_macro_f1_at_0.5": m["dev"].get("macro_f1_at_0.5"), "dev_macro_f1": m["dev"].get("macro_f1"),
           "epochs_cap": tr["config"]["epochs"], "epochs_rule": tr.get("epochs_rule"),
           "epochs_run": tr["epochs_run"], "best_epoch": tr["best_epoch"], "stop_reason": tr.get("stop_reason"),
           "train_passages": tr["train_passages"], "device": tr["device"], "precision": tr["precision"],
           "seconds": round(time.perf_counter() - t0, 1)}
    al._append(out, row)


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± SD of the test metric per task and recipe, plus ``tuned`` chosen on dev per seed."""
    out: dict[str, Any] = {}
    for task in [t for t in TASKS if any(r["task"] == t for r in rows)]:
        metric = "test_" + TASKS[task]["metric"]
        by = {(r["recipe"], r["seed"]): r for r in rows if r["task"] == task}
        tuned = []
        for seed in sorted({s for _, s in by}):
            cands = [by[(rec, seed)] for rec in ("default", "full-finetune") if (rec, seed) in by]
            if len(cands) == 2:  # the better dev macro-F1 at 0.5 (the selection metric), ties: default
                best = max(cands, key=lambda r: (r["dev_macro_f1_at_0.5"] or 0.0, r["recipe"] == "default"))
                tuned.append(dict(best, recipe="tuned", chosen=best["recipe"]))
        table = {}
        for recipe in (*RECIPES, "tuned"):
            got = tuned if recipe == "tuned" else [r for r in by.values() if r["recipe"] == recipe]
            vals = [float(r[metric]) for r in got if r.get(metric) is not None]
            if not vals:
                continue
            table[recipe] = {"mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                             "seeds": len(vals), "epochs_run": [r["epochs_run"] for r in got],
                             "best_epoch": [r["best_epoch"] for r in got],
                             "minutes": round(statistics.fmean(r["seconds"] for r in got) / 60, 1),
                             "stops": sorted({(r.get("stop_reason") or "?").split(":")[0].split(" (")[0] for r in got}),
                             "flags": FLAGS.get(recipe, "best on dev of default / full-finetune"),
                             **({"chosen": [r["chosen"] for r in got]} if recipe == "tuned" else {})}
        out[task] = {"title": TASKS[task]["title"], "metric": TASKS[task]["metric"], "recipes": table}
    return out


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [BEGIN, "## Training defaults that carry (`python bench/train_defaults.py`)", "",
             f"Generated on {meta['date']} ({meta['minutes']} min). Machine: {meta['machine']}. Backbone: "
             f"{meta['backbone']}; max length {meta['max_length']}; time budget per run "
             f"{meta['max_minutes']} min (`--max-minutes`); seeds {meta['seeds']}. Data sizes: "
             + "; ".join(f"{t} {s}" for t, s in meta["sizes"].items()) + ". Every run is a row of "
             "`bench/results/train_defaults.jsonl`.", ""]
    lines += [f"- {n}" for n in meta.get("notes", [])]
    for block in summary.values():
        lines += ["", f"### {block['title']}: test {block['metric'].replace('_', '-')}", "",
                  "| recipe | flags | test (mean ± SD) | epochs run | best epoch | stop | min/run |",
                  "|---|---|---:|---|---|---|---:|"]
        for recipe, v in block["recipes"].items():
            flags = v["flags"] + (f" (dev chose: {', '.join(v['chosen'])})" if "chosen" in v else "")
            lines.append(f"| {recipe} | {flags} | {v['mean']:.3f} ± {v['sd']:.3f} ({v['seeds']}) | "
                         f"{v['epochs_run']} | {v['best_epoch']} | {', '.join(v['stops'])} | {v['minutes']} |")
    lines.append(END)
    return "\n".join(lines)


def write_results(rows: list[dict[str, Any]], meta: dict[str, Any], results: Path, results_md: Path | None) -> None:
    from framescope.data.io import atomic_write_text

    summary = summarise(rows)
    atomic_write_text(results / "train_defaults.json", json.dumps({"meta": meta, "summary": summary}, indent=1) + "\n")
    section = render(summary, meta)
    atomic_write_text(results / "train_defaults.md", section + "\n")
    write_section(results_md, BEGIN, END, section)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    p.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--max-minutes", type=float, default=None, help="time budget per run (train --max-minutes)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--base", default=None)
    p.add_argument("--bundle", type=Path, default=None)
    p.add_argument("--from-bundle", type=Path, default=None)
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--render", action="store_true")
    p.add_argument("--worker", nargs=3, metavar=("TASK", "RECIPE", "SEED"), help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.worker:
        from framescope.modeling import quiet_transformers

        quiet_transformers()
        task, recipe, seed = args.worker
        run_one(task, recipe, int(seed), args.data, args.base, args.out, args.max_minutes, args.max_length)
        return 0
    rows_path = args.results / "train_defaults.jsonl"
    meta_path = args.results / "train_defaults.meta.json"
    if args.render:
        write_results(al._read_jsonl(rows_path), json.loads(meta_path.read_text()), args.results, RESULTS_MD)
        return 0
    if args.bundle:
        for task in args.task:
            prepare(task, args.bundle / task)
        al.write_bundle(args.bundle, [], args.base)  # the float16 backbone
        print(f"bundle written to {args.bundle}")
        return 0
    if args.from_bundle:
        base, data_root = args.base or str(al.unpack_backbone(args.from_bundle)), args.from_bundle
        backbone = args.base or al.bundle_backbone_name(args.from_bundle)
    else:
        if not al.SHARED.exists():
            print("../shared/data not found: this benchmark needs the public datasets (skipped)")
            return 0
        from framescope.modeling import resolve_base

        base, data_root = args.base or str(resolve_base(None)), CACHE
        for task in args.task:
            if not (data_root / task / "test.jsonl").exists():
                prepare(task, data_root / task)
        backbone = al.backbone_name(args.base) + (" (embedded)" if args.base is None else "")
    args.results.mkdir(parents=True, exist_ok=True)
    rows_path.unlink(missing_ok=True)
    t0 = time.time()
    jobs = [(t, r, s) for s in range(1, args.seeds + 1) for t in args.task for r in args.recipes]
    logs = args.results / ".train_defaults_logs"
    logs.mkdir(exist_ok=True)
    running: list[tuple[subprocess.Popen[bytes], Any]] = []
    failed = 0
    threads = str(max(1, (os.cpu_count() or 1) // min(args.jobs, len(jobs))))
    for task, recipe, seed in jobs:
        while len(running) >= args.jobs:
            failed += al._reap(running)
        cmd = [sys.executable, __file__, "--worker", task, recipe, str(seed), "--data", str(data_root / task),
               "--out", str(rows_path), "--base", base, "--max-length", str(args.max_length)]
        if args.max_minutes:
            cmd += ["--max-minutes", str(args.max_minutes)]
        log = open(logs / f"{task}-{recipe}-{seed}.log", "wb")  # noqa: SIM115 (closed by _reap)
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    while running:
        failed += al._reap(running)
    import datetime as _dt

    meta = {"date": _dt.date.today().isoformat(), "minutes": round((time.time() - t0) / 60, 1),
            "machine": al.machine(), "backbone": backbone, "max_length": args.max_length,
            "max_minutes": args.max_minutes, "seeds": args.seeds, "failed_runs": failed, "notes": [],
            "sizes": {t: {n: len(al._read_jsonl(data_root / t / f"{n}.jsonl"))
                          for n in ("train", "dev", "test") if (data_root / t / f"{n}.jsonl").exists()}
                      for t in args.task}}
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    rows = al._read_jsonl(rows_path) if rows_path.exists() else []
    write_results(rows, meta, args.results, RESULTS_MD)
    print(f"{len(rows)} runs in {meta['minutes']} min; {failed} failed (logs in {logs})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
